"""Deep Gradient Compression's per-device compressor: momentum correction, accumulation, top-k."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain.distributed._aggregate import _capacity, buffer_density


@_core.shares_count()
class DgcState(NamedTuple):
    """State of :func:`dgc_sparsify`: step count, velocity :math:`u` and accumulation :math:`v`."""

    count: jax.Array
    velocity: Any
    accumulation: Any


def dgc_sparsify(
    density: _core.ScalarOrSchedule,
    momentum: _core.ScalarOrSchedule = 0.9,
    *,
    momentum_masking: bool = True,
    max_density: float | None = None,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Deep Gradient Compression, the per-device part: momentum correction, local accumulation,
    top-k selection and momentum factor masking.

    .. math::
       u \leftarrow m u + g,\quad v \leftarrow v + u,\quad
       M = \operatorname{topk}_{\rho n_l}(|v|),\quad \text{out} = v \odot M,\quad
       v \leftarrow v \odot \lnot M,\quad u \leftarrow u \odot \lnot M \ (\text{masking}).

    Follow it with :func:`sparse_mean` (same density) and the learning rate, and no further
    momentum link. At density 1 without masking this is heavy-ball momentum SGD (torch's form);
    with masking, plain SGD (masking clears the velocity of every sent entry, as in the paper).

    Args:
      density: fraction :math:`\rho` sent per step, or a schedule (:func:`schedules.dgc_warmup`).
      momentum: :math:`m \in [0, 1]`, or a schedule.
      momentum_masking: clear the velocity where entries were sent.
      max_density: the most any step sends (static; default ``density``, or a schedule at 0).
      accumulator_dtype: dtype of :math:`u` and :math:`v` (``None``: at least float32).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`DgcState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.dgc_sparsify(0.5)
      >>> out, state = tx.update(jnp.array([3.0, -1.0]), tx.init(jnp.zeros(2)))
      >>> out, state.accumulation  # the -1 waits in v for a later step
      (Array([3., 0.], dtype=float32), Array([ 0., -1.], dtype=float32))

    References:
      Lin et al., *Deep Gradient Compression: Reducing the Communication Bandwidth for
      Distributed Training*, ICLR 2018.
    """
    _core.check_hyperparameter("density", density, low=0.0, high=1.0, low_open=True)
    _core.check_hyperparameter("momentum", momentum, low=0.0, high=1.0)
    cap_density = buffer_density(density, max_density)
    # everything is sent only for a density known to be 1 (a traced, injected density may be
    # set lower between steps)
    fixed = _core.concrete_float(density)

    def init_fn(params):
        _core.check_leaves(params, "dgc_sparsify", complex_ok=False)
        return DgcState(
            _core.zero_count(),
            _core.wide_zeros(params, accumulator_dtype),
            _core.wide_zeros(params, accumulator_dtype),
        )

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.velocity, "DGC velocity")
        rho = _core.resolve(density, state.count)
        m = _core.resolve(momentum, state.count)

        def step(g, u, v):
            dt = u.dtype
            u = _core.as_scalar(m, dt) * u + g.astype(dt)
            v = v + u
            size = v.size
            cap = _capacity(cap_density, size) if size else 0
            if size == 0:
                return g, u, v
            if cap == size and fixed is not None and fixed >= 1.0:
                mask = jnp.ones(v.shape, bool)
            else:
                flat = jnp.ravel(v)
                k_now = jnp.ceil(_core.as_scalar(rho, jnp.float32) * size).astype(jnp.int32)
                k_now = jnp.clip(k_now, 1, cap)
                order = jax.lax.top_k(jnp.abs(flat), cap)[1]
                sent = jnp.arange(cap, dtype=jnp.int32) < k_now
                mask = jnp.zeros(size, bool).at[order].set(sent).reshape(v.shape)
            out = jnp.where(mask, v, jnp.zeros([], dt)).astype(g.dtype)
            v = jnp.where(mask, jnp.zeros([], dt), v)
            if momentum_masking:
                u = jnp.where(mask, jnp.zeros([], dt), u)
            return out, u, v

        out, velocity, accumulation = _core.map_floats_multi(
            step, updates, state.velocity, state.accumulation, keep=(0, 1, 2)
        )
        return out, DgcState(_core.next_count(state.count), velocity, accumulation)

    return optax.GradientTransformation(init_fn, update_fn)
