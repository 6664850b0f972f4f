"""Scaling: constant and learning-rate scaling, RMS, sum of squares, AdaDelta, AMSGrad max,
Adamax infinity norm, and the element-wise square root used to build Adam's denominator."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

ScaleState = _core.CountState


def scale(factor: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Multiply updates by a constant or scheduled factor: :math:`u \mapsto c_t u`.

    Args:
      factor: :math:`c_t`, any finite number (negative flips the direction), or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``CountState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale(-2.0)
      >>> tx.update(jnp.array([1.0, 3.0]), tx.init(jnp.zeros(2)))[0]
      Array([-2., -6.], dtype=float32)
    """
    _core.check_hyperparameter("factor", factor)

    def init_fn(params):
        del params
        return ScaleState(_core.zero_count())

    def update_fn(updates, state, params=None):
        del params
        c = _core.resolve(factor, state.count)
        updates = _core.map_floats(lambda u: _core.scale_leaf(u, c), updates)
        return updates, ScaleState(_core.next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(learning_rate: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Descent step: :math:`u \mapsto -\alpha_t u`.

    Args:
      learning_rate: :math:`\alpha_t \ge 0`, or a schedule (the first update sees step 0).

    Returns:
      An ``optax.GradientTransformation`` with state ``CountState``.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.scale_by_learning_rate(optax.linear_schedule(0.1, 0.3, 2))
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.ones(1), state)
      >>> u, state = tx.update(jnp.ones(1), state)
      >>> u
      Array([-0.2], dtype=float32)
    """
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0)
    return scale(_core.negate(learning_rate))


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`: the EMA of squared updates."""

    count: jax.Array
    nu: Any


def _inverse_root(nu: jax.Array, eps: Any, eps_in_sqrt: bool) -> jax.Array:
    """``1 / sqrt(nu + eps)`` or ``1 / (sqrt(nu) + eps)``, in ``nu``'s compute dtype."""
    nu = nu.astype(_core.compute_dtype(nu.dtype))
    e = _core.as_scalar(eps, nu.dtype)
    if eps_in_sqrt:
        return jax.lax.rsqrt(nu + e)
    return 1 / (jnp.sqrt(nu) + e)


def _update_second_moment(g: jax.Array, nu: jax.Array, decay: Any) -> jax.Array:
    dt = _core.compute_dtype(nu.dtype)
    d = _core.as_scalar(decay, dt)
    x = g.astype(dt)
    return ((1 - d) * (x * x) + d * nu.astype(dt)).astype(nu.dtype)


def _scaled(g: jax.Array, factor: jax.Array) -> jax.Array:
    """``factor * g`` in ``factor``'s dtype, returned in ``g``'s."""
    return (factor * g.astype(factor.dtype)).astype(g.dtype)


def scale_by_rms(
    decay: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    initial_scale: float = 0.0,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""RMSprop scaling: :math:`\nu_t = \rho \nu_{t-1} + (1-\rho) g_t^2`, output :math:`g_t / \sqrt{\nu_t + \epsilon}`.

    With ``eps_in_sqrt=False`` the output is :math:`g_t / (\sqrt{\nu_t} + \epsilon)`,
    torch.optim.RMSprop's convention (optax and TF put epsilon inside the root).

    Args:
      decay: :math:`\rho` in [0, 1], or a schedule.
      eps: :math:`\epsilon > 0`, or a schedule.
      eps_in_sqrt: where epsilon goes.
      initial_scale: initial value of :math:`\nu` (torch 0, TF1 1).
      accumulator_dtype: dtype of :math:`\nu` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByRmsState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_rms(decay=0.75, eps=0.0)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / sqrt(0.25 * 2**2)
      Array([2.], dtype=float32)

    References:
      Tieleman & Hinton, *Lecture 6.5 - RMSProp*, COURSERA: Neural Networks for
      Machine Learning, 2012.
    """
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0)
    _core.check_hyperparameter("eps", eps, low=0.0)
    _core.check_hyperparameter("initial_scale", initial_scale, low=0.0, allow_schedule=False)

    def init_fn(params):
        nu = optax.tree.full_like(params, initial_scale, dtype=accumulator_dtype)
        return ScaleByRmsState(_core.zero_count(), nu)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu, "RMS accumulator")
        rho = _core.resolve(decay, state.count)
        e = _core.resolve(eps, state.count)
        nu = _core.map_floats(
            lambda g, n: _update_second_moment(g, n, rho), updates, state.nu, keep=1
        )
        updates = _core.map_floats(
            lambda g, n: _scaled(g, _inverse_root(n, e, eps_in_sqrt)), updates, nu
        )
        return updates, ScaleByRmsState(_core.next_count(state.count), nu)

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByStddevState(NamedTuple):
    """State of :func:`scale_by_stddev`: EMAs of updates and of their squares."""

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_stddev(
    decay: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    initial_scale: float = 0.0,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Centered RMSprop: output :math:`g_t / \sqrt{\nu_t - \mu_t^2 + \epsilon}`.

    :math:`\mu_t` and :math:`\nu_t` are EMAs (decay :math:`\rho`) of :math:`g` and
    :math:`g^2`. ``eps_in_sqrt=False`` gives :math:`g_t / (\sqrt{\nu_t - \mu_t^2} + \epsilon)`
    (torch.optim.RMSprop with ``centered=True``).

    Args:
      decay: :math:`\rho` in [0, 1], or a schedule.
      eps: :math:`\epsilon > 0`, or a schedule.
      eps_in_sqrt: where epsilon goes.
      initial_scale: initial value of :math:`\nu`.
      accumulator_dtype: dtype of :math:`\mu, \nu` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByStddevState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_stddev(decay=0.5, eps=0.0)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([2.], dtype=float32)

    References:
      Graves, *Generating Sequences With Recurrent Neural Networks*, 2013, eq. 38-45.
    """
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0)
    _core.check_hyperparameter("eps", eps, low=0.0)
    _core.check_hyperparameter("initial_scale", initial_scale, low=0.0, allow_schedule=False)

    def init_fn(params):
        mu = _core.tree_zeros(params, accumulator_dtype)
        nu = optax.tree.full_like(params, initial_scale, dtype=accumulator_dtype)
        return ScaleByStddevState(_core.zero_count(), mu, nu)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu, "RMS accumulator")
        rho = _core.resolve(decay, state.count)
        e = _core.resolve(eps, state.count)

        def first(g, m):
            dt = _core.compute_dtype(m.dtype)
            d = _core.as_scalar(rho, dt)
            return ((1 - d) * g.astype(dt) + d * m.astype(dt)).astype(m.dtype)

        mu = _core.map_floats(first, updates, state.mu, keep=1)
        nu = _core.map_floats(
            lambda g, n: _update_second_moment(g, n, rho), updates, state.nu, keep=1
        )

        def centered(g, m, n):
            dt = _core.compute_dtype(n.dtype)
            m, n = m.astype(dt), n.astype(dt)
            return _scaled(g, _inverse_root(n - m * m, e, eps_in_sqrt))

        updates = _core.map_floats(centered, updates, mu, nu)
        return updates, ScaleByStddevState(_core.next_count(state.count), mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleBySumOfSquaresState(NamedTuple):
    """State of :func:`scale_by_sum_of_squares`."""

    count: jax.Array
    sum_of_squares: Any


def scale_by_sum_of_squares(
    initial_accumulator_value: float = 0.1,
    eps: _core.ScalarOrSchedule = 1e-7,
    *,
    eps_in_sqrt: bool = True,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""AdaGrad scaling: :math:`s_t = s_{t-1} + g_t^2`, output :math:`g_t / \sqrt{s_t + \epsilon}`.

    Where :math:`s_t = 0` the output is 0 (optax's convention). ``eps_in_sqrt=False``
    gives :math:`g_t / (\sqrt{s_t} + \epsilon)`, torch.optim.Adagrad's convention
    (torch defaults: ``initial_accumulator_value=0``, ``eps=1e-10``).

    Args:
      initial_accumulator_value: :math:`s_0 \ge 0`.
      eps: :math:`\epsilon \ge 0`, or a schedule.
      eps_in_sqrt: where epsilon goes.
      accumulator_dtype: dtype of :math:`s` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleBySumOfSquaresState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_sum_of_squares(initial_accumulator_value=0.0, eps=0.0)
      >>> tx.update(jnp.array([-3.0]), tx.init(jnp.zeros(1)))[0]
      Array([-1.], dtype=float32)

    References:
      Duchi et al., *Adaptive Subgradient Methods for Online Learning and Stochastic
      Optimization*, JMLR 2011.
    """
    _core.check_hyperparameter(
        "initial_accumulator_value", initial_accumulator_value, low=0.0, allow_schedule=False
    )
    _core.check_hyperparameter("eps", eps, low=0.0)

    def init_fn(params):
        s = optax.tree.full_like(params, initial_accumulator_value, dtype=accumulator_dtype)
        return ScaleBySumOfSquaresState(_core.zero_count(), s)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.sum_of_squares, "sum of squares")
        e = _core.resolve(eps, state.count)

        def accumulate(g, s):
            dt = _core.compute_dtype(s.dtype)
            x = g.astype(dt)
            return (x * x + s.astype(dt)).astype(s.dtype)

        def output(g, s):
            dt = _core.compute_dtype(s.dtype)
            s, x, ee = s.astype(dt), g.astype(dt), _core.as_scalar(e, dt)
            if eps_in_sqrt:
                inv = jnp.where(s > 0, jax.lax.rsqrt(s + ee), 0.0)
                return (inv * x).astype(g.dtype)
            return (x / (jnp.sqrt(s) + ee)).astype(g.dtype)

        sums = _core.map_floats(accumulate, updates, state.sum_of_squares, keep=1)
        updates = _core.map_floats(output, updates, sums)
        return updates, ScaleBySumOfSquaresState(_core.next_count(state.count), sums)

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByAdadeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`: EMAs of squared gradients and squared steps."""

    count: jax.Array
    e_g: Any
    e_x: Any


def scale_by_adadelta(
    rho: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-6,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""AdaDelta: :math:`\Delta_t = g_t \sqrt{E[\Delta^2]_{t-1} + \epsilon} / \sqrt{E[g^2]_t + \epsilon}`.

    :math:`E[g^2]` and :math:`E[\Delta^2]` are EMAs with decay :math:`\rho`; the second
    is updated with the step just taken. Same rule in optax and torch.optim.Adadelta
    (torch's ``lr`` is the learning rate chained after this, default 1).

    Args:
      rho: :math:`\rho` in [0, 1], or a schedule.
      eps: :math:`\epsilon > 0`, or a schedule.
      accumulator_dtype: dtype of both EMAs (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByAdadeltaState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_adadelta(rho=0.0, eps=1.0)
      >>> tx.update(jnp.array([0.0]), tx.init(jnp.zeros(1)))[0]
      Array([0.], dtype=float32)

    References:
      Zeiler, *ADADELTA: An Adaptive Learning Rate Method*, 2012.
    """
    _core.check_hyperparameter("rho", rho, low=0.0, high=1.0)
    _core.check_hyperparameter("eps", eps, low=0.0)

    def init_fn(params):
        def zeros():  # two separate buffers (state may be donated)
            return _core.tree_zeros(params, accumulator_dtype)

        return ScaleByAdadeltaState(_core.zero_count(), zeros(), zeros())

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.e_g, "AdaDelta accumulator")
        r = _core.resolve(rho, state.count)
        e = _core.resolve(eps, state.count)
        e_g = _core.map_floats(
            lambda g, a: _update_second_moment(g, a, r), updates, state.e_g, keep=1
        )

        def step(g, a, x):
            dt = _core.compute_dtype(a.dtype)
            ee = _core.as_scalar(e, dt)
            return jnp.sqrt(x.astype(dt) + ee) / jnp.sqrt(a.astype(dt) + ee) * g.astype(dt)

        deltas = _core.map_floats(step, updates, e_g, state.e_x)
        e_x = _core.map_floats(
            lambda g, d, x: _update_second_moment(d, x, r), updates, deltas, state.e_x, keep=2
        )
        updates = _core.cast_tree(deltas, updates)
        return updates, ScaleByAdadeltaState(_core.next_count(state.count), e_g, e_x)

    return optax.GradientTransformation(init_fn, update_fn)


class RunningMaxState(NamedTuple):
    """State of :func:`running_max`."""

    maximum: Any


def running_max(*, accumulator_dtype: Any = None) -> optax.GradientTransformation:
    r"""Element-wise running maximum: :math:`\hat v_t = \max(\hat v_{t-1}, u_t)`, output :math:`\hat v_t`.

    AMSGrad's ingredient. Its position in a chain picks the convention: after
    ``bias_correction`` it takes the maximum of the debiased second moment (optax),
    before it the maximum of the raw moment (torch.optim.Adam with ``amsgrad=True``).

    Args:
      accumulator_dtype: dtype of the maximum (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`RunningMaxState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.running_max()
      >>> state = tx.init(jnp.zeros(2))
      >>> _, state = tx.update(jnp.array([3.0, 1.0]), state)
      >>> tx.update(jnp.array([2.0, 2.0]), state)[0]
      Array([3., 2.], dtype=float32)

    References:
      Reddi et al., *On the Convergence of Adam and Beyond*, ICLR 2018.
    """

    def init_fn(params):
        return RunningMaxState(_core.tree_zeros(params, accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.maximum, "running maximum")
        maxima = _core.map_floats(
            lambda u, m: jnp.maximum(m, u.astype(m.dtype)), updates, state.maximum, keep=1
        )
        return _core.cast_tree(maxima, updates), RunningMaxState(maxima)

    return optax.GradientTransformation(init_fn, update_fn)


class InfinityNormState(NamedTuple):
    """State of :func:`infinity_norm`."""

    count: jax.Array
    nu: Any


def infinity_norm(
    decay: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Adamax's exponentially weighted infinity norm: :math:`u_t = \max(\beta u_{t-1}, |g_t| + \epsilon)`.

    The output is :math:`u_t` itself (it needs no bias correction); Adamax divides the
    debiased first moment by it.

    Args:
      decay: :math:`\beta` in [0, 1], or a schedule.
      eps: :math:`\epsilon \ge 0`, or a schedule.
      accumulator_dtype: dtype of :math:`u` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`InfinityNormState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.infinity_norm(0.5, eps=0.0)
      >>> state = tx.init(jnp.zeros(1))
      >>> _, state = tx.update(jnp.array([-4.0]), state)
      >>> tx.update(jnp.array([1.0]), state)[0]
      Array([2.], dtype=float32)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015, section 7.1.
    """
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0)
    _core.check_hyperparameter("eps", eps, low=0.0)

    def init_fn(params):
        return InfinityNormState(_core.zero_count(), _core.tree_zeros(params, accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu, "infinity norm")
        b = _core.resolve(decay, state.count)
        e = _core.resolve(eps, state.count)

        def step(g, n):
            dt = _core.compute_dtype(n.dtype)
            out = jnp.maximum(
                _core.as_scalar(b, dt) * n.astype(dt),
                jnp.abs(g.astype(dt)) + _core.as_scalar(e, dt),
            )
            return out.astype(n.dtype)

        nu = _core.map_floats(step, updates, state.nu, keep=1)
        return _core.cast_tree(nu, updates), InfinityNormState(_core.next_count(state.count), nu)

    return optax.GradientTransformation(init_fn, update_fn)


SqrtState = _core.CountState


def sqrt(eps_root: _core.ScalarOrSchedule = 0.0) -> optax.GradientTransformation:
    r"""Element-wise root: :math:`u \mapsto \sqrt{u + \bar\epsilon}`.

    Turns a (debiased) second moment into an RMS in Adam's denominator;
    ``eps_root`` is epsilon *inside* the root (outside goes to :func:`divide`).

    Args:
      eps_root: :math:`\bar\epsilon \ge 0`, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``CountState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.sqrt()
      >>> tx.update(jnp.array([4.0, 9.0]), tx.init(jnp.zeros(2)))[0]
      Array([2., 3.], dtype=float32)
    """
    _core.check_hyperparameter("eps_root", eps_root, low=0.0)

    def init_fn(params):
        del params
        return SqrtState(_core.zero_count())

    def update_fn(updates, state, params=None):
        del params
        e = _core.resolve(eps_root, state.count)

        def root(u):
            dt = _core.compute_dtype(u.dtype)
            return jnp.sqrt(u.astype(dt) + _core.as_scalar(e, dt)).astype(u.dtype)

        updates = _core.map_floats(root, updates)
        return updates, SqrtState(_core.next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)
