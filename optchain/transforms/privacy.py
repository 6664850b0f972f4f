"""Differential privacy: per-example clipping and the noisy mean of the clipped examples (the
Gaussian mechanism of DP-SGD). Both take updates with a leading per-example axis."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain.transforms.noise import _as_key, _check_key

__all__ = [
    "DifferentiallyPrivateAggregateState",
    "NoisyAggregateState",
    "noisy_aggregate",
    "per_example_clip",
]


def _check_batch_axis(updates: Any, owner: str) -> int:
    """The per-example axis' length, the same on every leaf (a ``ValueError`` otherwise)."""
    leaves = jax.tree_util.tree_leaves_with_path(updates)
    if not leaves:
        return 0
    sizes = []
    for path, leaf in leaves:
        shape = jnp.shape(leaf)
        if not shape:
            raise ValueError(
                f"{owner}: updates{jax.tree_util.keystr(path)} is a scalar; every leaf needs a "
                "leading per-example axis"
            )
        sizes.append((shape[0], jax.tree_util.keystr(path)))
    for size, where in sizes:
        if size != sizes[0][0]:
            raise ValueError(
                f"{owner}: updates{where} has {size} examples but updates{sizes[0][1]} has "
                f"{sizes[0][0]}: every leaf needs the same leading per-example axis"
            )
    return int(sizes[0][0])


def _clip_examples(updates: Any, l2_norm_clip: Any) -> Any:
    """Each example (leading axis) scaled to global l2 norm at most ``l2_norm_clip``."""
    _check_batch_axis(updates, "per_example_clip")
    floats = [u for u in jax.tree.leaves(updates) if _core.is_float(u)]
    if not floats:
        return _core.map_floats(lambda u: u, updates)

    def squares(u):
        y = u.astype(_core.compute_dtype(u.dtype))
        return jnp.sum(_core.abs_sq(y).reshape(u.shape[0], -1), axis=1)

    norms = jnp.sqrt(sum(squares(u) for u in floats))
    factor = jnp.nan_to_num(jnp.minimum(l2_norm_clip / norms, 1.0), nan=1.0)

    def clip_leaf(u):
        dtype = _core.compute_dtype(u.dtype)
        f = factor.astype(dtype).reshape((-1,) + (1,) * (u.ndim - 1))
        return (u.astype(dtype) * f).astype(u.dtype)

    return _core.map_floats(clip_leaf, updates)


def _noisy_mean(updates: Any, rng_key: jax.Array, noise_std: Any) -> tuple[Any, jax.Array]:
    """The mean over the leading axis plus ``noise_std / B`` times optax's draws; the next key."""
    size = _check_batch_axis(updates, "noisy_aggregate")
    leaves, treedef = jax.tree.flatten(updates)
    next_key, *keys = jax.random.split(rng_key, len(leaves) + 1)

    def aggregate(g, k):
        if not _core.is_float(g):
            return jnp.zeros(jnp.shape(g)[1:], g.dtype)
        dtype = _core.compute_dtype(g.dtype)
        total = jnp.sum(g.astype(dtype), axis=0)
        z = jax.random.normal(k, total.shape, dtype)
        return ((total + _core.as_scalar(noise_std, dtype) * z) / size).astype(g.dtype)

    return treedef.unflatten([aggregate(g, k) for g, k in zip(leaves, keys)]), next_key


