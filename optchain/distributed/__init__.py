"""Cross-device aggregation and compression: communication is a transform.

Each aggregator takes the ``axis_name`` of a ``jax.pmap`` or ``shard_map`` mesh axis and runs
inside it on the device's local updates: :func:`mean_across_devices` (``pmean``, 4 bytes per
float32 entry), :func:`majority_vote` (bit-packed signs, 1 bit per entry),
:func:`scaled_sign_mean` (packed signs plus a float32 scale per leaf) and :func:`sparse_mean`
(each leaf's top-k as (int32 index, float32 value) pairs). Compressors run before it, per
device: :func:`dgc_sparsify` and ``error_feedback(scaled_sign())`` (in ``transforms.sign``).
:func:`collective_bytes` reads what a compiled program's collectives move.
"""

from optchain.distributed._aggregate import (
    AggregateState,
    buffer_density,
    majority_vote,
    mean_across_devices,
    scaled_sign_mean,
    sparse_mean,
)
from optchain.distributed._dgc import DgcState, dgc_sparsify
from optchain.distributed._wire import collective_bytes

__all__ = [
    "AggregateState",
    "DgcState",
    "buffer_density",
    "collective_bytes",
    "dgc_sparsify",
    "majority_vote",
    "mean_across_devices",
    "scaled_sign_mean",
    "sparse_mean",
]
