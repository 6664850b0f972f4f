"""Global reductions over a whole tree (inner products, norms, the real dtype of scalar state)
that treat complex leaves as points of the real plane: :math:`\\langle a, b\\rangle =
\\operatorname{Re} \\sum a \\bar b`, :math:`|a|^2 = a \\bar a`. Integer and boolean leaves are
not optimized and take no part."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optchain import _core


def _float_leaves(*trees: Any) -> list[tuple[Any, ...]]:
    flat = [jax.tree.leaves(t) for t in trees]
    return [
        tuple(_core.as_leaf(x) for x in leaves)
        for leaves in zip(*flat, strict=True)
        if _core.is_float(_core.as_leaf(leaves[0]))
    ]


def real_vdot(a: Any, b: Any) -> jax.Array:
    r""":math:`\operatorname{Re}\sum_l \sum_i a_{l,i} \overline{b_{l,i}}` over the floating
    leaves, in at least float32 (the real inner product; optax's ``tree.vdot`` for real leaves)."""
    terms = []
    for x, y in _float_leaves(a, b):
        dt = _core.compute_dtype(_core.real_dtype(x.dtype))
        term = jnp.sum(jnp.real(x).astype(dt) * jnp.real(y).astype(dt))
        if jnp.iscomplexobj(x) and jnp.iscomplexobj(y):
            term = term + jnp.sum(jnp.imag(x).astype(dt) * jnp.imag(y).astype(dt))
        terms.append(term)
    return _total(terms)


def _total(terms: list[jax.Array]) -> jax.Array:
    """The sum of scalar terms in the widest of their dtypes (float32 for none)."""
    if not terms:
        return jnp.zeros([], jnp.float32)
    dt = _core.wider_dtype(*(t.dtype for t in terms))
    return sum((t.astype(dt) for t in terms[1:]), terms[0].astype(dt))


def l1_norm(a: Any) -> jax.Array:
    r""":math:`\sum_l \sum_i |a_{l,i}|` (the modulus for complex entries), in at least float32."""
    terms = []
    for (x,) in _float_leaves(a):
        dt = _core.compute_dtype(_core.real_dtype(x.dtype))
        terms.append(jnp.sum(jnp.abs(x.astype(_core.compute_dtype(x.dtype))).astype(dt)))
    return _total(terms)


def l2_norm(a: Any) -> jax.Array:
    r""":math:`\sqrt{\sum_l \sum_i |a_{l,i}|^2}`, in at least float32."""
    return jnp.sqrt(_total([_core.square_sum(x) for (x,) in _float_leaves(a)]))


def scalar_dtype(params: Any) -> Any:
    """The dtype of a scalar statistic of ``params`` (optax stores its distance estimates and
    Mechanic's scales in the lowest floating dtype of the parameters): the real dtype of the
    narrowest floating or complex leaf; float32 where there is none, or where the narrowest are
    two dtypes of one width (float16 with bfloat16: no lowest)."""
    dtypes = {
        jnp.dtype(_core.real_dtype(leaf.dtype))
        for x in jax.tree.leaves(params)
        if _core.is_float(leaf := _core.as_leaf(x)) or _core.is_complex(leaf)
    }
    if not dtypes:
        return jnp.dtype(jnp.float32)
    width = min(d.itemsize for d in dtypes)
    narrowest = [d for d in dtypes if d.itemsize == width]
    return narrowest[0] if len(narrowest) == 1 else jnp.dtype(jnp.float32)


def copy_tree(params: Any) -> Any:
    """A copy of ``params`` that shares no buffer with it (a stored starting point)."""
    return jax.tree.map(lambda p: jnp.array(_core.as_leaf(p), copy=True), params)
