"""The flat-buffer layout: params, gradients and optimizer state as one contiguous buffer per
dtype, so every element-wise transform runs as a handful of large fused operations instead of
one small kernel per leaf.

Switching a train step::

    layout = optchain.flat.Layout.of(params)          # once, from the params tree
    flat_params = layout.flatten(params)              # {"float32": 1-D buffer, ...}
    state = tx.init(flat_params)

    def loss_on_flat(flat_params, batch):             # the model still sees its tree
        return loss_fn(layout.unflatten(flat_params), batch)

    grads = jax.grad(loss_on_flat)(flat_params, batch)   # flat too
    updates, state = tx.update(grads, state, flat_params)
    flat_params = optax.apply_updates(flat_params, updates)

Element-wise transforms (every moment, scaling, sign, clip, decay, schedule) give the same
numbers as on the tree. Techniques that work per leaf (block clipping, AGC, trust ratios, leaf
masks, parameter groups) need the leaf boundaries: wrap them in :func:`per_leaf` (views of the
leaves, any transform), or use the segment-aware :func:`clip_by_block_norm` and :func:`masked`.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optchain import _core
from optchain.groups import path_string


class _Slot(NamedTuple):
    key: str  # the buffer (dtype name)
    offset: int
    shape: tuple[int, ...]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _split(buffer: jax.Array, sizes: tuple[int, ...]) -> tuple[jax.Array, ...]:
    """Cut a 1-D buffer into consecutive pieces of ``sizes`` (which cover it exactly)."""
    bounds = np.cumsum((0, *sizes))
    return tuple(
        jax.lax.slice_in_dim(buffer, int(a), int(b))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    )


def _split_fwd(buffer, sizes):
    return _split(buffer, sizes), None


def _split_bwd(sizes, _, cotangents):
    # the pieces tile the buffer, so the cotangent is their concatenation: one pass, where
    # differentiating the slices would add one zero-padded full-size buffer per leaf
    del sizes
    return (jnp.concatenate(cotangents),)


_split.defvjp(_split_fwd, _split_bwd)


class Layout:
    """Where each leaf of a params tree lives in the per-dtype buffers."""

    def __init__(self, treedef: Any, slots: list[_Slot], sizes: dict[str, int], paths: list[str]):
        self.treedef = treedef
        self.slots = slots
        self.sizes = sizes
        self.paths = paths

    @classmethod
    def of(cls, tree: Any) -> Layout:
        """The layout of ``tree`` (arrays or ``ShapeDtypeStruct``s)."""
        flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
        sizes: dict[str, int] = {}
        slots = []
        for _, leaf in flat:
            leaf = _core.as_leaf(leaf)
            key = jnp.dtype(leaf.dtype).name
            shape = tuple(int(d) for d in np.shape(leaf))
            slots.append(_Slot(key, sizes.get(key, 0), shape))
            sizes[key] = sizes.get(key, 0) + math.prod(shape)
        return cls(treedef, slots, sizes, [path_string(p) for p, _ in flat])

    def flatten(self, tree: Any) -> dict[str, jax.Array]:
        """One 1-D buffer per dtype, leaves concatenated in tree order."""
        leaves = self.treedef.flatten_up_to(tree)
        parts: dict[str, list[jax.Array]] = {k: [] for k in self.sizes}
        for slot, leaf in zip(self.slots, leaves, strict=True):
            leaf = jnp.asarray(leaf)
            if jnp.dtype(leaf.dtype).name != slot.key or leaf.shape != slot.shape:
                raise ValueError(
                    f"leaf {self.paths[len(parts[slot.key])]!r}: expected {slot.key}{list(slot.shape)}, got {leaf.dtype}{list(leaf.shape)}"
                )
            parts[slot.key].append(jnp.ravel(leaf))
        return {k: (jnp.concatenate(v) if v else jnp.zeros(0, k)) for k, v in parts.items()}

    def unflatten(self, buffers: dict[str, jax.Array]) -> Any:
        """The tree, each leaf a reshaped slice (a view inside ``jit``) of its buffer."""
        pieces = {}
        for key, buffer in buffers.items():
            sizes = tuple(math.prod(s.shape) for s in self.slots if s.key == key)
            pieces[key] = iter(_split(buffer, sizes) if sizes else ())
        leaves = [next(pieces[s.key]).reshape(s.shape) for s in self.slots]
        return jax.tree.unflatten(self.treedef, leaves)

    def segment_ids(self, key: str) -> np.ndarray:
        """For buffer ``key``, the index (among that buffer's leaves) of every element."""
        sizes = [math.prod(s.shape) for s in self.slots if s.key == key]
        return np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)

    def expand(self, tree_of_scalars: Any) -> dict[str, jax.Array]:
        """A per-leaf value (bool mask, float factor) repeated over each leaf's elements."""
        leaves = self.treedef.flatten_up_to(tree_of_scalars)
        parts: dict[str, list[jax.Array]] = {k: [] for k in self.sizes}
        for slot, value in zip(self.slots, leaves, strict=True):
            parts[slot.key].append(jnp.broadcast_to(jnp.asarray(value), slot.shape).ravel())
        return {k: (jnp.concatenate(v) if v else jnp.zeros(0)) for k, v in parts.items()}

    def __repr__(self) -> str:
        return f"Layout({len(self.slots)} leaves, buffers {self.sizes})"


