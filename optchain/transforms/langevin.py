"""Langevin noise: the injected noise of stochastic-gradient Langevin dynamics."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain.transforms.noise import _as_key, _check_key, _noise_target


@_core.shares_count()
class LangevinNoiseState(NamedTuple):
    """State of :func:`add_langevin_noise`: the counter and the PRNG key of the next draw (a
    typed key, ``jax.random.key``)."""

    count: jax.Array
    key: jax.Array


def add_langevin_noise(
    learning_rate: _core.ScalarOrSchedule, key: Any = None
) -> optax.GradientTransformation:
    r"""Langevin noise: :math:`u_t \mapsto u_t + \xi_t`, :math:`\xi_t \sim N(0, \alpha_t I)`.

    The variance is the learning rate :math:`\alpha_t` itself (not its square): chained after
    a step of :math:`-\tfrac{\alpha_t}{2} \nabla f`, the iterates sample from
    :math:`\propto e^{-f}` as :math:`\alpha_t \to 0` (Welling & Teh's SGLD). Put it *after*
    the learning-rate link. The key lives in the state and is split once per update (the
    next key, then the sample key, drawn per leaf with ``optax.tree.random_like``, as
    :func:`add_noise`), so a restored checkpoint continues bit for bit. The noise is drawn in
    float32 (complex64 for complex leaves) and rounded to the update's dtype; a complex leaf
    is two real coordinates, each with variance :math:`\alpha_t`.

    Args:
      learning_rate: :math:`\alpha_t \ge 0` (the variance), or a schedule.
      key: a ``jax.random`` key or an int seed (``None``: seed 0).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`LangevinNoiseState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.add_langevin_noise(0.01, key=0)
      >>> u, _ = tx.update(jnp.zeros(10_000), tx.init(jnp.zeros(10_000)))
      >>> round(float(jnp.var(u)), 3)  # the variance is the learning rate
      0.01

    References:
      Welling & Teh, *Bayesian Learning via Stochastic Gradient Langevin Dynamics*, ICML 2011.
    """
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0)
    if key is None:
        key = 0
    _check_key(key, "key")

    def init_fn(params):
        del params
        return LangevinNoiseState(_core.zero_count(), _as_key(key))

    def update_fn(updates, state, params=None):
        del params
        variance = jnp.asarray(_core.resolve(learning_rate, state.count), jnp.float32)
        std = jnp.sqrt(variance)
        next_key, sample_key = jax.random.split(state.key)
        target = _noise_target(updates, jnp.float32)
        noise = optax.tree.random_like(sample_key, target, jax.random.normal)

        def perturb(u, xi):
            dtype = _core.compute_dtype(u.dtype)
            # jax.random.normal's complex draw has variance 1/2 per part: scale by sqrt(2)
            scale = std * jnp.sqrt(jnp.float32(2.0)) if _core.is_complex(u) else std
            return (u.astype(dtype) + (scale.astype(xi.dtype) * xi).astype(dtype)).astype(u.dtype)

        updates = _core.map_floats(perturb, updates, noise)
        return updates, LangevinNoiseState(_core.next_count(state.count), next_key)

    return optax.GradientTransformation(init_fn, update_fn)
