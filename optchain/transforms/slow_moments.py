"""Momenta that remember old gradients: AdEMAMix's mixture of a fast and a slow EMA, and the
simplified AdEMAMix's undamped accumulator mixed with the gradient (with the second moment
under that optimizer's field name).

Complex leaves: the momenta average as complex numbers; the second moment is of
:math:`|g|^2 = g \\bar g` (real values, kept in the parameter's dtype).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax

from optchain import _core

__all__ = [
    "AccumulatorMixtureState",
    "EmaMixtureState",
    "SquaredGradientAverageState",
    "accumulator_mixture",
    "ema_mixture",
    "squared_gradient_average",
]


@_core.shares_count()
class EmaMixtureState(NamedTuple):
    """State of :func:`ema_mixture` (optax's AdEMAMix fields): the counter, ``count_m2`` (the
    steps the slow EMA has taken: optax's second counter, here written from the first one),
    the fast EMA ``m1`` and the slow EMA ``m2``."""

    count: jax.Array
    count_m2: jax.Array
    m1: Any
    m2: Any


def ema_mixture(
    b1: float = 0.9,
    b3: _core.ScalarOrSchedule = 0.9999,
    alpha: _core.ScalarOrSchedule = 5.0,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""AdEMAMix's momentum: :math:`m^{(1)}_t / (1 - \beta_1^t) + \alpha_t m^{(2)}_t`, a debiased fast EMA plus a slow one.

    :math:`m^{(1)}_t = \beta_1 m^{(1)}_{t-1} + (1-\beta_1) g_t` follows the recent gradients
    and :math:`m^{(2)}_t = \beta_{3,t} m^{(2)}_{t-1} + (1-\beta_{3,t}) g_t`, with
    :math:`\beta_3` close to 1, remembers gradients thousands of steps old; the slow EMA is
    not debiased. :math:`\beta_3` and :math:`\alpha` may be schedules (the paper warms both
    up), read at the step :math:`t` (0 on the first update).

    Args:
      b1: :math:`\beta_1` in [0, 1), the fast EMA's decay (a number: its bias correction is
        :math:`1-\beta_1^t`).
      b3: :math:`\beta_3` in [0, 1), the slow EMA's decay, or a schedule.
      alpha: :math:`\alpha \ge 0`, the weight of the slow EMA, or a schedule.
      accumulator_dtype: dtype of both EMAs (``None``: the parameter's dtype); optax's
        ``mu_dtype``.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`EmaMixtureState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.ema_mixture(b1=0.5, b3=0.75, alpha=2.0)
      >>> u, state = tx.update(jnp.array([4.0]), tx.init(jnp.zeros(1)))
      >>> u, state.m1, state.m2  # 2 / (1 - 0.5) + 2 * 1
      (Array([6.], dtype=float32), Array([2.], dtype=float32), Array([1.], dtype=float32))

    References:
      Pagliardini et al., *The AdEMAMix Optimizer: Better, Faster, Older*, ICLR 2025.
    """
    _core.check_hyperparameter("b1", b1, low=0.0, high=1.0, high_open=True, allow_schedule=False)
    _core.check_hyperparameter("b3", b3, low=0.0, high=1.0, high_open=True)
    _core.check_hyperparameter("alpha", alpha, low=0.0)

    def init_fn(params):
        m1 = _core.tree_zeros(params, accumulator_dtype)
        m2 = _core.tree_zeros(params, accumulator_dtype)
        return EmaMixtureState(_core.zero_count(), _core.zero_count(), m1, m2)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.m1, "fast EMA")
        w3, weight = _core.resolve(b3, state.count), _core.resolve(alpha, state.count)
        steps = _core.next_count(state.count)
        correction = _core.bias_correction_factor(b1, steps)

        def average(decay):
            return lambda g, m: _core.ema_update(g.astype(_core.compute_dtype(g.dtype)), m, decay)

        m1 = _core.map_floats(average(b1), updates, state.m1, keep=1)
        m2 = _core.map_floats(average(w3), updates, state.m2, keep=1)

        def mix(g, fast, slow):
            dt = _core.compute_dtype(fast.dtype)
            fast, slow = fast.astype(dt) / correction.astype(dt), slow.astype(dt)
            out = fast + _core.as_scalar(weight, dt) * slow
            return out.astype(g.dtype)

        out = _core.map_floats(mix, updates, m1, m2)
        return out, EmaMixtureState(steps, steps, m1, m2)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class AccumulatorMixtureState(NamedTuple):
    """State of :func:`accumulator_mixture` (optax's simplified AdEMAMix fields): the counter,
    ``t`` (optax's name for the steps taken, written from the counter) and the accumulator
    ``m``."""

    count: jax.Array
    t: jax.Array
    m: Any


