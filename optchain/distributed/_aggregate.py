"""The aggregators: mean, majority vote of signs, scaled-sign mean, sparse (index, value) mean."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

AxisName = Any


class AggregateState(NamedTuple):
    """State of the aggregators (they keep nothing)."""


def _exchange(exchange: Any, name: str) -> optax.GradientTransformation:
    """An aggregator from ``exchange(leaves) -> flat results``: it receives the non-empty float
    leaves and returns, concatenated in the same order, each leaf's aggregated entries
    (float32); empty leaves pass through, integer and boolean leaves get zero updates. Signs
    and magnitudes have no complex meaning here: ``init`` rejects complex parameters."""

    def init_fn(params):
        _core.check_leaves(params, name, complex_ok=False)
        return AggregateState()

    def update_fn(updates, state, params=None):
        del params
        leaves, treedef = jax.tree.flatten(updates)
        leaves = [_core.as_leaf(x) for x in leaves]
        for x in leaves:
            if _core.is_complex(x):
                raise ValueError(f"{name} has no meaning for complex updates; got {x.dtype}")
        idx = [i for i, x in enumerate(leaves) if _core.is_float(x) and x.size]
        out = [x if _core.is_float(x) else _core.zero_update(x) for x in leaves]
        if not idx:
            return jax.tree.unflatten(treedef, out), state
        result = exchange([leaves[i] for i in idx])
        offset = 0
        for i in idx:
            leaf = leaves[i]
            out[i] = result[offset : offset + leaf.size].reshape(leaf.shape).astype(leaf.dtype)
            offset += leaf.size
        return jax.tree.unflatten(treedef, out), state

    return optax.GradientTransformation(init_fn, update_fn)


def _gather_sign_bits(leaves: list[Any], axis_name: AxisName) -> jax.Array:
    """Every device's sign bits (1: entry >= 0) of the given leaves, packed 8 per byte for the
    all-gather and unpacked after it: a ``(devices, total entries)`` uint8 array."""
    total = sum(x.size for x in leaves)
    bits = jnp.concatenate([jnp.ravel(x >= 0) for x in leaves])
    gathered = jax.lax.all_gather(jnp.packbits(bits), axis_name)  # (devices, ceil(total / 8))
    return jnp.unpackbits(gathered, axis=-1, count=total)


def _check_axis_name(axis_name: AxisName) -> None:
    if axis_name is None or (isinstance(axis_name, str) and not axis_name):
        raise ValueError(
            "axis_name must name the pmap axis or the shard_map mesh axis, got " + repr(axis_name)
        )


def mean_across_devices(axis_name: AxisName) -> optax.GradientTransformation:
    r"""Mean over devices: :math:`u \mapsto \frac{1}{n}\sum_i u^{(i)}` (``jax.lax.pmean``).

    The uncompressed baseline; each float (or complex) leaf is all-reduced in its own dtype.

    Args:
      axis_name: the ``pmap`` axis name or ``shard_map`` mesh axis (or a tuple of them).

    Returns:
      An ``optax.GradientTransformation`` with the empty state :class:`AggregateState`.

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> tx, g = optchain.mean_across_devices("i"), jnp.array([[1.0, -2.0], [3.0, 4.0]])
      >>> jax.vmap(lambda u: tx.update(u, tx.init(u))[0], axis_name="i")(g)[0]  # 2 devices
      Array([2., 1.], dtype=float32)

    References:
      Goyal et al., *Accurate, Large Minibatch SGD*, 2017 (synchronous data parallelism).
    """
    _check_axis_name(axis_name)

    def init_fn(params):
        del params
        return AggregateState()

    def update_fn(updates, state, params=None):
        del params
        return _core.map_floats(lambda u: jax.lax.pmean(u, axis_name), updates), state

    return optax.GradientTransformation(init_fn, update_fn)


def majority_vote(axis_name: AxisName) -> optax.GradientTransformation:
    r"""Majority vote of signs across devices: :math:`u \mapsto \operatorname{sign}\big(\sum_i s_i\big)`,
    :math:`s_i = +1` where device :math:`i`'s update is :math:`\ge 0`, else :math:`-1`.

    Each device packs its signs, all float leaves together, 8 per byte (``jnp.packbits``), and
    the bytes are all-gathered: one bit per entry per device, 32x fewer than a float32
    all-reduce. With an even number of devices a tie gives 0. One bit cannot carry three
    values, so an exact zero votes +1 (and NaN votes -1: guard non-finite gradients first).

    Args:
      axis_name: the ``pmap`` axis name or ``shard_map`` mesh axis.

    Returns:
      An ``optax.GradientTransformation`` with the empty state :class:`AggregateState`;
      updates come out as -1, 0 or +1 in each leaf's dtype.

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> tx, g = optchain.majority_vote("i"), jnp.array([[1.0, -2.0], [3.0, -4.0], [-1.0, 6.0]])
      >>> jax.vmap(lambda u: tx.update(u, tx.init(u))[0], axis_name="i")(g)[0]  # 3 devices
      Array([ 1., -1.], dtype=float32)

    References:
      Bernstein et al., *signSGD with Majority Vote is Communication Efficient and Fault
      Tolerant*, ICLR 2019.
    """
    _check_axis_name(axis_name)

    def vote(leaves):
        votes = _gather_sign_bits(leaves, axis_name)  # (devices, entries), 1 for >= 0
        tally = 2 * jnp.sum(votes, axis=0, dtype=jnp.int32) - jnp.int32(votes.shape[0])
        return jnp.sign(tally)

    return _exchange(vote, "majority_vote")


def scaled_sign_mean(axis_name: AxisName) -> optax.GradientTransformation:
    r"""Mean of scaled signs across devices: :math:`u \mapsto \frac{1}{n}\sum_i s^{(i)}_l
    \operatorname{sign}(u^{(i)})`, with one scale per leaf :math:`s_l = \lVert u_l \rVert_1 /
    \#\{u_l \ne 0\}` (the mean magnitude of the non-zero entries).

    The aggregator for error-feedback sign compression: after ``error_feedback(scaled_sign())``
    each leaf is :math:`\pm s_l` and this exchange is exact, at one bit per entry plus 4 bytes
    per leaf (signs packed as in :func:`majority_vote`). An exact zero is sent as :math:`+s_l`.

    Args:
      axis_name: the ``pmap`` axis name or ``shard_map`` mesh axis.

    Returns:
      An ``optax.GradientTransformation`` with the empty state :class:`AggregateState`.

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> tx, g = optchain.scaled_sign_mean("i"), jnp.array([[1.0, -3.0], [4.0, 4.0]])
      >>> jax.vmap(lambda u: tx.update(u, tx.init(u))[0], axis_name="i")(g)[0]  # (2, -2), (4, 4)
      Array([3., 1.], dtype=float32)

    References:
      Karimireddy et al., *Error Feedback Fixes SignSGD and other Gradient Compression
      Schemes*, ICML 2019; Zheng et al., *Communication-Efficient Distributed Blockwise
      Momentum SGD with Error-Feedback*, NeurIPS 2019.
    """
    _check_axis_name(axis_name)

    def scale(x):
        x = jnp.abs(x.astype(_core.compute_dtype(x.dtype)))
        nonzero = jnp.maximum(jnp.count_nonzero(x), 1).astype(x.dtype)
        return (jnp.sum(x) / nonzero).astype(jnp.float32)

    def average(leaves):
        signs = 2.0 * _gather_sign_bits(leaves, axis_name).astype(jnp.float32) - 1.0
        scales = jax.lax.all_gather(jnp.stack([scale(x) for x in leaves]), axis_name)
        per_entry = jnp.concatenate(
            [jnp.repeat(scales[:, j : j + 1], x.size, axis=1) for j, x in enumerate(leaves)], axis=1
        )  # (devices, entries)
        return jnp.sum(signs * per_entry, axis=0) / jnp.float32(signs.shape[0])

    return _exchange(average, "scaled_sign_mean")


def buffer_density(density: _core.ScalarOrSchedule, max_density: float | None = None) -> float:
    """The static density that sizes sparse buffers: ``max_density``, else ``density`` itself,
    else a schedule's value at step 0 (DGC's warm-up starts densest)."""
    if max_density is None:
        if callable(density):
            max_density = float(density(jnp.zeros([], jnp.int32)))
        else:
            max_density = float(density)  # type: ignore[arg-type]
    _core.check_hyperparameter(
        "max_density", max_density, low=0.0, high=1.0, low_open=True, allow_schedule=False
    )
    return float(max_density)


def _capacity(density: float, size: int) -> int:
    return min(size, max(1, math.ceil(density * size)))


def sparse_mean(axis_name: AxisName, density: float) -> optax.GradientTransformation:
    r"""Sparse exchange: every device sends the :math:`k_l = \lceil \rho\, n_l \rceil` entries
    of largest magnitude of each leaf as (int32 index, float32 value) pairs; the result is the
    dense mean :math:`\frac{1}{n}\sum_i \operatorname{topk}(u^{(i)})`.

    All leaves' pairs travel in one all-gather of :math:`8 \sum_l k_l` bytes per device
    (:math:`8\rho` bytes per entry against 4 for a float32 all-reduce). After
    :func:`dgc_sparsify` with the same density the exchange is exact.

    Args:
      axis_name: the ``pmap`` axis name or ``shard_map`` mesh axis.
      density: fraction :math:`\rho \in (0, 1]` of each leaf sent (static; 1: the plain mean).

    Returns:
      An ``optax.GradientTransformation`` with the empty state :class:`AggregateState`.

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> tx, g = optchain.sparse_mean("i", 0.5), jnp.array([[1.0, -3.0], [4.0, 2.0]])
      >>> jax.vmap(lambda u: tx.update(u, tx.init(u))[0], axis_name="i")(g)[0]  # -3 and 4 sent
      Array([ 2. , -1.5], dtype=float32)

    References:
      Lin et al., *Deep Gradient Compression: Reducing the Communication Bandwidth for
      Distributed Training*, ICLR 2018.
    """
    _check_axis_name(axis_name)
    _core.check_hyperparameter(
        "density", density, low=0.0, high=1.0, low_open=True, allow_schedule=False
    )
    density = float(density)

    def average(leaves):
        indices, values, offset = [], [], 0
        for leaf in leaves:
            flat = jnp.ravel(leaf)
            k = _capacity(density, flat.size)
            if k == flat.size:
                chosen = jnp.arange(flat.size, dtype=jnp.int32)
            else:
                magnitude = jnp.abs(flat.astype(_core.compute_dtype(flat.dtype)))
                chosen = jax.lax.top_k(magnitude, k)[1]
            indices.append(chosen.astype(jnp.int32) + jnp.int32(offset))
            values.append(flat[chosen].astype(jnp.float32))
            offset += flat.size
        all_idx = jax.lax.all_gather(jnp.concatenate(indices), axis_name)
        all_val = jax.lax.all_gather(jnp.concatenate(values), axis_name)
        dense = jnp.zeros(offset, jnp.float32).at[all_idx.ravel()].add(all_val.ravel())
        return dense / jnp.float32(all_idx.shape[0])

    return _exchange(average, "sparse_mean")