def per_example_clip(l2_norm_clip: Any) -> optax.GradientTransformation:
    r"""Per-example clipping by global norm: :math:`g_i \mapsto g_i \min(1, c / \|g_i\|)`.

    The updates carry a leading per-example axis :math:`i` (``jax.vmap(jax.grad(loss))``);
    :math:`\|g_i\|` is the l2 norm of example :math:`i`'s gradient over every leaf (of the
    moduli for complex leaves), and an example of norm 0 passes unchanged. The per-example
    axis stays (:func:`noisy_aggregate` sums it). Integer and boolean leaves get a zero
    update.

    Args:
      l2_norm_clip: :math:`c \ge 0`, the largest norm an example keeps.

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.per_example_clip(1.0)
      >>> tx.update(jnp.array([[3.0, 4.0], [0.3, 0.4]]), tx.init(None))[0]
      Array([[0.6, 0.8],
             [0.3, 0.4]], dtype=float32)

    References:
      Abadi et al., *Deep Learning with Differential Privacy*, CCS 2016.
    """
    _core.check_hyperparameter("l2_norm_clip", l2_norm_clip, low=0.0, allow_schedule=False)

    def update_fn(updates, state, params=None):
        del params
        return _clip_examples(updates, l2_norm_clip), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


class NoisyAggregateState(NamedTuple):
    """State of :func:`noisy_aggregate`: the PRNG key of the next draw (a typed key)."""

    rng_key: jax.Array


def noisy_aggregate(noise_std: Any, key: Any = None) -> optax.GradientTransformation:
    r"""The noisy mean over the per-example axis: :math:`u = (\sum_i g_i + \sigma z) / B`, :math:`z \sim N(0, I)`.

    :math:`B` is the length of the leading per-example axis, which the output no longer
    has. Each update splits the key into the next key and one key per leaf (in the order of
    ``jax.tree.leaves``) and draws :math:`z` with ``jax.random.normal`` in the leaf's dtype,
    as optax's ``differentially_private_aggregate`` does, so the noise is optax's bit for
    bit (complex leaves get complex noise, the variance split evenly between the parts).
    Integer and boolean leaves get a zero update.

    Args:
      noise_std: :math:`\sigma \ge 0`, the noise's standard deviation on the sum.
      key: a ``jax.random`` key or an int seed (``None``: seed 0).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`NoisyAggregateState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.noisy_aggregate(0.0, key=0)
      >>> tx.update(jnp.array([[1.0, 2.0], [3.0, 6.0]]), tx.init(None))[0]
      Array([2., 4.], dtype=float32)

    References:
      Abadi et al., *Deep Learning with Differential Privacy*, CCS 2016.
    """
    _core.check_hyperparameter("noise_std", noise_std, low=0.0, allow_schedule=False)
    key = 0 if key is None else key
    _check_key(key, "key")

    def init_fn(params):
        del params
        return NoisyAggregateState(_as_key(key))

    def update_fn(updates, state, params=None):
        del params
        out, next_key = _noisy_mean(updates, state.rng_key, noise_std)
        return out, NoisyAggregateState(next_key)

    return optax.GradientTransformation(init_fn, update_fn)


class DifferentiallyPrivateAggregateState(NamedTuple):
    """State of :func:`optchain.contrib.differentially_private_aggregate` (optax's field): the
    PRNG key of the next noise draw (the key of its :func:`noisy_aggregate` link)."""

    rng_key: jax.Array


def _private_aggregate(
    l2_norm_clip: Any, noise_multiplier: Any, key: Any
) -> optax.GradientTransformationExtraArgs:
    """:func:`per_example_clip` then :func:`noisy_aggregate` (standard deviation
    ``l2_norm_clip * noise_multiplier``), their one key held as optax's ``rng_key``: the
    transform behind :func:`optchain.contrib.differentially_private_aggregate`."""
    _core.check_hyperparameter("l2_norm_clip", l2_norm_clip, low=0.0, allow_schedule=False)
    _core.check_hyperparameter("noise_multiplier", noise_multiplier, low=0.0, allow_schedule=False)
    key = 0 if key is None else key
    _check_key(key, "key")
    noise_std = l2_norm_clip * noise_multiplier

    def init_fn(params):
        del params
        return DifferentiallyPrivateAggregateState(_as_key(key))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        out, next_key = _noisy_mean(_clip_examples(updates, l2_norm_clip), state.rng_key, noise_std)
        return out, DifferentiallyPrivateAggregateState(next_key)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