def accumulator_mixture(
    b1: _core.ScalarOrSchedule = 0.99, alpha: _core.ScalarOrSchedule = 0.0
) -> optax.GradientTransformation:
    r"""The simplified AdEMAMix's momentum: :math:`m_t + \alpha_t g_t`, :math:`m_t = \beta_1 m_{t-1} + g_t`.

    The accumulator is undamped (no :math:`1-\beta_1` on the gradient, so it grows to
    :math:`g / (1-\beta_1)` for a constant gradient and needs no bias correction), and the
    current gradient is added once more with weight :math:`\alpha_t`; :math:`\alpha = 0` is
    heavy-ball momentum (optax's ``trace``).

    Args:
      b1: :math:`\beta_1` in [0, 1), or a schedule.
      alpha: :math:`\alpha \ge 0`, the extra weight of the current gradient, or a schedule
        (read at the step :math:`t`, 0 on the first update).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`AccumulatorMixtureState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.accumulator_mixture(b1=0.5, alpha=2.0)
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.array([1.0]), state)
      >>> u, state = tx.update(jnp.array([1.0]), state)
      >>> u, state.m  # m = 0.5 * 1 + 1; u = m + 2 * 1
      (Array([3.5], dtype=float32), Array([1.5], dtype=float32))

    References:
      Morwani et al., *Connections between Schedule-Free Optimizers, AdEMAMix, and
      Accelerated SGD Variants*, 2025.
    """
    _core.check_hyperparameter("b1", b1, low=0.0, high=1.0, high_open=True)
    _core.check_hyperparameter("alpha", alpha, low=0.0)

    def init_fn(params):
        return AccumulatorMixtureState(
            _core.zero_count(), _core.zero_count(), _core.tree_zeros(params)
        )

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.m, "accumulator")
        decay, weight = _core.resolve(b1, state.count), _core.resolve(alpha, state.count)

        def accumulate(g, m):
            dt = _core.compute_dtype(m.dtype)
            return (g.astype(dt) + _core.as_scalar(decay, dt) * m.astype(dt)).astype(m.dtype)

        def mix(g, m):
            dt = _core.compute_dtype(g.dtype)
            return (m.astype(dt) + _core.as_scalar(weight, dt) * g.astype(dt)).astype(g.dtype)

        m = _core.map_floats(accumulate, updates, state.m, keep=1)
        steps = _core.next_count(state.count)
        return _core.map_floats(mix, updates, m), AccumulatorMixtureState(steps, steps, m)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class SquaredGradientAverageState(NamedTuple):
    """State of :func:`squared_gradient_average`: the counter and the average ``n`` (optax's
    simplified AdEMAMix field)."""

    count: jax.Array
    n: Any


def squared_gradient_average(
    b2: _core.ScalarOrSchedule = 0.95, *, accumulator_dtype: Any = None
) -> optax.GradientTransformation:
    r""":math:`n_t = |g_t|^2 + \beta_2 (n_{t-1} - |g_t|^2)`, output :math:`n_t`.

    :func:`second_moment`'s average written as an interpolation from :math:`|g_t|^2`
    towards :math:`n_{t-1}`: the same number up to rounding, and the rounding of optax's
    simplified AdEMAMix, whose field name ``n`` it keeps (``optax.tree.get(state, "n")``).
    :math:`|g|^2 = g \bar g` for complex :math:`g` (optax squares the complex number itself,
    which is no magnitude).

    Args:
      b2: :math:`\beta_2` in [0, 1], or a schedule.
      accumulator_dtype: dtype of :math:`n` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`SquaredGradientAverageState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.squared_gradient_average(0.75)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([1.], dtype=float32)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015, section 2.
    """
    _core.check_hyperparameter("b2", b2, low=0.0, high=1.0)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.n, "second moment")
        decay = _core.resolve(b2, state.count)

        def interpolate(g, n):
            dt = _core.compute_dtype(n.dtype)
            square = _core.abs_sq(g.astype(_core.compute_dtype(g.dtype))).astype(dt)
            return (square + _core.as_scalar(decay, dt) * (n.astype(dt) - square)).astype(n.dtype)

        n = _core.map_floats(interpolate, updates, state.n, keep=1)
        return _core.cast_tree(n, updates), SquaredGradientAverageState(
            _core.next_count(state.count), n
        )

    init_fn = _core.zeros_init(SquaredGradientAverageState, accumulator_dtype)
    return optax.GradientTransformation(init_fn, update_fn)
