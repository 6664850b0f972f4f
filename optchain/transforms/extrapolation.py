"""Gradient-difference extrapolation: the optimistic gradient and Adan's look-ahead moments.

Both remember the previous update and use the difference :math:`g_t - g_{t-1}` as a cheap
estimate of where the gradient is heading.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


@_core.shares_count()
class ScaleByOptimisticGradientState(NamedTuple):
    """State of :func:`scale_by_optimistic_gradient` (optax's fields, plus the step counter
    its scheduled ``alpha`` and ``beta`` read; a counted chain holds that counter)."""

    count: jax.Array
    is_initial_step: jax.Array
    previous_gradient: Any


def scale_by_optimistic_gradient(
    alpha: _core.ScalarOrSchedule = 1.0, beta: _core.ScalarOrSchedule = 1.0
) -> optax.GradientTransformation:
    r"""Optimistic gradient: :math:`u_t = (\alpha + \beta) g_t - \beta g_{t-1}`.

    On the first update :math:`g_{t-1} = g_t`, so the output is :math:`\alpha g_0` (optax's
    convention, optax issue 1082). The previous update is kept in ``previous_gradient``.
    Complex updates are extrapolated as complex numbers.

    Args:
      alpha: :math:`\alpha \ge 0`, the weight of the current gradient, or a schedule.
      beta: :math:`\beta \ge 0`, the weight of the extrapolation, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByOptimisticGradientState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_optimistic_gradient(alpha=1.0, beta=0.5)
      >>> u, state = tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))
      >>> u, state = tx.update(jnp.array([3.0]), state)
      >>> u  # 1.5 * 3 - 0.5 * 1
      Array([4.], dtype=float32)

    References:
      Daskalakis et al., *Training GANs with Optimism*, ICLR 2018.
      Mokhtari et al., *A Unified Analysis of Extra-gradient and Optimistic Gradient Methods
      for Saddle Point Problems*, AISTATS 2020.
    """
    _core.check_hyperparameter("alpha", alpha, low=0.0)
    _core.check_hyperparameter("beta", beta, low=0.0)

    def init_fn(params):
        return ScaleByOptimisticGradientState(
            _core.zero_count(), jnp.array(True), _core.tree_zeros(params)
        )

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.previous_gradient, "previous_gradient")
        a = _core.resolve(alpha, state.count)
        b = _core.resolve(beta, state.count)

        def extrapolate(g, prev):
            dt = _core.compute_dtype(g.dtype)
            gw = g.astype(dt)
            pw = jnp.where(state.is_initial_step, gw, prev.astype(dt))
            a_, b_ = _core.as_scalar(a, dt), _core.as_scalar(b, dt)
            return ((a_ + b_) * gw - b_ * pw).astype(g.dtype)

        outs = _core.map_floats(extrapolate, updates, state.previous_gradient)
        previous = _core.map_floats(
            lambda g, prev: g.astype(prev.dtype), updates, state.previous_gradient, keep=1
        )
        new_state = ScaleByOptimisticGradientState(
            _core.next_count(state.count), jnp.array(False), previous
        )
        return outs, new_state

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByAdanState(NamedTuple):
    """State of :func:`scale_by_adan` (optax's fields; ``t`` is its step counter, optax's name)."""

    m: Any
    v: Any
    n: Any
    g: Any
    t: jax.Array


def scale_by_adan(
    b1: float = 0.98,
    b2: float = 0.92,
    b3: float = 0.99,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Adan's direction: debiased moments of :math:`g`, of :math:`\Delta g` and of a look-ahead square.

    With :math:`\Delta_t = g_t - g_{t-1}` (0 on the first update):
    :math:`m_t = \beta_1 m + (1-\beta_1) g_t`, :math:`v_t = \beta_2 v + (1-\beta_2) \Delta_t`,
    :math:`n_t = \beta_3 n + (1-\beta_3) |g_t + (1-\beta_2)\Delta_t|^2`, and the output is
    :math:`(\hat m_t + (1-\beta_2) \hat v_t) / (\sqrt{\hat n_t + \bar\epsilon} + \epsilon)`, each
    hat a division by :math:`1-\beta^t`. optax's values and state fields (``m``, ``v``,
    ``n``, ``g``, ``t``). The decays are numbers (as in optax): the closed-form debiasing
    needs a constant decay.

    Args:
      b1: :math:`\beta_1` in [0, 1), decay of the gradient average.
      b2: :math:`\beta_2` in [0, 1), decay of the gradient-difference average.
      b3: :math:`\beta_3` in [0, 1), decay of the squared look-ahead average.
      eps: :math:`\epsilon \ge 0`, added outside the square root, or a schedule.
      eps_root: :math:`\bar\epsilon \ge 0`, added inside the square root, or a schedule.
      accumulator_dtype: dtype of ``m``, ``v``, ``n`` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByAdanState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_adan(eps=0.0)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]  # first step: sign(g)
      Array([ 1., -1.], dtype=float32)

    References:
      Xie et al., *Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep
      Models*, IEEE TPAMI 2024 (arXiv:2208.06677, Algorithm 1).
    """
    for name, value in (("b1", b1), ("b2", b2), ("b3", b3)):
        _core.check_hyperparameter(
            name, value, low=0.0, high=1.0, high_open=True, allow_schedule=False
        )
    _core.check_hyperparameter("eps", eps, low=0.0)
    _core.check_hyperparameter("eps_root", eps_root, low=0.0)

    def init_fn(params):
        zeros = lambda: _core.tree_zeros(params, accumulator_dtype)  # noqa: E731
        return ScaleByAdanState(
            zeros(), zeros(), zeros(), _core.tree_zeros(params), _core.zero_count()
        )

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.m, "adan moments")
        first = state.t == 0
        t = _core.next_count(state.t)
        e, e_root = _core.resolve(eps, state.t), _core.resolve(eps_root, state.t)
        c1, c2, c3 = (_core.bias_correction_factor(b, t) for b in (b1, b2, b3))

        def leaf(g, m, v, n, prev):
            dt = _core.compute_dtype(g.dtype)
            gw = g.astype(dt)
            diff = jnp.where(first, jnp.zeros_like(gw), gw - prev.astype(dt))
            m = _core.ema_update(gw, m, b1)
            v = _core.ema_update(diff, v, b2)
            n = _core.ema_of_squares(gw + (1 - b2) * diff, n, b3)
            w = _core.compute_dtype(m.dtype)
            num = m.astype(w) / c1.astype(w) + (1 - b2) * (v.astype(w) / c2.astype(w))
            n_hat = _core.real_part(n).astype(_core.real_dtype(w)) / c3
            den = jnp.sqrt(n_hat + _core.as_scalar(e_root, n_hat.dtype))
            den = den + _core.as_scalar(e, den.dtype)
            return (num / den.astype(w)).astype(g.dtype), m, v, n, gw.astype(prev.dtype)

        outs, m, v, n, g = _core.map_floats_multi(
            leaf, updates, state.m, state.v, state.n, state.g, keep=(0, 1, 2, 3, 4)
        )
        return outs, ScaleByAdanState(m, v, n, g, t)

    return optax.GradientTransformation(init_fn, update_fn)
