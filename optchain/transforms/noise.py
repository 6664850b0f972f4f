"""Gradient noise injection."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


def _check_key(key: Any, name: str) -> None:
    """Raises a ``ValueError`` naming ``name`` unless ``key`` is a PRNG key (typed, or a raw
    ``uint32[2]`` from ``jax.random.PRNGKey``) or an integer seed (a Python int or an integer
    scalar array, possibly traced, as ``inject_hyperparams`` passes it)."""
    if isinstance(key, bool):
        raise ValueError(f"{name} must be a jax.random key or an int seed; got {key!r}")
    if isinstance(key, int):
        return
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        return
    if dtype is not None and jnp.issubdtype(dtype, jnp.integer):
        if shape == () or (shape == (2,) and dtype == jnp.uint32):
            return
    raise ValueError(f"{name} must be a jax.random key or an int seed; got {key!r}")


def _as_key(key: Any) -> jax.Array:
    """A typed PRNG key from a key or a seed accepted by :func:`_check_key` (optax's
    ``canonicalize_key``; a raw ``uint32[2]`` key keeps its bits, so its stream is the same).
    A given key is copied: each ``init`` returns a fresh buffer, which a jitted step may
    donate without deleting the caller's key (or the next ``init``'s)."""
    if isinstance(key, int):
        return jax.random.key(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jnp.array(key, copy=True)
    if key.shape == (2,):
        return jax.random.wrap_key_data(jnp.array(key, copy=True))
    return jax.random.key(key)


@_core.shares_count()
class AddNoiseState(NamedTuple):
    """State of :func:`add_noise` (optax's fields): the counter and the PRNG key of the next
    draw (a typed key, ``jax.random.key``)."""

    count: jax.Array
    rng_key: jax.Array


def add_noise(
    eta: _core.ScalarOrSchedule,
    gamma: _core.ScalarOrSchedule,
    key: Any = None,
    *,
    seed: Any = None,
) -> optax.GradientTransformation:
    r"""Annealed Gaussian gradient noise: :math:`u_t = g_t + N(0, \sigma_t^2)`, :math:`\sigma_t^2 = \eta / (1 + t)^\gamma`.

    :math:`t` counts updates from 0 (the first update has variance :math:`\eta`).
    The key lives in the state and is split once per update (the next key, then the
    sample key, drawn per leaf with ``optax.tree.random_like``), so the stream is the
    same as optax's ``add_noise`` and a restored checkpoint continues bit for bit.
    Complex updates get complex noise (``jax.random.normal``'s: variance
    :math:`\sigma_t^2` split evenly between the real and imaginary parts), as in optax.

    Args:
      eta: :math:`\eta \ge 0` (initial variance), or a schedule.
      gamma: :math:`\gamma \ge 0` (annealing exponent), or a schedule.
      key: a ``jax.random`` key or an int seed (``None``: seed 0, as optax).
      seed: an int seed, instead of ``key`` (optax's older argument; an injected
        hyperparameter may pass it as an integer array).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`AddNoiseState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.add_noise(eta=0.0, gamma=0.55, key=0)
      >>> tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))[0]
      Array([1., 1.], dtype=float32)

    References:
      Neelakantan et al., *Adding Gradient Noise Improves Learning for Very Deep
      Networks*, 2015.
    """
    _core.check_hyperparameter("eta", eta, low=0.0)
    _core.check_hyperparameter("gamma", gamma, low=0.0)
    if seed is not None:
        if key is not None:
            raise ValueError("add_noise: give key or seed, not both")
        _check_key(seed, "seed")
        key = seed
    elif key is None:
        key = 0
    else:
        _check_key(key, "key")

    def init_fn(params):
        del params
        return AddNoiseState(_core.zero_count(), _as_key(key))

    def update_fn(updates, state, params=None):
        del params
        steps = _core.next_count(state.count).astype(jnp.float32)
        variance = _core.resolve(eta, state.count) / steps ** _core.resolve(gamma, state.count)
        std = jnp.sqrt(jnp.asarray(variance, jnp.float32))
        next_key, sample_key = jax.random.split(state.rng_key)
        noise = optax.tree.random_like(sample_key, _noise_target(updates), jax.random.normal)

        def perturb(g, n):
            dtype = _core.compute_dtype(g.dtype)
            return (g.astype(dtype) + std.astype(dtype) * n.astype(dtype)).astype(g.dtype)

        updates = _core.map_floats(perturb, updates, noise)
        return updates, AddNoiseState(_core.next_count(state.count), next_key)

    return optax.GradientTransformation(init_fn, update_fn)


def _noise_target(updates: Any, dtype: Any = None) -> Any:
    """The tree to draw noise like: every leaf gets a draw (integer leaves a float32
    placeholder), so the stream on the float leaves is exactly optax's."""

    def target(u):
        u = _core.as_leaf(u)
        if not _core.is_float(u):
            return jnp.zeros(jnp.shape(u), jnp.float32)
        if dtype is None:
            return u
        return jnp.zeros(jnp.shape(u), _core.accumulator_dtype_for(u, dtype))

    return jax.tree.map(target, updates)


def _last_perturbation(state: Any, fire: jax.Array) -> jax.Array:
    """The step of the last perturbation after this update. A saturated counter no longer
    advances, so the last perturbation moves back one step instead and the steps since it keep
    counting; one that would go below 0 becomes -1 ("none yet": more than ``2**31 - 1`` steps
    ago, which satisfies any interval)."""
    last = jnp.where(fire, state.count, state.last_perturbation)
    saturated = _core.next_count(state.count) == state.count
    return jnp.where(saturated & (last >= 0), last - 1, last)


@_core.shares_count()
class PerturbNearSaddleState(NamedTuple):
    """State of :func:`perturb_near_saddle`: counter, key, step of the last perturbation
    (-1: none yet; once the counter saturates, moved back a step per update) and how many
    perturbations were made (saturating)."""

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
    radius :math:`\alpha r`. The key lives in the state (a typed key, split once per update),
    so runs are reproducible and resume bit for bit. A complex entry counts as two real
    dimensions of the ball.

    Args:
      radius: :math:`r \ge 0`, or a schedule.
      grad_threshold: :math:`g_{\text{thres}} \ge 0` on the global gradient norm, or a schedule.
      interval: at least this many steps between perturbations (:math:`t_{\text{thres}}`).
      key: a ``jax.random`` key or an int seed.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`PerturbNearSaddleState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.perturb_near_saddle(radius=0.1, key=0)
      >>> u, state = tx.update(jnp.zeros(3), tx.init(jnp.zeros(3)))  # a flat point
      >>> bool(0 < jnp.linalg.norm(u) <= 0.1), int(state.perturbations)
      (True, 1)

    References:
      Jin et al., *How to Escape Saddle Points Efficiently*, ICML 2017.
    """
    _core.check_hyperparameter("radius", radius, low=0.0)
    _core.check_hyperparameter("grad_threshold", grad_threshold, low=0.0)
    _core.check_hyperparameter("interval", interval, low=0, allow_schedule=False, integer=True)
    _check_key(key, "key")

    def init_fn(params):
        del params
        return PerturbNearSaddleState(
            _core.zero_count(),
            _as_key(key),
            jnp.full([], -1, jnp.int32),
            jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None):
        del params
        leaves = [_core.as_leaf(u) for u in jax.tree.leaves(updates)]
        floats = [u for u in leaves if _core.is_float(u)]
        # real dimensions: a complex entry has two
        dim = sum(u.size * (2 if _core.is_complex(u) else 1) for u in floats)
        norm = jnp.sqrt(sum((_core.square_sum(u) for u in floats), jnp.zeros([], jnp.float32)))
        threshold = jnp.asarray(_core.resolve(grad_threshold, state.count), jnp.float32)
        waited = (state.last_perturbation < 0) | (state.count - state.last_perturbation >= interval)
        fire = (norm <= threshold) & waited & (dim > 0)
        next_key, direction_key, radius_key = jax.random.split(state.key, 3)
        # the direction is drawn in float32 (complex64 for complex leaves) for every leaf:
        # low-precision draws would make the ball's radius depend on rounding (and jit
        # differ from eager); complex64 draws are isotropic in the plane
        target = _noise_target(updates, jnp.float32)
        direction = optax.tree.random_like(direction_key, target, jax.random.normal)
        d_norm = jnp.sqrt(
            sum(
                (
                    _core.square_sum(n)
                    for n, u in zip(jax.tree.leaves(direction), leaves, strict=True)
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
            _last_perturbation(state, fire),
            _core.count_if(state.perturbations, fire),
        )

    return optax.GradientTransformation(init_fn, update_fn)
