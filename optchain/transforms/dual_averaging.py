"""MADGRAD's momentumized dual averaging: the iterate is pulled towards the point the weighted
sum of all gradients, scaled by the cube root of the weighted sum of their squares, leads to
from the starting point.

Complex leaves: the sum of squares is of :math:`|g|^2 = g \\bar g` (real values, kept in the
parameter's dtype) and the cube root is real; optax's MADGRAD rejects complex parameters.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

__all__ = ["DualAveragingState", "dual_averaging"]


@_core.shares_count()
class DualAveragingState(NamedTuple):
    """State of :func:`dual_averaging` (optax's MADGRAD fields): the counter, the weighted sum
    of squared gradients ``grad_sum_sq`` (:math:`G_k`), the weighted sum of gradients ``s``
    and the starting point ``x0``."""

    count: jax.Array
    grad_sum_sq: Any
    s: Any
    x0: Any


def dual_averaging(
    learning_rate: _core.ScalarOrSchedule,
    momentum: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-6,
) -> optax.GradientTransformation:
    r"""MADGRAD's step: :math:`x_{k+1} = \beta x_k + (1-\beta)\big(x_0 - s_k / (G_k^{1/3} + \epsilon)\big)`, output :math:`x_{k+1} - x_k`.

    With :math:`\lambda_k = (\gamma_k + \epsilon)\sqrt{k+1}` (:math:`\gamma_k` the learning
    rate at step :math:`k`, 0 on the first update), :math:`s_k = s_{k-1} + \lambda_k g_k` and
    :math:`G_k = G_{k-1} + \lambda_k |g_k|^2`. The dual average :math:`z_k = x_0 - s_k /
    (G_k^{1/3} + \epsilon)` is where the gradients seen so far point from the starting point
    :math:`x_0`; the iterate moves a fraction :math:`1-\beta` of the way there (the
    momentum). The learning rate weighs the gradients, so it is part of this link, which
    outputs the whole parameter change (no learning-rate link follows). ``update`` needs the
    parameters; ``init`` stores a copy of them.

    Args:
      learning_rate: :math:`\gamma \ge 0`, or a schedule.
      momentum: :math:`\beta` in [0, 1], or a schedule.
      eps: :math:`\epsilon \ge 0`, added to the learning rate and to the cube root.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`DualAveragingState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.dual_averaging(1.0, momentum=0.0, eps=0.0)
      >>> x = jnp.array([1.0])
      >>> u, state = tx.update(jnp.array([8.0]), tx.init(x), x)
      >>> u, state.s, state.grad_sum_sq  # z = 1 - 8 / 64**(1/3) = -1
      (Array([-2.], dtype=float32), Array([8.], dtype=float32), Array([64.], dtype=float32))

    References:
      Defazio & Jelassi, *Adaptivity without Compromise: A Momentumized, Adaptive, Dual
      Averaged Gradient Method for Stochastic Optimization*, JMLR 2022.
    """
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0)
    _core.check_hyperparameter("momentum", momentum, low=0.0, high=1.0)
    _core.check_hyperparameter("eps", eps, low=0.0)

    def init_fn(params):
        _core.check_leaves(params, "dual_averaging")
        x0 = jax.tree.map(lambda p: jnp.array(_core.as_leaf(p), copy=True), params)
        zeros = _core.tree_zeros(params)
        return DualAveragingState(_core.zero_count(), zeros, _core.tree_zeros(params), x0)

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "dual_averaging")
        _core.check_updates_match_params(updates, params)
        rate, beta = _core.resolve(learning_rate, state.count), _core.resolve(momentum, state.count)
        e = _core.resolve(eps, state.count)
        steps = _core.next_count(state.count).astype(jnp.float32)
        weight = (rate + e) * jnp.sqrt(steps)  # lambda_k, float32

        def add(total, x):
            dt = _core.compute_dtype(total.dtype)
            return (total.astype(dt) + weight.astype(dt) * x.astype(dt)).astype(total.dtype)

        def squares(g, total):
            return add(total, _core.abs_sq(g.astype(_core.compute_dtype(g.dtype))))

        def sums(g, total):
            return add(total, g.astype(_core.compute_dtype(g.dtype)))

        grad_sum_sq = _core.map_floats(squares, updates, state.grad_sum_sq, keep=1)
        s = _core.map_floats(sums, updates, state.s, keep=1)

        def step(g, x, x0, total_sq, total):
            dt = _core.compute_dtype(x.dtype)
            rdt = _core.real_dtype(dt)
            sigma = jnp.cbrt(_core.real_part(total_sq.astype(dt))) + _core.as_scalar(e, rdt)
            z = x0.astype(dt) - total.astype(dt) / sigma.astype(dt)
            b = _core.as_scalar(beta, dt)
            x = x.astype(dt)
            return ((1 - b) * z + b * x - x).astype(g.dtype)

        out = _core.map_floats(step, updates, params, state.x0, grad_sum_sq, s)
        return out, DualAveragingState(_core.next_count(state.count), grad_sum_sq, s, state.x0)

    return optax.GradientTransformation(init_fn, update_fn)
