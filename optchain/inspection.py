"""Looking into optimizer state: what every leaf is, where it sits and how much memory it takes.

:func:`state_summary` is the state's counterpart of :func:`optchain.group_summary` (which
shows the parameters); both print with :func:`text_table`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["state_summary", "text_table"]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks.

    Example:
      >>> print(text_table(("name", "size"), [("mu", "12"), ("count", "4")]))
      name   size
      mu     12
      count  4
    """
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    )


def _dtype(leaf: Any) -> Any:
    """The leaf's dtype; a Python scalar's is the one JAX gives it (int32 without x64)."""
    return leaf.dtype if hasattr(leaf, "dtype") else jnp.asarray(leaf).dtype


def state_summary(state: Any) -> str:
    """A table of every leaf of an optimizer state: path, shape, dtype and bytes, then totals
    (leaves and bytes) per dtype and overall.

    Paths are ``jax.tree_util.keystr`` of the leaf's key path (``optax.tree.get`` finds the
    named ones, such as ``mu`` and ``count``). Bytes are those of the whole (logical) array,
    not of one device's shard. Leaves need only ``shape`` and ``dtype``, so
    ``state_summary(jax.eval_shape(tx.init, params))`` sizes a state without allocating it.

    Args:
      state: any pytree (an optimizer state, parameters, ``jax.ShapeDtypeStruct`` leaves).

    Returns:
      The table as a string (print it), like :func:`optchain.group_summary`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.momentum(0.9, accumulator_dtype=jnp.bfloat16)
      >>> print(optchain.state_summary(tx.init({"w": jnp.ones((2, 3)), "b": jnp.ones(3)})))
      path         shape   dtype     bytes
      .count       ()      int32     4
      .trace['b']  (3,)    bfloat16  6
      .trace['w']  (2, 3)  bfloat16  12
      <BLANKLINE>
      dtype     leaves  bytes
      int32     1       4
      bfloat16  2       18
      total     3       22

    References:
      torch's ``optimizer.state_dict()["state"]``; ``jax.eval_shape``; orbax's checkpoint
      metadata (``Checkpointer.metadata``) for a saved state.
    """
    rows, totals = [], {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        shape = tuple(np.shape(leaf))
        dtype = _dtype(leaf)
        size = math.prod(shape) * dtype.itemsize
        rows.append((jax.tree_util.keystr(path), str(shape), str(dtype), str(size)))
        entry = totals.setdefault(str(dtype), [0, 0])
        entry[0] += 1
        entry[1] += size
    summary = [(k, str(n), str(b)) for k, (n, b) in totals.items()]
    summary.append(
        ("total", str(sum(n for n, _ in totals.values())), str(sum(b for _, b in totals.values())))
    )
    return (
        text_table(("path", "shape", "dtype", "bytes"), rows)
        + "\n\n"
        + text_table(("dtype", "leaves", "bytes"), summary)
    )
