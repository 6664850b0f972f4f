"""Gradient noise injection."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


class AddNoiseState(NamedTuple):
    """State of :func:`add_noise`: the counter and the PRNG key of the next draw."""

    count: jax.Array
    key: jax.Array


def add_noise(
    eta: _core.ScalarOrSchedule = 0.01,
    gamma: _core.ScalarOrSchedule = 0.55,
    *,
    key: Any = 0,
) -> optax.GradientTransformation:
    r"""Annealed Gaussian gradient noise: :math:`u_t = g_t + N(0, \sigma_t^2)`, :math:`\sigma_t^2 = \eta / (1 + t)^\gamma`.

    :math:`t` counts updates from 0 (the first update has variance :math:`\eta`).
    The key lives in the state and is split once per update (the next key, then the
    sample key, drawn per leaf with ``optax.tree.random_like``), so the stream is the
    same as optax's ``add_noise`` and a restored checkpoint continues bit for bit.

    Args:
      eta: :math:`\eta \ge 0` (initial variance), or a schedule.
      gamma: :math:`\gamma \ge 0` (annealing exponent), or a schedule.
      key: a ``jax.random`` key or an int seed.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`AddNoiseState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.add_noise(eta=0.0)
      >>> tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))[0]
      Array([1., 1.], dtype=float32)

    References:
      Neelakantan et al., *Adding Gradient Noise Improves Learning for Very Deep
      Networks*, 2015.
    """
    _core.check_hyperparameter("eta", eta, low=0.0)
    _core.check_hyperparameter("gamma", gamma, low=0.0)
    if isinstance(key, bool) or not (isinstance(key, int) or hasattr(key, "dtype")):
        raise ValueError(f"key must be a jax.random key or an int seed; got {key!r}")

    def init_fn(params):
        del params
        k = jax.random.PRNGKey(key) if isinstance(key, int) else jnp.asarray(key)
        return AddNoiseState(_core.zero_count(), k)

    def update_fn(updates, state, params=None):
        del params
        steps = _core.next_count(state.count).astype(jnp.float32)
        variance = _core.resolve(eta, state.count) / steps ** _core.resolve(gamma, state.count)
        std = jnp.sqrt(jnp.asarray(variance, jnp.float32))
        next_key, sample_key = jax.random.split(state.key)
        # Draw for every leaf (int leaves get a float32 placeholder) so the stream for the
        # float leaves is exactly optax's.
        target = jax.tree.map(
            lambda u: u if _core.is_float(u) else jnp.zeros(jnp.shape(u), jnp.float32), updates
        )
        noise = optax.tree.random_like(sample_key, target, jax.random.normal)

        def perturb(g, n):
            dtype = _core.compute_dtype(g.dtype)
            return (g.astype(dtype) + std.astype(dtype) * n.astype(dtype)).astype(g.dtype)

        updates = _core.map_floats(perturb, updates, noise)
        return updates, AddNoiseState(_core.next_count(state.count), next_key)

    return optax.GradientTransformation(init_fn, update_fn)
