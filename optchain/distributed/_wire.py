"""What a compiled program's collectives move: bytes per collective, read from its HLO text."""

from __future__ import annotations

import math
import re
from typing import Any

_COLLECTIVES = ("all-reduce", "all-gather", "all-to-all", "reduce-scatter", "collective-permute")
_BYTES = {
    "pred": 1,
    "s8": 1,
    "u8": 1,
    "s16": 2,
    "u16": 2,
    "f16": 2,
    "bf16": 2,
    "s32": 4,
    "u32": 4,
    "f32": 4,
    "s64": 8,
    "u64": 8,
    "f64": 8,
}
_SHAPE = re.compile(r"\b(pred|[suf]\d+|bf16)\[([\d,]*)\]")
_OP = re.compile(r"=\s*(\(.*?\)|\S+)\s+(" + "|".join(_COLLECTIVES) + r")(-start)?\(")


def _shape_sizes(text: str) -> list[int]:
    return [
        _BYTES.get(dtype, 4) * math.prod(int(d) for d in dims.split(",") if d)
        for dtype, dims in _SHAPE.findall(text)
    ]


def collective_bytes(hlo_text: str, devices: int) -> dict[str, Any]:
    """Bytes that one device puts into the collectives of a compiled (SPMD) HLO module.

    ``sent`` counts each collective's per-device input: an all-reduce's operand, an
    all-gather's output divided by ``devices``, an all-to-all's buffer. ``ring`` estimates what
    one device transmits with ring algorithms: :math:`2\\frac{n-1}{n}S` for an all-reduce of
    :math:`S` bytes, :math:`(n-1)S` for an all-gather of :math:`S` bytes per device,
    :math:`\\frac{n-1}{n}S` for all-to-all and reduce-scatter.

    Args:
      hlo_text: ``jax.jit(f).lower(...).compile().as_text()``.
      devices: the number of devices in the collectives' group.

    Returns:
      ``{"sent": int, "ring": float, "ops": [(kind, bytes sent), ...]}``.

    Example:
      >>> import optchain
      >>> hlo = "%r = f32[1024]{0} all-reduce(f32[1024]{0} %g), replica_groups={}"
      >>> optchain.collective_bytes(hlo, devices=4)
      {'sent': 4096, 'ring': 6144.0, 'ops': [('all-reduce', 4096)]}

    References:
      Patarasuk & Yuan, *Bandwidth optimal all-reduce algorithms*, JPDC 2009 (ring costs).
    """
    n = devices
    sent, ring, ops = 0, 0.0, []
    for line in hlo_text.splitlines():
        match = _OP.search(line)
        if match is None or "-done" in line.split("=")[1].split("(")[0]:
            continue
        kind = match.group(2)
        sizes = _shape_sizes(match.group(1))
        if match.group(3):  # async start: a tuple of (operands, results, context scalars)
            out_bytes = max(sizes) if kind == "all-gather" else sum(sizes) // 2 or sum(sizes)
        else:
            out_bytes = sum(sizes)
        if kind == "all-reduce":
            s, r = out_bytes, 2 * (n - 1) / n * out_bytes
        elif kind == "all-gather":
            s = out_bytes // n
            r = (n - 1) * s
        elif kind == "reduce-scatter":
            s = out_bytes * n
            r = (n - 1) / n * s
        else:  # all-to-all, collective-permute
            s, r = out_bytes, (n - 1) / n * out_bytes
        sent += s
        ring += r
        ops.append((kind, s))
    return {"sent": sent, "ring": ring, "ops": ops}
