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


class PerturbNearSaddleState(NamedTuple):
    """State of :func:`perturb_near_saddle`: counter, key, step of the last perturbation
    (-1: none yet) and how many perturbations were made."""

    count: jax.Array
    key: jax.Array
    last_perturbation: jax.Array
    perturbations: jax.Array


def perturb_near_saddle(
    radius: _core.ScalarOrSchedule = 0.1,
    grad_threshold: _core.ScalarOrSchedule = 1e-3,
    interval: int = 50,
    *,
    key: Any = 0,
) -> optax.GradientTransformation:
    r"""Perturbed gradient descent: when :math:`\lVert g \rVert \le g_{\text{thres}}` and no
    perturbation happened in the last ``interval`` steps, add :math:`\xi` drawn uniformly from
    the ball of radius :math:`r` (over all leaves together); otherwise pass :math:`g` through.

    Put it on the gradient, before the learning rate: parameters then move within a ball of
    radius :math:`\alpha r`. The key lives in the state (split once per update), so runs are
    reproducible and resume bit for bit.

    Args:
      radius: :math:`r \ge 0`, or a schedule.
      grad_threshold: :math:`g_{\text{thres}} \ge 0` on the global gradient norm, or a schedule.
      interval: at least this many steps between perturbations (:math:`t_{\text{thres}}`).
      key: a ``jax.random`` key or an int seed.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`PerturbNearSaddleState`.

    References:
      Jin et al., *How to Escape Saddle Points Efficiently*, ICML 2017.
    """
    _core.check_hyperparameter("radius", radius, low=0.0)
    _core.check_hyperparameter("grad_threshold", grad_threshold, low=0.0)
    _core.check_hyperparameter("interval", interval, low=0, allow_schedule=False)
    if isinstance(key, bool) or not (isinstance(key, int) or hasattr(key, "dtype")):
        raise ValueError(f"key must be a jax.random key or an int seed; got {key!r}")

    def init_fn(params):
        del params
        k = jax.random.PRNGKey(key) if isinstance(key, int) else jnp.asarray(key)
        return PerturbNearSaddleState(
            _core.zero_count(), k, jnp.full([], -1, jnp.int32), jnp.zeros([], jnp.int32)
        )

    def update_fn(updates, state, params=None):
        del params
        floats = [u for u in jax.tree.leaves(updates) if _core.is_float(u)]
        dim = sum(u.size for u in floats)
        norm = jnp.sqrt(sum((_core.square_sum(u) for u in floats), jnp.zeros([], jnp.float32)))
        threshold = jnp.asarray(_core.resolve(grad_threshold, state.count), jnp.float32)
        waited = (state.last_perturbation < 0) | (state.count - state.last_perturbation >= interval)
        fire = (norm <= threshold) & waited & (dim > 0)
        next_key, direction_key, radius_key = jax.random.split(state.key, 3)
        # the direction is drawn in float32 for every leaf: low-precision draws would make the
        # ball's radius depend on rounding (and jit differ from eager)
        target = jax.tree.map(lambda u: jnp.zeros(jnp.shape(u), jnp.float32), updates)
        direction = optax.tree.random_like(direction_key, target, jax.random.normal)
        d_norm = jnp.sqrt(
            sum(
                (
                    _core.square_sum(n)
                    for n, u in zip(
                        jax.tree.leaves(direction), jax.tree.leaves(updates), strict=True
                    )
                    if _core.is_float(u)
                ),
                jnp.zeros([], jnp.float32),
            )
        )
        r = jnp.asarray(_core.resolve(radius, state.count), jnp.float32)
        length = r * jax.random.uniform(radius_key, (), jnp.float32) ** (1.0 / max(dim, 1))
        factor = jnp.where(fire, length / jnp.maximum(d_norm, 1e-30), 0.0)

        def perturb(g, n):
            dtype = _core.compute_dtype(g.dtype)
            return (g.astype(dtype) + factor.astype(dtype) * n.astype(dtype)).astype(g.dtype)

        updates = _core.map_floats(perturb, updates, direction)
        return updates, PerturbNearSaddleState(
            _core.next_count(state.count),
            next_key,
            jnp.where(fire, state.count, state.last_perturbation),
            state.perturbations + fire.astype(jnp.int32),
        )

    return optax.GradientTransformation(init_fn, update_fn)
