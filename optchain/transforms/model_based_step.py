"""MoMo's model-based step: momentum (or Adam) with a Polyak-like step size, the step that would
reach a lower bound of the loss on a model built from averaged losses, gradients and
gradient-parameter products; the lower bound may be estimated on the fly."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optchain import _core
from optchain.transforms import _tree_reductions as tr

# optax guards the step with the machine epsilon of a Python float (float64's).
_TINY = float(np.finfo(float).eps)


def _floats(tree: Any) -> list[jax.Array]:
    return [_core.as_leaf(x) for x in jax.tree.leaves(tree) if _core.is_float(x)]


def _vdot(xs: Any, ys: Any) -> jax.Array:
    """:math:`\\sum_i \\langle x_i, y_i \\rangle` over the floating leaves, in float32 (a
    float16 or bfloat16 leaf too: its products rounded to its own width would differ between
    eager and jitted code, whose fusions keep float32, and move every leaf's step)."""
    total = jnp.zeros([], jnp.float32)
    for x, y in zip(_floats(xs), _floats(ys)):
        dt = _core.compute_dtype(_core.wider_dtype(x.dtype, y.dtype))
        dot = jnp.vdot(x.astype(dt), y.astype(dt), precision=jax.lax.Precision.HIGHEST)
        total = total + dot.astype(jnp.float32)
    return total


def _check_value(value: Any, owner: str) -> None:
    if value is None:
        raise ValueError(
            f"{owner} needs the loss: call update(grads, state, params, value=loss) "
            "(jax.value_and_grad gives both)"
        )


def _scalar_ema(x: jax.Array, average: jax.Array, decay: Any) -> jax.Array:
    r""":func:`_core.ema_update` written :math:`a + (1-\beta)(x - a)`: one product, so XLA's
    multiply-add contraction has one choice (with two, it picks by operand order, which a
    donated state changes, and the donated step rounds differently)."""
    dt = _core.compute_dtype(average.dtype)
    a = average.astype(dt)
    return (a + (1 - _core.as_scalar(decay, dt)) * (x.astype(dt) - a)).astype(average.dtype)


def _model_step(model, lb, alpha, weight_decay, lower_bound, adapt, bc1=None):
    r"""The step size :math:`\tau` and the new lower bound from the model's averages.

    ``model`` is ``(barf, gamma, iprod, norm_sq)``: :math:`\bar f`, :math:`\bar\gamma`,
    :math:`\langle d, w\rangle`, :math:`\lVert d\rVert^2` (preconditioned for Adam). ``bc1``
    is Adam's :math:`1-\beta_1^t` (``None``: no bias correction). All are scalars of one dtype.
    """
    barf, gamma, iprod, norm_sq = model
    dt = barf.dtype
    alpha = _core.as_scalar(alpha, dt)
    shrink = 1 + alpha * _core.as_scalar(weight_decay, dt)
    floor = _core.as_scalar(lower_bound, dt)
    if adapt:  # optax's order of operations, so that the bound is reproduced exactly
        cap = shrink * (barf - gamma) + iprod
        if bc1 is None:
            estimate, bound = cap / (2 * shrink), shrink * lb
        else:
            estimate, bound = cap / (2 * bc1 * shrink), shrink * bc1 * lb
        lb = jnp.where(cap < bound, jnp.maximum(estimate, floor), lb)
    offset = lb if bc1 is None else bc1 * lb
    gap = jnp.maximum(shrink * (barf - offset - gamma) + iprod, jnp.zeros([], dt)) / norm_sq
    gap = jnp.where(norm_sq <= _TINY, jnp.zeros([], dt), gap)
    tau = jnp.minimum(alpha if bc1 is None else alpha / bc1, gap)
    if adapt:
        reached = (barf + iprod - gamma) - 0.5 * tau * norm_sq
        lb = jnp.maximum(reached if bc1 is None else reached / bc1, floor)
    return tau, lb, shrink


def _descend(tau, shrink, alpha, weight_decay, directions, params, precond=None):
    r""":math:`-\frac{\alpha\lambda}{1+\alpha\lambda} w - \tau d / D` per floating leaf
    (:math:`D = 1` without ``precond``)."""

    def leaf(d, p, *r):
        dt = _core.compute_dtype(d.dtype)
        decay = _core.as_scalar(alpha, dt) * _core.as_scalar(weight_decay, dt) / shrink
        step = tau.astype(dt) * d.astype(dt)
        if r:
            step = step / r[0].astype(dt)
        return (-decay * p.astype(dt) - step).astype(p.dtype)

    trees = (directions, params) if precond is None else (directions, params, precond)
    return _core.map_floats(leaf, *trees)


def _scalars(params: Any, lower_bound: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``barf``, ``gamma`` and ``lb`` at ``init``, in the parameters' lowest float dtype."""
    dt = tr.scalar_dtype(_floats(params))  # float16 with bfloat16 has no lowest: float32
    return jnp.zeros([], dt), jnp.zeros([], dt), jnp.array(lower_bound, dt, copy=True)


def _check(beta_name, beta, lower_bound, weight_decay, learning_rate):
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0)
    _core.check_hyperparameter(
        beta_name, beta, low=0.0, high=1.0, high_open=True, allow_schedule=False
    )
    _core.check_hyperparameter("lower_bound", lower_bound, allow_schedule=False)
    _core.check_hyperparameter("weight_decay", weight_decay, low=0.0, allow_schedule=False)


@_core.shares_count()
class MomoState(NamedTuple):
    """State of :func:`momo_step` (optax's ``MomoState``): ``exp_avg`` the momentum :math:`d`,
    ``barf`` the averaged loss, ``gamma`` the averaged :math:`\\langle g, w\\rangle`, ``lb``
    the lower bound, ``count`` the steps."""

    exp_avg: Any
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


def momo_step(
    learning_rate: _core.ScalarOrSchedule = 1.0,
    beta: float = 0.9,
    lower_bound: float = 0.0,
    weight_decay: float = 0.0,
    adapt_lower_bound: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""MoMo's step: :math:`u = -\frac{\alpha\lambda}{1+\alpha\lambda} w - \tau d`, :math:`\tau = \min\bigl(\alpha, \frac{[(1+\alpha\lambda)(\bar f - f_* - \bar\gamma) + \langle d, w\rangle]_+}{\lVert d\rVert^2}\bigr)`.

    :math:`d`, :math:`\bar f`, :math:`\bar\gamma` are EMAs (weight :math:`\beta`, started at the
    first values) of the gradient, the loss and :math:`\langle g, w\rangle`: together they
    are a model of the loss, and :math:`\tau` is the step that reaches the lower bound
    :math:`f_*` on it (Polyak's step on the momentum model), capped at :math:`\alpha`. Where
    :math:`\lVert d\rVert^2` is below float64's machine epsilon, :math:`\tau = 0`. With
    ``adapt_lower_bound``, :math:`f_*` is re-estimated each step from the model, never below
    ``lower_bound``. ``update`` needs the parameters and the loss as the keyword ``value``.
    The scalars live in the parameters' lowest float dtype (optax's). Complex parameters are
    rejected at ``init``; integer leaves get a zero update.

    Args:
      learning_rate: :math:`\alpha \ge 0`, the largest step, or a schedule.
      beta: :math:`\beta \in [0, 1]`.
      lower_bound: :math:`f_*`, a lower bound of the loss.
      weight_decay: :math:`\lambda \ge 0` (decoupled, implicit in the step).
      adapt_lower_bound: estimate :math:`f_*` on the fly.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`MomoState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.momo_step()  # f = w^2 at w = 2: tau = (4 - 0 - 8 + 8) / 16
      >>> w = jnp.array([2.0])
      >>> tx.update(2 * w, tx.init(w), w, value=jnp.sum(w**2))[0]
      Array([-1.], dtype=float32)

    References:
      Schaipp et al., *MoMo: Momentum Models for Adaptive Learning Rates*, ICML 2024.
    """
    _check("beta", beta, lower_bound, weight_decay, learning_rate)

    def init_fn(params):
        _core.check_leaves(params, "momo", complex_ok=False)
        return MomoState(
            _core.tree_zeros(params), *_scalars(params, lower_bound), _core.zero_count()
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del extra_args
        _core.require_params(params, updates, "momo")
        _check_value(value, "momo")
        dt = state.barf.dtype
        b = jnp.where(state.count == 0, jnp.zeros([], dt), jnp.asarray(beta, dt))
        barf = _scalar_ema(jnp.asarray(value).astype(dt), state.barf, b)
        exp_avg = _core.map_floats(lambda g, m: _core.ema_update(g, m, b), updates, state.exp_avg)
        gamma = _scalar_ema(_vdot(updates, params).astype(dt), state.gamma, b)
        norm_sq = sum((_core.square_sum(d) for d in _floats(exp_avg)), jnp.zeros([], jnp.float32))
        model = (barf, gamma, _vdot(exp_avg, params).astype(dt), norm_sq.astype(dt))
        alpha = _core.resolve(learning_rate, state.count)
        tau, lb, shrink = _model_step(
            model, state.lb, alpha, weight_decay, lower_bound, adapt_lower_bound
        )
        out = _descend(tau, shrink, alpha, weight_decay, exp_avg, params)
        out = _core.cast_tree(out, updates)
        return out, MomoState(exp_avg, barf, gamma, lb, _core.next_count(state.count))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@_core.shares_count()
class MomoAdamState(NamedTuple):
    """State of :func:`momo_adam_step` (optax's ``MomoAdamState``): :class:`MomoState` with
    ``exp_avg_sq``, Adam's second moment."""

    exp_avg: Any
    exp_avg_sq: Any
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


def momo_adam_step(
    learning_rate: _core.ScalarOrSchedule = 1e-2,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    lower_bound: float = 0.0,
    weight_decay: float = 0.0,
    adapt_lower_bound: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""MoMo-Adam's step: :math:`u = -\frac{\alpha\lambda}{1+\alpha\lambda} w - \tau D^{-1} d`, :math:`\tau = \min\bigl(\frac{\alpha}{c_1}, \frac{[(1+\alpha\lambda)(\bar f - c_1 f_* - \bar\gamma) + \langle d, w\rangle]_+}{\langle d, D^{-1} d\rangle}\bigr)`.

    :func:`momo_step` on Adam's geometry: :math:`d`, :math:`\bar f`, :math:`\bar\gamma` are
    zero-started EMAs of weight :math:`\beta_1` (not debiased; :math:`c_1 = 1-\beta_1^t`
    enters the bound instead), :math:`D = \epsilon + \sqrt{v_t / (1-\beta_2^t)}` with
    :math:`v` Adam's second moment (``exp_avg_sq``). ``update`` needs the parameters and the
    loss as ``value``; complex parameters are rejected at ``init``.

    Args:
      learning_rate: :math:`\alpha \ge 0`, or a schedule.
      b1, b2: :math:`\beta_1, \beta_2 \in [0, 1]`.
      eps: :math:`\epsilon \ge 0`, added to the root of the second moment.
      lower_bound, weight_decay, adapt_lower_bound: as in :func:`momo_step`.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`MomoAdamState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.momo_adam_step(learning_rate=0.1, eps=0.0)
      >>> w = jnp.array([2.0])  # alpha / c1 = 1 caps the step: -d / D = -0.4 / 4
      >>> tx.update(2 * w, tx.init(w), w, value=jnp.sum(w**2))[0]
      Array([-0.1], dtype=float32)

    References:
      Schaipp et al., *MoMo: Momentum Models for Adaptive Learning Rates*, ICML 2024.
    """
    _check("b1", b1, lower_bound, weight_decay, learning_rate)
    _core.check_hyperparameter(
        "b2", b2, low=0.0, high=1.0, high_open=True, allow_schedule=False
    )  # 1 - b2**t divides
    _core.check_hyperparameter("eps", eps, low=0.0, allow_schedule=False)

    def init_fn(params):
        _core.check_leaves(params, "momo_adam", complex_ok=False)
        zeros = _core.tree_zeros(params)
        scalars = _scalars(params, lower_bound)
        return MomoAdamState(zeros, _core.tree_zeros(params), *scalars, _core.zero_count())

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del extra_args
        _core.require_params(params, updates, "momo_adam")
        _check_value(value, "momo_adam")
        dt = state.barf.dtype
        t = _core.next_count(state.count)
        barf = _core.ema_update(jnp.asarray(value).astype(dt), state.barf, b1)
        exp_avg = _core.map_floats(lambda g, m: _core.ema_update(g, m, b1), updates, state.exp_avg)
        exp_avg_sq = _core.map_floats(
            lambda g, v: _core.ema_update(g * g, v, b2), updates, state.exp_avg_sq
        )
        bc1 = _core.bias_correction_factor(b1, t).astype(dt)
        bc2 = _core.bias_correction_factor(b2, t).astype(dt)

        def root(v):
            dtv = _core.compute_dtype(v.dtype)
            return (eps + jnp.sqrt(v.astype(dtv) / bc2.astype(dtv))).astype(v.dtype)

        precond = _core.map_floats(root, exp_avg_sq)
        weighted = _core.map_floats(lambda d, r: d / r, exp_avg, precond)
        gamma = _core.ema_update(_vdot(updates, params).astype(dt), state.gamma, b1)
        model = (
            barf,
            gamma,
            _vdot(exp_avg, params).astype(dt),
            _vdot(exp_avg, weighted).astype(dt),
        )
        alpha = _core.resolve(learning_rate, state.count)
        tau, lb, shrink = _model_step(
            model, state.lb, alpha, weight_decay, lower_bound, adapt_lower_bound, bc1
        )
        out = _descend(tau, shrink, alpha, weight_decay, exp_avg, params, precond)
        out = _core.cast_tree(out, updates)
        new_state = MomoAdamState(exp_avg, exp_avg_sq, barf, gamma, lb, t)
        return out, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
