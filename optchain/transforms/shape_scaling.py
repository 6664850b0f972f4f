"""Scaling of matrix updates by factors of their shape (Muon's width and RMS matching)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax

from optchain import _core
from optchain.transforms.orthogonalize import (
    DimensionNumbers,
    dimension_numbers_per_leaf,
    matrix_fans,
)

__all__ = ["scale_by_shape"]


def scale_by_shape(
    weight_dimension_numbers: DimensionNumbers = None,
    consistent_rms: Any = None,
) -> optax.GradientTransformation:
    r"""Scale each matrix update by a factor of its fans: :math:`\sqrt{\max(1, n_{out}/n_{in})}`, or :math:`\rho\sqrt{\max(n_{in}, n_{out})}` with ``consistent_rms`` :math:`\rho`.

    :math:`n_{in}` is the product of the reduction axes' sizes, :math:`n_{out}` of the output
    axes'. An orthogonalized :math:`n_{in} \times n_{out}` matrix has RMS
    :math:`1/\sqrt{\max(n_{in}, n_{out})}`; the second factor gives it the RMS :math:`\rho`
    whatever its shape (0.2 is about AdamW's), the first is Jordan's width scaling. Values are
    optax's ``scale_by_shape`` (in ``optax.contrib._muon``). Integer and boolean leaves get a
    zero update; a floating leaf of rank below 2 raises a ``ValueError``.

    Args:
      weight_dimension_numbers: as in :func:`optchain.orthogonalize_matrices` (``None``:
        every leaf is a matrix, rows then columns).
      consistent_rms: :math:`\rho \ge 0`, or ``None`` for the width scaling.

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_shape()  # 2 x 8: sqrt(8 / 2) = 2
      >>> tx.update(jnp.ones((2, 8)), tx.init(None))[0][0, :2]
      Array([2., 2.], dtype=float32)

    References:
      Jordan, *Muon* (github.com/KellerJordan/Muon), 2024; Liu et al., *Muon is Scalable for
      LLM Training*, arXiv:2502.16982, 2025.
    """
    if consistent_rms is not None:
        _core.check_hyperparameter("consistent_rms", consistent_rms, low=0.0, allow_schedule=False)

    def factor(shape, dims):
        if len(shape) < 2:
            raise ValueError(
                f"scale_by_shape scales matrices: leaves must have rank >= 2; got shape {shape}"
            )
        fan_in, fan_out = matrix_fans(shape, dims)
        if consistent_rms is None:  # an empty matrix has nothing to scale
            return jnp.sqrt(jnp.maximum(1, fan_out / max(fan_in, 1)))
        return jnp.sqrt(jnp.maximum(fan_in, fan_out)) * consistent_rms

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        dims = dimension_numbers_per_leaf(weight_dimension_numbers, updates)
        scaled = _core.map_floats(
            lambda u, d: (factor(u.shape, d.dims) * u).astype(u.dtype),
            updates,
            dims,
            same_shape=False,
        )
        return scaled, state

    return optax.GradientTransformation(init_fn, update_fn)
