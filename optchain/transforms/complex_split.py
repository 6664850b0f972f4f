"""Complex parameters as pairs of real ones: an inner transform sees each complex leaf as its
real and imaginary parts, and its two real outputs become one complex update again."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax

from optchain import _core

__all__ = [
    "SplitRealAndImaginaryArrays",
    "SplitRealAndImaginaryState",
    "split_real_and_imaginary",
]


class SplitRealAndImaginaryArrays(NamedTuple):
    """A complex leaf as the two real leaves the inner transform sees."""

    real: Any
    imaginary: Any


@_core.shares_count("inner_state")
class SplitRealAndImaginaryState(NamedTuple):
    """State of :func:`split_real_and_imaginary` (optax's field): the inner transform's
    state, built on the split tree."""

    inner_state: Any


def _split(x: Any) -> Any:
    if x is not None and _core.is_complex(x):
        x = _core.as_leaf(x)
        return SplitRealAndImaginaryArrays(x.real, x.imag)
    return x


def _merge(x: Any) -> Any:
    if isinstance(x, SplitRealAndImaginaryArrays):
        return jax.lax.complex(x.real, x.imaginary)
    return x


def _is_pair(x: Any) -> bool:
    return isinstance(x, SplitRealAndImaginaryArrays)


def split_real_and_imaginary(
    inner: optax.GradientTransformation,
) -> optax.GradientTransformationExtraArgs:
    r"""Runs ``inner`` on complex leaves as real pairs: :math:`u = T(\Re g, \Im g)_1 + i\,T(\Re g, \Im g)_2`.

    Each complex leaf of the updates and parameters becomes a
    :class:`SplitRealAndImaginaryArrays` ``(real, imaginary)`` of real leaves, so ``inner``
    treats a complex parameter exactly as two real ones (Adam's second moment of a complex
    gradient is then per part, :math:`(\Re g)^2` and :math:`(\Im g)^2`, not :math:`|g|^2`);
    the two real outputs are merged back into one complex update. Real leaves pass to
    ``inner`` as they are. Extra keyword arguments of ``update`` reach ``inner``.

    JAX's gradient of a real loss in a complex parameter is the conjugate of the steepest
    ascent direction: conjugate it (``jax.tree.map(jnp.conj, grads)``) before ``update``.

    Args:
      inner: the transform to run on the split tree.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`SplitRealAndImaginaryState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.split_real_and_imaginary(optchain.sign())
      >>> g = jnp.array([3.0 - 0.5j, -2.0 + 0.0j])
      >>> tx.update(g, tx.init(jnp.zeros(2, jnp.complex64)))[0]  # sign of each part
      Array([ 1.-1.j, -1.+0.j], dtype=complex64)

    References:
      optax issue 196, *complex-valued optimization* (https://github.com/google-deepmind/optax/issues/196).
    """
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        return SplitRealAndImaginaryState(inner.init(jax.tree.map(_split, params)))

    def update_fn(updates, state, params=None, **extra_args):
        split_updates = jax.tree.map(_split, updates)
        split_params = jax.tree.map(_split, params)
        out, inner_state = inner.update(
            split_updates, state.inner_state, split_params, **extra_args
        )
        out = jax.tree.map(_merge, out, is_leaf=_is_pair)
        return out, SplitRealAndImaginaryState(inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
