"""Mechanic's learned scale: a base optimizer's summed steps, scaled by a factor learned online
by several coin-betting accumulators."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain.transforms import _tree_reductions as tr

__all__ = ["MechanicState", "scale_by_mechanic"]


@_core.shares_count()
class MechanicState(NamedTuple):
    """State of :func:`scale_by_mechanic` (optax's field names): the base optimizer's state,
    the step counter, the per-beta accumulators ``r``, ``m``, ``v``, the scales ``s`` and the
    reference point ``x0``."""

    base_optimizer_state: Any
    count: jax.Array
    r: jax.Array
    m: jax.Array
    v: jax.Array
    s: jax.Array
    x0: Any


def scale_by_mechanic(
    base_optimizer: optax.GradientTransformation,
    weight_decay: _core.ScalarOrSchedule = 1e-2,
    eps: _core.ScalarOrSchedule = 1e-8,
    s_init: float = 1e-6,
    num_betas: int = 6,
) -> optax.GradientTransformationExtraArgs:
    r"""Mechanic: :math:`w_{t+1} = x_0 + (\textstyle\sum_j s_j)\,\Delta_t`, :math:`\Delta_t = \Delta_{t-1} + u_t`, ``u`` the base optimizer's update.

    With :math:`S = \sum_j s_j` and :math:`\Delta_{t-1} = (w_t - x_0)/(S + \epsilon)`, the
    gradient gains :math:`\lambda S \lVert g\rVert / (\lVert w\rVert + \epsilon)\, w` and
    :math:`h = -\langle g, \Delta_{t-1}\rangle` (a real inner product; complex leaves are points
    of the plane) drives, for each :math:`\beta_j = 1 - 10^{-j}`, :math:`j = 1..n`:
    :math:`m_j \leftarrow \max(\beta_j m_j, |h| + \epsilon)`,
    :math:`v_j \leftarrow \beta_j^2 v_j + h^2`,
    :math:`r_j \leftarrow \beta_j r_j + \mathrm{clip}(h, \pm m_j^{old})\, s_j`,
    :math:`s_j \leftarrow (s_0 m_j / n + \max(r_j, 0)) / (\sqrt{v_j} + \epsilon)`.
    The output is the update that moves :math:`w_t` to :math:`w_{t+1}`; ``x0`` is the
    parameters of the first update (so a restored or replaced model starts from what it is).

    Args:
      base_optimizer: the optimizer whose steps are scaled (its own learning rate, 1 or a
        schedule with base 1, is a relative step size).
      weight_decay: :math:`\lambda`, Mechanic's own decay (not the base optimizer's).
      eps: :math:`\epsilon`.
      s_init: :math:`s_0 > 0`, the scale every accumulator starts at.
      num_betas: :math:`n \ge 1`, the number of accumulators.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`MechanicState`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.scale_by_mechanic(optax.sgd(1.0))
      >>> w = jnp.array([1.0, -2.0])
      >>> u, state = tx.update(jnp.array([0.5, -0.5]), tx.init(w), w)
      >>> state.s.shape, bool(jnp.all(state.s > 0))
      ((6,), True)

    References:
      Cutkosky, Defazio & Mehta, *Mechanic: A Learning Rate Tuner*, NeurIPS 2023.
    """
    _core.check_hyperparameter("s_init", s_init, low=0.0, low_open=True, allow_schedule=False)
    _core.check_hyperparameter("num_betas", num_betas, low=1.0, integer=True, allow_schedule=False)
    _core.check_hyperparameter("weight_decay", weight_decay, low=0.0)
    _core.check_hyperparameter("eps", eps, low=0.0)
    base = optax.with_extra_args_support(base_optimizer)
    n = int(num_betas)

    def init_fn(params):
        _core.check_leaves(params, "scale_by_mechanic")
        dtype = tr.scalar_dtype(params)
        return MechanicState(
            base_optimizer_state=base.init(params),
            count=_core.zero_count(),
            r=jnp.zeros([n], dtype),
            m=jnp.zeros([n], dtype),
            v=jnp.zeros([n], dtype),
            s=jnp.full([n], s_init, dtype),
            x0=tr.copy_tree(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        _core.require_params(params, updates, "scale_by_mechanic")
        f32 = jnp.float32
        steps, base_state = base.update(updates, state.base_optimizer_state, params, **extra_args)
        first = state.count == 0
        x0 = jax.tree.map(lambda p, x: jnp.where(first, p, x), params, state.x0)
        e = jnp.asarray(_core.resolve(eps, state.count), f32)
        lam = jnp.asarray(_core.resolve(weight_decay, state.count), f32)
        s_old = state.s.astype(f32)
        s_sum = jnp.sum(s_old)
        factor = lam * s_sum * tr.l2_norm(updates).astype(f32) / (tr.l2_norm(params) + e)
        decayed = _core.map_floats(
            lambda g, p: g + _core.scale_real(p.astype(g.dtype), factor), updates, params
        )
        delta_prev = _core.map_floats(
            lambda p, x: _core.scale_real(x - p, 1 / (s_sum + e)), params, x0
        )
        h = tr.real_vdot(decayed, delta_prev).astype(f32)
        m_old = state.m.astype(f32)
        betas = jnp.asarray([1.0 - 0.1**j for j in range(1, n + 1)], f32)
        m = jnp.maximum(betas * m_old, jnp.abs(h) + e)
        v = betas**2 * state.v.astype(f32) + h**2
        r = betas * state.r.astype(f32) + jnp.clip(h, -m_old, m_old) * s_old
        wealth = s_init / n * m + jnp.maximum(0.0, r)
        s = wealth / (jnp.sqrt(v) + e)
        s_new = jnp.sum(s)

        def move(p, x, dp, u):
            dt = _core.compute_dtype(p.dtype)
            delta = dp.astype(dt) - u.astype(dt)
            new = x.astype(dt) - _core.scale_real(delta, s_new)
            return (new - p.astype(dt)).astype(p.dtype)

        out = _core.map_floats(move, params, x0, delta_prev, steps)
        dtype = state.s.dtype
        new_state = MechanicState(
            base_optimizer_state=base_state,
            count=_core.next_count(state.count),
            r=r.astype(dtype),
            m=m.astype(dtype),
            v=v.astype(dtype),
            s=s.astype(dtype),
            x0=x0,
        )
        return _core.cast_tree(out, updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