def per_leaf(
    tx: optax.GradientTransformation, layout: Layout
) -> optax.GradientTransformationExtraArgs:
    """Run ``tx`` on the leaf views of flat updates (and params), then flatten its output:
    any per-leaf technique (block clipping, AGC, trust ratio, ``optax.masked``,
    ``optchain.param_groups``) works on the flat layout. Its state is the tree-shaped state
    of ``tx``.
    """
    inner = optax.with_extra_args_support(tx)

    def init_fn(params):
        return inner.init(layout.unflatten(params))

    def update_fn(updates, state, params=None, **extra_args):
        tree_params = None if params is None else layout.unflatten(params)
        out, state = inner.update(layout.unflatten(updates), state, tree_params, **extra_args)
        return layout.flatten(out), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class FlatClipState(NamedTuple):
    """State of :func:`clip_by_block_norm` (it keeps nothing)."""


def block_norms(buffer: jax.Array, layout: Layout, key: str) -> jax.Array:
    """The L2 norm of every leaf inside one flat buffer (one segment sum), in float32 (complex
    entries count by :math:`|x|^2`)."""
    ids = layout.segment_ids(key)
    squares = _core.abs_sq(buffer.astype(_core.compute_dtype(buffer.dtype)))
    return jnp.sqrt(
        jax.ops.segment_sum(squares, jnp.asarray(ids), num_segments=int(ids.max(initial=-1)) + 1)
    )


def clip_by_block_norm(max_norm: float, layout: Layout) -> optax.GradientTransformation:
    r"""Per-leaf norm clipping on flat buffers: each leaf's slice is scaled by
    :math:`\min(1, c / \lVert u_l \rVert)`, as :func:`optchain.clip_by_block_norm` on the tree,
    with one segment sum and one gather per buffer."""
    _core.check_hyperparameter("max_norm", max_norm, low=0.0, low_open=True, allow_schedule=False)

    def init_fn(params):
        del params
        return FlatClipState()

    def update_fn(updates, state, params=None):
        del params
        out = {}
        for key, buf in updates.items():
            if not _core.is_float(buf):
                out[key] = _core.zero_update(buf)
                continue
            if buf.size == 0:
                out[key] = buf
                continue
            norms = block_norms(buf, layout, key)
            factor = jnp.minimum(1.0, max_norm / jnp.maximum(norms, 1e-30)).astype(norms.dtype)
            scale = factor[jnp.asarray(layout.segment_ids(key))]
            wide = _core.accumulator_dtype_for(buf, scale.dtype)
            out[key] = (buf.astype(wide) * scale.astype(wide)).astype(buf.dtype)
        return out, state

    return optax.GradientTransformation(init_fn, update_fn)


def masked(
    tx: optax.GradientTransformation, layout: Layout, mask: Any
) -> optax.GradientTransformationExtraArgs:
    """Apply ``tx`` only to the leaves where ``mask`` (a tree of bools like the params, or
    ``params -> tree``) is true; elsewhere the update passes through, as with ``optax.masked``.
    ``tx`` runs over whole buffers (its state covers every element), so use it with
    element-wise transforms such as weight decay. Integer and boolean buffers get zero
    updates, never the raw gradient.
    """
    inner = optax.with_extra_args_support(tx)

    def init_fn(params):
        return inner.init(params)

    def update_fn(updates, state, params=None, **extra_args):
        if callable(mask):
            _core.require_params(params, updates, "flat.masked")
            tree_mask = mask(layout.unflatten(params))  # type: ignore[arg-type]
        else:
            tree_mask = mask
        keep = layout.expand(tree_mask)
        out, state = inner.update(updates, state, params, **extra_args)
        result = {
            k: (
                jnp.where(keep[k].astype(bool), out[k], u)  # type: ignore[index]
                if _core.is_float(u)
                else _core.zero_update(u)
            )
            for k, u in updates.items()
        }
        return result, state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
