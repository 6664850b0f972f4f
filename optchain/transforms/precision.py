"""Optimizer state stored in a narrow dtype (bfloat16) with float32 arithmetic and stochastic
rounding."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


@_core.shares_count("inner_state")
class LowPrecisionState(NamedTuple):
    """State of :func:`low_precision_state`: the step counter (it seeds the rounding) and the
    wrapped transform's state with its array accumulators in the narrow dtype."""

    count: jax.Array
    inner_state: Any


def _mix(x: jax.Array) -> jax.Array:
    """A 32-bit integer hash (a murmur3-style finaliser), element-wise on uint32."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def stochastic_round_bf16(x: jax.Array, salt: jax.Array) -> jax.Array:
    """float32 -> bfloat16, rounding up with probability equal to the dropped fraction
    (unbiased: E[round(x)] = x). ``salt`` (uint32) varies the dither per step and per leaf."""
    bits = jax.lax.bitcast_convert_type(x.astype(jnp.float32), jnp.uint32)
    index = jax.lax.iota(jnp.uint32, x.size).reshape(x.shape)
    dither = _mix(index * jnp.uint32(0x9E3779B1) + salt) & jnp.uint32(0xFFFF)
    rounded = (bits + dither) & jnp.uint32(0xFFFF0000)
    finite = jnp.isfinite(x)
    out = jax.lax.bitcast_convert_type(rounded, jnp.float32)
    return jnp.where(finite, out, x).astype(jnp.bfloat16)


def low_precision_state(
    inner: optax.GradientTransformation,
    dtype: Any = jnp.bfloat16,
    *,
    stochastic_rounding: bool = True,
    seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
    r"""Store every array accumulator of ``inner`` (moments, sums of squares, FTML and
    delta-bar-delta state, momentum, ...) in ``dtype``; run ``inner`` in float32.

    Each step the state is widened to float32, ``inner`` updates it, and the new state is
    narrowed again. With ``stochastic_rounding`` (bfloat16 only) the narrowing rounds up with
    probability equal to the dropped fraction, so small increments survive on average: plain
    round-to-nearest loses them (an infinity-norm decay of 0.999 rounds back to the same
    bfloat16 value, and a sum of squares stops growing once the increments fall below its
    last bit). The dither comes from a hash of the element index, the step and ``seed``:
    deterministic, no key to carry. Scalars (counters, products of decays) stay as they are.
    State memory for the accumulators halves against float32. There is no narrow complex
    dtype: ``init`` rejects complex parameters. In short,
    :math:`(u_t, s') = T(g_t, \mathrm{f32}(s_t))`, :math:`s_{t+1} = \mathrm{round}_{dtype}(s')`.

    Args:
      inner: any transform or optimizer.
      dtype: the storage dtype (``jnp.bfloat16`` or ``jnp.float16``).
      stochastic_rounding: round stochastically (bfloat16 only); otherwise to nearest.
      seed: varies the rounding dither.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`LowPrecisionState`.

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> tx = optchain.low_precision_state(optchain.adam(0.1))
      >>> state = tx.init(jnp.zeros(4))
      >>> u, state = tx.update(jnp.ones(4), state)
      >>> u, sorted({str(x.dtype) for x in jax.tree.leaves(state) if x.ndim})
      (Array([-0.1, -0.1, -0.1, -0.1], dtype=float32), ['bfloat16'])

    References:
      Zamirai et al., *Revisiting BFloat16 Training*, 2020 (stochastic rounding of the
      optimizer state).
    """
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16)):
        raise ValueError(f"dtype must be bfloat16 or float16, got {dtype}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an int; got {seed!r}")
    stochastic = stochastic_rounding and dtype == jnp.dtype(jnp.bfloat16)
    inner = optax.with_extra_args_support(inner)

    def is_accumulator(x):
        return (
            _core.is_float(x) and jnp.ndim(x) > 0 and jnp.dtype(x.dtype).itemsize > dtype.itemsize
        )

    def narrow(state, count):
        leaves, treedef = jax.tree.flatten(state)
        out = []
        for i, x in enumerate(leaves):
            if not is_accumulator(x):
                out.append(x)
            elif stochastic and x.dtype == jnp.float32:
                salt = _mix(
                    count.astype(jnp.uint32) * jnp.uint32(0x85EBCA77)
                    + jnp.uint32((seed * 7919 + i) % 2**32)
                )
                out.append(stochastic_round_bf16(x, salt))
            else:
                out.append(x.astype(dtype))
        return jax.tree.unflatten(treedef, out)

    def init_fn(params):
        # no narrow complex dtype exists: complex accumulators cannot be stored narrowed
        _core.check_leaves(params, "low_precision_state", complex_ok=False)
        full = inner.init(params)
        return LowPrecisionState(
            _core.zero_count(),
            jax.tree.map(lambda x: x.astype(dtype) if is_accumulator(x) else x, full),
        )

    def update_fn(updates, state, params=None, **extra_args):
        wide = jax.tree.map(
            lambda x: (
                x.astype(jnp.float32)
                if _core.is_float(x) and x.dtype == dtype and jnp.ndim(x) > 0
                else x
            ),
            state.inner_state,
        )
        updates, new = inner.update(updates, wide, params, **extra_args)
        return updates, LowPrecisionState(_core.next_count(state.count), narrow(new, state.count))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
