"""Normalization of the whole update tree by its global norm (SAM's ascent direction)."""

from __future__ import annotations

import optax

from optchain import _core
from optchain.transforms import _tree_reductions

__all__ = ["NormalizeState", "normalize"]

NormalizeState = optax.EmptyState


def normalize() -> optax.GradientTransformation:
    r"""Divide every update by the global norm of the tree: :math:`u \mapsto u / \|u\|_2`.

    :math:`\|u\|_2^2 = \sum |u_i|^2` over every floating-point leaf (complex leaves count
    :math:`|u|^2`); integer and boolean leaves get a zero update. A zero tree gives NaN, as
    optax's ``optax.contrib.normalize`` does (whose values these are).

    Returns:
      An ``optax.GradientTransformation`` with state ``NormalizeState`` (``optax.EmptyState``).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.normalize()
      >>> tx.update({"a": jnp.array([3.0]), "b": jnp.array([4.0])}, tx.init(None))[0]
      {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}

    References:
      Foret et al., *Sharpness-Aware Minimization for Efficiently Improving Generalization*,
      ICLR 2021 (the ascent step :math:`\rho\, g / \|g\|`).
    """

    def init_fn(params):
        del params
        return NormalizeState()

    def update_fn(updates, state, params=None):
        del params
        norm = _tree_reductions.l2_norm(updates)  # in float32 for a float16 or mixed tree

        def scaled(u):
            dtype = _core.compute_dtype(u.dtype)
            return (u.astype(dtype) / norm.astype(dtype)).astype(u.dtype)

        return _core.map_floats(scaled, updates), state

    return optax.GradientTransformation(init_fn, update_fn)
