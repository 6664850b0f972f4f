"""Scaling: constant, scheduled and learning-rate scaling, RMS, sum of squares, AdaDelta,
AMSGrad max, Adamax infinity norm, and the element-wise square root used to build Adam's
denominator.

Complex updates follow optax's convention: second moments accumulate :math:`|g|^2` (real
values, stored in the parameter's complex dtype) and the scaling factors are real.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

ScaleState = optax.EmptyState


@_core.shares_count()
class ScaleByScheduleState(NamedTuple):
    """State of :func:`scale_by_schedule` (optax's fields): the step counter."""

    count: jax.Array


def _real(x: jax.Array) -> jax.Array:
    """The real part of a complex array whose values are real (a second moment); ``x`` else."""
    return jnp.real(x) if jnp.iscomplexobj(x) else x


def _full(params: Any, value: Any, dtype: Any) -> Any:
    """``value`` shaped like each leaf, in the leaf's accumulator dtype (complex for complex)."""
    return jax.tree.map(
        lambda p: jnp.full_like(_core.as_leaf(p), value, _core.accumulator_dtype_for(p, dtype)),
        params,
    )


def _scaled(g: jax.Array, factor: jax.Array) -> jax.Array:
    """``factor * g`` for a real ``factor``, in ``factor``'s precision, returned in ``g``'s dtype."""
    dt = _core.accumulator_dtype_for(g, factor.dtype)
    return (g.astype(dt) * factor.astype(dt)).astype(g.dtype)


def scale(step_size: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Multiply updates by a constant: :math:`u \mapsto c\, u` (optax's ``scale``).

    The product is computed in at least float32 and returned in each update's dtype. A
    schedule (an optchain extension; optax's ``scale`` takes a number) is handed to
    :func:`scale_by_schedule`, whose state counts the steps.

    Args:
      step_size: :math:`c`, any finite number (negative flips the direction), or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with the empty state ``optax.EmptyState`` (a
      schedule: :class:`ScaleByScheduleState`).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale(-2.0)
      >>> tx.update(jnp.array([1.0, 3.0]), tx.init(jnp.zeros(2)))[0]
      Array([-2., -6.], dtype=float32)
    """
    _core.check_hyperparameter("step_size", step_size)
    if callable(step_size):
        return scale_by_schedule(step_size)

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return _core.map_floats(lambda u: _core.scale_leaf(u, step_size), updates), state

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_schedule(step_size_fn: _core.Schedule) -> optax.GradientTransformation:
    r"""Multiply updates by a scheduled factor: :math:`u \mapsto c_t\, u`, :math:`c_t` =
    ``step_size_fn(t)`` (the first update sees :math:`t = 0`).

    Args:
      step_size_fn: a schedule ``step -> value``.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByScheduleState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_schedule(lambda t: 1.0 + t)
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.ones(1), state)
      >>> tx.update(jnp.ones(1), state)[0]
      Array([2.], dtype=float32)
    """
    if not callable(step_size_fn):
        raise ValueError(
            f"step_size_fn must be a schedule step -> value (a number goes to scale); "
            f"got {step_size_fn!r}"
        )

    def init_fn(params):
        del params
        return ScaleByScheduleState(_core.zero_count())

    def update_fn(updates, state, params=None):
        del params
        c = _core.resolve(step_size_fn, state.count)
        updates = _core.map_floats(lambda u: _core.scale_leaf(u, c), updates)
        return updates, ScaleByScheduleState(_core.next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(
    learning_rate: _core.ScalarOrSchedule | None = None, *, flip_sign: bool = True
) -> optax.GradientTransformation:
    r"""Descent step: :math:`u \mapsto -\alpha_t u` (:math:`+\alpha_t u` with ``flip_sign=False``).

    Args:
      learning_rate: :math:`\alpha_t \ge 0`, or a schedule (the first update sees step 0);
        ``None``: no scaling (as ``optax.identity()``; integer leaves get zero updates).
      flip_sign: multiply by :math:`-\alpha_t` (descent) rather than :math:`\alpha_t`.

    Returns:
      An ``optax.GradientTransformation``: :func:`scale` (state ``optax.EmptyState``) for a
      number, :func:`scale_by_schedule` (state :class:`ScaleByScheduleState`) for a schedule.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.scale_by_learning_rate(optax.linear_schedule(0.1, 0.3, 2))
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.ones(1), state)
      >>> u, state = tx.update(jnp.ones(1), state)
      >>> u
      Array([-0.2], dtype=float32)
    """
    if learning_rate is None:
        return scale(1.0)
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0)
    return scale(_core.negate(learning_rate) if flip_sign else learning_rate)


@_core.shares_count()
class ScaleByRmsWithCountState(NamedTuple):
    """State of :func:`scale_by_rms` (optax's class of this name): the step counter (for
    schedules and the bias correction) and the EMA of :math:`|g|^2`."""

    count: jax.Array
    nu: Any


def _inverse_root(nu: jax.Array, eps: Any, eps_in_sqrt: bool) -> jax.Array:
    """``1 / sqrt(nu + eps)`` or ``1 / (sqrt(nu) + eps)`` for a real-valued ``nu``, real, in at
    least float32."""
    nu = _real(nu.astype(_core.compute_dtype(nu.dtype)))
    e = _core.as_scalar(eps, nu.dtype)
    if eps_in_sqrt:
        return jax.lax.rsqrt(nu + e)
    return 1 / (jnp.sqrt(nu) + e)


def _update_second_moment(g: jax.Array, nu: jax.Array, decay: Any) -> jax.Array:
    """:math:`(1-\\rho)|g|^2 + \\rho\\nu`, computed in at least float32, stored in ``nu``'s dtype."""
    dt = _core.compute_dtype(nu.dtype)
    d = _core.as_scalar(decay, dt)
    x = _core.abs_sq(g.astype(_core.compute_dtype(g.dtype))).astype(dt)
    return ((1 - d) * x + d * nu.astype(dt)).astype(nu.dtype)


def _debiased(moment: jax.Array, correction: jax.Array | None) -> jax.Array:
    """``moment / correction`` in at least float32 (``moment`` itself when ``correction`` is None)."""
    m = moment.astype(_core.compute_dtype(moment.dtype))
    if correction is None:
        return m
    return m / correction.astype(m.dtype)


def _check_bias_correction(decay: Any, bias_correction: bool) -> None:
    if bias_correction and callable(decay):
        raise ValueError(
            "bias_correction=True needs a constant decay (the correction 1 - decay**t assumes "
            "one); for a scheduled decay chain second_moment(decay) and bias_correction(decay)"
        )


def scale_by_rms(
    decay: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""RMSprop scaling: :math:`\nu_t = \rho \nu_{t-1} + (1-\rho) |g_t|^2`, output :math:`g_t / \sqrt{\hat\nu_t + \epsilon}`.

    :math:`\hat\nu_t = \nu_t` (or :math:`\nu_t / (1 - \rho^t)` with ``bias_correction``).
    With ``eps_in_sqrt=False`` the output is :math:`g_t / (\sqrt{\hat\nu_t} + \epsilon)`,
    torch.optim.RMSprop's convention (optax and TF put epsilon inside the root). optax's
    signature and values; the state always holds the counter (optax's
    ``ScaleByRmsWithCountState``, which optax uses only with ``bias_correction``), so
    ``decay`` and ``eps`` may be schedules.

    Args:
      decay: :math:`\rho` in [0, 1], or a schedule (a constant with ``bias_correction``).
      eps: :math:`\epsilon \ge 0`, or a schedule.
      initial_scale: initial value of :math:`\nu` (torch 0, TF1 1).
      eps_in_sqrt: where epsilon goes.
      bias_correction: divide :math:`\nu_t` by :math:`1 - \rho^t`.
      accumulator_dtype: dtype of :math:`\nu` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByRmsWithCountState`.

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
    _check_bias_correction(decay, bias_correction)

    def init_fn(params):
        nu = _full(params, initial_scale, accumulator_dtype)
        return ScaleByRmsWithCountState(_core.zero_count(), nu)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu, "RMS accumulator")
        rho = _core.resolve(decay, state.count)
        e = _core.resolve(eps, state.count)
        count = _core.next_count(state.count)
        correction = _core.bias_correction_factor(rho, count) if bias_correction else None
        nu = _core.map_floats(
            lambda g, n: _update_second_moment(g, n, rho), updates, state.nu, keep=1
        )

        def output(g, n):
            return _scaled(g, _inverse_root(_debiased(n, correction), e, eps_in_sqrt))

        updates = _core.map_floats(output, updates, nu)
        return updates, ScaleByRmsWithCountState(count, nu)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class ScaleByRStdDevWithCountState(NamedTuple):
    """State of :func:`scale_by_stddev` (optax's class of this name): the step counter and the
    EMAs of :math:`g` and of :math:`|g|^2`."""

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_stddev(
    decay: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Centered RMSprop: output :math:`g_t / \sqrt{\hat\nu_t - |\hat\mu_t|^2 + \epsilon}`.

    :math:`\mu_t` and :math:`\nu_t` are EMAs (decay :math:`\rho`) of :math:`g` and
    :math:`|g|^2`, debiased by :math:`1 - \rho^t` with ``bias_correction``.
    ``eps_in_sqrt=False`` gives :math:`g_t / (\sqrt{\hat\nu_t - |\hat\mu_t|^2} + \epsilon)`
    (torch.optim.RMSprop with ``centered=True``). optax's signature and values; the state
    always holds the counter (optax's ``ScaleByRStdDevWithCountState``).

    Args:
      decay: :math:`\rho` in [0, 1], or a schedule (a constant with ``bias_correction``).
      eps: :math:`\epsilon \ge 0`, or a schedule.
      initial_scale: initial value of :math:`\nu`.
      eps_in_sqrt: where epsilon goes.
      bias_correction: debias both moments.
      accumulator_dtype: dtype of :math:`\mu, \nu` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByRStdDevWithCountState`.

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
    _check_bias_correction(decay, bias_correction)

    def init_fn(params):
        mu = _core.tree_zeros(params, accumulator_dtype)
        nu = _full(params, initial_scale, accumulator_dtype)
        return ScaleByRStdDevWithCountState(_core.zero_count(), mu, nu)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu, "RMS accumulator")
        rho = _core.resolve(decay, state.count)
        e = _core.resolve(eps, state.count)
        count = _core.next_count(state.count)
        correction = _core.bias_correction_factor(rho, count) if bias_correction else None

        def first(g, m):
            dt = _core.compute_dtype(m.dtype)
            d = _core.as_scalar(rho, dt)
            return ((1 - d) * g.astype(dt) + d * m.astype(dt)).astype(m.dtype)

        mu = _core.map_floats(first, updates, state.mu, keep=1)
        nu = _core.map_floats(
            lambda g, n: _update_second_moment(g, n, rho), updates, state.nu, keep=1
        )

        def centered(g, m, n):
            n = _real(_debiased(n, correction))
            spread = _core.abs_sq(_debiased(m, correction)).astype(n.dtype)
            return _scaled(g, _inverse_root(n - spread, e, eps_in_sqrt))

        updates = _core.map_floats(centered, updates, mu, nu)
        return updates, ScaleByRStdDevWithCountState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
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
    r"""AdaGrad scaling: :math:`s_t = s_{t-1} + |g_t|^2`, output :math:`g_t / \sqrt{s_t + \epsilon}`.

    Where :math:`s_t = 0` the output is 0 (optax's ``scale_by_rss``, whose values these are).
    ``eps_in_sqrt=False`` gives :math:`g_t / (\sqrt{s_t} + \epsilon)`, torch.optim.Adagrad's
    convention (torch defaults: ``initial_accumulator_value=0``, ``eps=1e-10``).

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
        s = _full(params, initial_accumulator_value, accumulator_dtype)
        return ScaleBySumOfSquaresState(_core.zero_count(), s)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.sum_of_squares, "sum of squares")
        e = _core.resolve(eps, state.count)

        def accumulate(g, s):
            dt = _core.compute_dtype(s.dtype)
            x = _core.abs_sq(g.astype(_core.compute_dtype(g.dtype))).astype(dt)
            return (x + s.astype(dt)).astype(s.dtype)

        def output(g, s):
            s = _real(s.astype(_core.compute_dtype(s.dtype)))
            ee = _core.as_scalar(e, s.dtype)
            if eps_in_sqrt:
                inv = jnp.where(s > 0, jax.lax.rsqrt(s + ee), jnp.zeros([], s.dtype))
            else:
                inv = 1 / (jnp.sqrt(s) + ee)
            return _scaled(g, inv)

        sums = _core.map_floats(accumulate, updates, state.sum_of_squares, keep=1)
        updates = _core.map_floats(output, updates, sums)
        return updates, ScaleBySumOfSquaresState(_core.next_count(state.count), sums)

    return optax.GradientTransformation(init_fn, update_fn)


def _squares_ema(g: jax.Array, acc: jax.Array, decay: Any) -> jax.Array:
    """:math:`(1-\rho) g^2 + \rho a` with the plain square (complex for complex ``g``, as in
    optax's AdaDelta), in at least float32, stored in ``acc``'s dtype."""
    dt = _core.compute_dtype(acc.dtype)
    d = _core.as_scalar(decay, dt)
    x = g.astype(dt)
    return ((1 - d) * (x * x) + d * acc.astype(dt)).astype(acc.dtype)


@_core.shares_count()
class ScaleByAdadeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`: EMAs of squared gradients and of squared steps
    (optax's field names ``e_g``, ``e_x``; optax's class ``ScaleByAdaDeltaState`` has no
    counter)."""

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
    (torch's ``lr`` is the learning rate chained after this, default 1). Complex updates
    follow optax's ``scale_by_adadelta``, which squares them (:math:`g^2`, complex, with
    principal square roots), not the :math:`|g|^2` of the other second moments.

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
        e_g = _core.map_floats(lambda g, a: _squares_ema(g, a, r), updates, state.e_g, keep=1)

        def step(g, a, x):
            dt = _core.compute_dtype(_core.wider_dtype(a.dtype, g.dtype))
            ee = _core.as_scalar(e, dt)
            factor = jnp.sqrt(x.astype(dt) + ee) / jnp.sqrt(a.astype(dt) + ee)
            return g.astype(dt) * factor

        deltas = _core.map_floats(step, updates, e_g, state.e_x)
        e_x = _core.map_floats(
            lambda g, d, x: _squares_ema(d, x, r), updates, deltas, state.e_x, keep=2
        )
        updates = _core.cast_tree(deltas, updates)
        return updates, ScaleByAdadeltaState(_core.next_count(state.count), e_g, e_x)

    return optax.GradientTransformation(init_fn, update_fn)


class RunningMaxState(NamedTuple):
    """State of :func:`running_max`."""

    nu_max: Any


def running_max(*, accumulator_dtype: Any = None) -> optax.GradientTransformation:
    r"""Element-wise running maximum: :math:`\hat v_t = \max(\hat v_{t-1}, u_t)`, output :math:`\hat v_t`.

    AMSGrad's ingredient. Its position in a chain picks the convention: after
    ``bias_correction`` it takes the maximum of the debiased second moment (optax),
    before it the maximum of the raw moment (torch.optim.Adam with ``amsgrad=True``).
    Complex inputs (the real-valued second moment of complex parameters) compare as
    ``jnp.maximum`` does, real part first, as in optax's AMSGrad.

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
        _core.check_trees_match(updates, state.nu_max, "running maximum")
        maxima = _core.map_floats(
            lambda u, m: jnp.maximum(m, u.astype(m.dtype)), updates, state.nu_max, keep=1
        )
        return _core.cast_tree(maxima, updates), RunningMaxState(maxima)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
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
    debiased first moment by it. :math:`|g|` is the modulus for complex updates (the
    real values are stored in the parameter's complex dtype, as optax's ``scale_by_adamax``).

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
            n_real = _real(n.astype(_core.compute_dtype(n.dtype)))
            dt = n_real.dtype
            modulus = jnp.abs(g.astype(_core.compute_dtype(g.dtype))).astype(dt)
            out = jnp.maximum(_core.as_scalar(b, dt) * n_real, modulus + _core.as_scalar(e, dt))
            return out.astype(n.dtype)

        nu = _core.map_floats(step, updates, state.nu, keep=1)
        return _core.cast_tree(nu, updates), InfinityNormState(_core.next_count(state.count), nu)

    return optax.GradientTransformation(init_fn, update_fn)


SqrtState = _core.CountState


def sqrt(eps_root: _core.ScalarOrSchedule = 0.0) -> optax.GradientTransformation:
    r"""Element-wise root: :math:`u \mapsto \sqrt{u + \bar\epsilon}`.

    Turns a (debiased) second moment into an RMS in Adam's denominator;
    ``eps_root`` is epsilon *inside* the root (outside goes to :func:`divide`). A complex
    input (the real-valued second moment of complex parameters) takes the principal root.

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
