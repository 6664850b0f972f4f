"""Leaf rules shared by every transform: which leaves are optimized, dtypes, tree checks.

* Real and complex floating-point leaves are optimized; integer and boolean leaves get a
  zero update of their own dtype; Python scalars become the arrays ``jit`` would make.
* Arithmetic on a leaf runs in at least float32 and comes back in the leaf's dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def as_scalar(value: Any, dtype: Any) -> Any:
    """``value`` ready to combine with a leaf of ``dtype`` under strict promotion."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return jnp.asarray(value).astype(dtype)


def _leaf_dtype(leaf: Any) -> Any:
    return getattr(leaf, "dtype", None)


def cast_tree(tree: Any, like: Any) -> Any:
    """Each leaf of ``tree`` cast to the dtype of the matching leaf of ``like``.

    Where ``like`` is not optimized (an integer or boolean update), the result is a zero
    update of ``like``'s dtype.
    """

    def cast(x, ref):
        ref = as_leaf(ref)
        if not is_float(ref):
            return zero_update(ref)
        dtype = _leaf_dtype(ref)
        return x if x.dtype == dtype else x.astype(dtype)

    return jax.tree.map(cast, tree, like)


def tree_zeros(params: Any, dtype: Any = None) -> Any:
    """Zeros shaped like ``params`` in ``dtype`` (``None``: each leaf's own dtype).

    A real ``dtype`` for a complex leaf would drop its imaginary part, so there the
    accumulator takes the complex dtype of that precision."""
    return jax.tree.map(
        lambda p: jnp.zeros_like(as_leaf(p), accumulator_dtype_for(p, dtype)), params
    )


def accumulator_dtype_for(leaf: Any, dtype: Any = None) -> Any:
    """The dtype of an accumulator for ``leaf``: ``dtype`` (``None``: the leaf's own), made
    complex of the same precision when the leaf is complex and ``dtype`` is real floating."""
    leaf = as_leaf(leaf)
    if dtype is None:
        return leaf.dtype
    dtype = jnp.dtype(dtype)
    if is_complex(leaf) and jnp.issubdtype(dtype, jnp.floating):
        return jnp.dtype(jnp.complex128 if dtype.itemsize > 4 else jnp.complex64)
    return dtype


def wide_zeros(params: Any, dtype: Any = None) -> Any:
    """Zeros shaped like ``params`` for a float32-or-wider accumulator: ``dtype`` if given,
    else each float leaf's :func:`compute_dtype`; integer leaves keep their own dtype."""

    def zeros(p):
        p = as_leaf(p)
        if not is_float(p):
            return jnp.zeros_like(p)
        return jnp.zeros_like(p, accumulator_dtype_for(p, dtype or compute_dtype(p.dtype)))

    return jax.tree.map(zeros, params)


def _paths_and_leaves(tree: Any) -> list[tuple[str, Any]]:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: x is None)
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in flat]


def check_trees_match(updates: Any, reference: Any, what: str = "optimizer state") -> None:
    """Raises a ``ValueError`` naming the first path where two trees' structures differ.

    Runs at trace time only (structures are static), so it costs nothing in a jitted step.
    """
    is_none = lambda x: x is None  # noqa: E731
    if jax.tree.structure(updates, is_leaf=is_none) == jax.tree.structure(
        reference, is_leaf=is_none
    ):
        return
    left = [path for path, _ in _paths_and_leaves(updates)]
    right = [path for path, _ in _paths_and_leaves(reference)]
    extra = [p for p in left if p not in set(right)]
    missing = [p for p in right if p not in set(left)]
    if extra or missing:
        parts = []
        if extra:
            parts.append(f"updates{extra[0]} has no counterpart in the {what}")
        if missing:
            parts.append(f"{what}{missing[0]} is missing from the updates")
        raise ValueError("updates do not match the " + what + ": " + "; ".join(parts))
    raise ValueError(
        f"updates do not match the {what}: same paths but different container types "
        f"({jax.tree.structure(updates)} versus {jax.tree.structure(reference)})"
    )


def compute_dtype(dtype: Any) -> Any:
    """The dtype arithmetic on a leaf of ``dtype`` runs in: at least float32."""
    return wider_dtype(dtype, jnp.float32)


def wider_dtype(*dtypes: Any) -> Any:
    """The widest of several floating dtypes (no promotion lattice, so strict-mode safe)."""
    return max((jnp.dtype(d) for d in dtypes), key=lambda d: d.itemsize)


def square_sum(leaf: jax.Array) -> jax.Array:
    """Sum of ``|x|**2`` over a whole leaf, real, accumulated in at least float32 (for norms)."""
    leaf = as_leaf(leaf)
    y = leaf.astype(compute_dtype(leaf.dtype))
    return jnp.sum(abs_sq(y))


def scale_leaf(leaf: jax.Array, factor: Any) -> jax.Array:
    """``leaf * factor`` computed in at least float32 and returned in ``leaf``'s dtype."""
    dtype = compute_dtype(leaf.dtype)
    return (leaf.astype(dtype) * as_scalar(factor, dtype)).astype(leaf.dtype)


def divide_leaf(leaf: jax.Array, divisor: Any) -> jax.Array:
    """``leaf / divisor`` computed in at least float32 and returned in ``leaf``'s dtype."""
    dtype = compute_dtype(leaf.dtype)
    return (leaf.astype(dtype) / as_scalar(divisor, dtype)).astype(leaf.dtype)


def _is_python_scalar(leaf: Any) -> bool:
    return isinstance(leaf, (bool, int, float, complex))


def as_leaf(leaf: Any) -> Any:
    """A Python scalar leaf as the array jit would make of it (weakly typed); others as they are.

    So a hand-made gradient ``{"w": 1.0}`` is optimized eagerly exactly as under ``jax.jit``.
    """
    return jnp.asarray(leaf) if _is_python_scalar(leaf) else leaf


def is_float(leaf: Any) -> bool:
    """Whether a leaf is optimized: a real or complex floating-point array (or Python scalar).

    Integer and boolean leaves are not optimized (their updates are zeros of their own dtype).
    """
    if _is_python_scalar(leaf):
        return isinstance(leaf, (float, complex))
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.inexact)


def is_complex(leaf: Any) -> bool:
    """Whether a leaf is a complex floating-point array (or Python complex)."""
    if _is_python_scalar(leaf):
        return isinstance(leaf, complex)
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.complexfloating)


def abs_sq(x: jax.Array) -> jax.Array:
    """``|x|**2`` element-wise: ``x * x`` for real ``x``, the real ``x * conj(x)`` for complex
    (the second moment of a complex gradient, as in optax)."""
    if jnp.iscomplexobj(x):
        return jnp.real(x) * jnp.real(x) + jnp.imag(x) * jnp.imag(x)
    return x * x


def real_dtype(dtype: Any) -> Any:
    """The real dtype of the same precision (``complex64 -> float32``); real dtypes unchanged."""
    return jnp.finfo(dtype).dtype if jnp.issubdtype(dtype, jnp.inexact) else jnp.dtype(dtype)


def _leaf_paths(tree: Any) -> list[tuple[str, Any]]:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in flat]


def check_leaves(params: Any, transform: str, *, complex_ok: bool = True) -> None:
    """Raises a ``ValueError`` naming the path and dtype of the first leaf ``transform`` cannot
    optimize: a dtype that is neither floating, complex, integer nor boolean (a PRNG key, a
    string), or a complex leaf when ``complex_ok`` is false (a method with no complex meaning).
    Runs at ``init`` (trace time), so nothing is ever skipped silently."""
    for path, leaf in _leaf_paths(params):
        leaf = as_leaf(leaf)
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:
            raise ValueError(f"{transform}: leaf params{path} is not an array; got {leaf!r}")
        kind_ok = jnp.issubdtype(dtype, jnp.inexact) or jnp.issubdtype(dtype, jnp.integer)
        if not (kind_ok or jnp.issubdtype(dtype, jnp.bool_)):
            raise ValueError(
                f"{transform}: leaf params{path} has dtype {dtype}, which it cannot optimize "
                "(floating, complex, integer and bool leaves are supported)"
            )
        if not complex_ok and jnp.issubdtype(dtype, jnp.complexfloating):
            raise ValueError(
                f"{transform} has no meaning for complex parameters: leaf params{path} has "
                f"dtype {dtype}; optimize its real and imaginary parts as two real leaves"
            )


def zero_update(leaf: Any) -> Any:
    """The update of a leaf that is not optimized (integer, bool): zeros of its own dtype."""
    return jnp.zeros_like(as_leaf(leaf))


def map_floats(
    fn: Callable[..., Any], updates: Any, *others: Any, keep: int = 0, same_shape: bool = True
) -> Any:
    """``jax.tree.map(fn, updates, *others)`` on the leaves where ``updates`` is optimized
    (real or complex floating point; Python scalars first become arrays, as under jit).

    Integer and boolean leaves are not optimized: there the result is a zero update of the
    leaf's own dtype when ``keep`` is 0 (the result is an update), else the leaf of the tree at
    position ``keep`` (1 the first of ``others``, ...: a state leaf that never changes).
    A ``None`` update leaf (optax's "no update") stays ``None`` and matches any subtree of the
    other trees; there too a ``keep`` > 0 result is that tree's subtree, unchanged.
    With ``same_shape`` (the default) every non-scalar leaf of ``others`` must have the update
    leaf's shape (:func:`check_same_shape`); a state that stacks several copies (a tail
    buffer) passes ``False``.
    """

    def leaf(path, u, *rest):
        if u is None:  # optax's "no update here" (a frozen or masked-out leaf)
            return None if keep == 0 else rest[keep - 1]
        u, rest = as_leaf(u), tuple(as_leaf(r) for r in rest)
        if is_float(u):
            if same_shape:
                check_same_shape(path, u, rest)
            return fn(u, *rest)
        return zero_update(u) if keep == 0 else rest[keep - 1]

    return _map_with_paths(leaf, updates, others, is_leaf=lambda x: x is None)


def check_same_shape(path: Any, update: jax.Array, state_leaves: tuple[Any, ...]) -> None:
    """Raises a ``ValueError`` naming the path when a state leaf (not a scalar) has another
    shape than the update leaf: a gradient of a broadcastable wrong shape (``(3, 2)`` for a
    ``(2,)`` parameter) would otherwise reshape the state and the parameter silently. Runs at
    trace time (shapes are static), under ``jit`` too."""
    for other in state_leaves:
        shape = getattr(other, "shape", None)
        if shape and tuple(shape) != tuple(update.shape):
            raise ValueError(
                f"updates{jax.tree_util.keystr(tuple(path))} has shape {tuple(update.shape)} but "
                f"the optimizer state holds shape {tuple(shape)} there: the gradient does not "
                "match the parameters the optimizer was initialised with"
            )


def _map_with_paths(
    fn: Callable[..., Any], updates: Any, others: tuple[Any, ...], **kw: Any
) -> Any:
    """``jax.tree_util.tree_map_with_path``, whose structure errors name the first differing path."""
    try:
        return jax.tree_util.tree_map_with_path(fn, updates, *others, **kw)
    except (ValueError, TypeError) as error:
        if "shape" in str(error) and "optimizer state holds" in str(error):
            raise
        for other in others:
            check_trees_match(updates, other)
        raise


def map_floats_multi(
    fn: Callable[..., Any], updates: Any, *others: Any, keep: tuple[int, ...]
) -> tuple[Any, ...]:
    """Like :func:`map_floats` for a ``fn`` that returns ``len(keep)`` values per leaf (an
    update and new state leaves computed in one pass); returns that many trees. On integer and
    boolean leaves tree ``j`` holds the leaf of input ``keep[j]`` (0: a zero update)."""

    def leaf(path, u, *rest):
        u, rest = as_leaf(u), tuple(as_leaf(r) for r in rest)
        if is_float(u):
            check_same_shape(path, u, rest)
            return _Outputs(tuple(fn(u, *rest)))
        args = (zero_update(u), *rest)
        return _Outputs(tuple(args[k] for k in keep))

    results = _map_with_paths(leaf, updates, others)
    return tuple(jax.tree.map(lambda r, j=j: r.values[j], results) for j in range(len(keep)))


class _Outputs:
    """One leaf's outputs in :func:`map_floats_multi`: not a pytree node, so a tree whose root
    is itself a tuple of the same length is not mistaken for a result."""

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values


def computed_once(value: jax.Array, finite: jax.Array) -> jax.Array:
    """``value``, marked so that XLA stores it once instead of recomputing it in each consumer.

    XLA fuses a cheap element-wise producer into every consumer. When that producer is a new
    state leaf written in place over the donated old one, and another output (the update) is
    computed from the *old* leaves, copy insertion has to keep a copy of the old state alive:
    on XLA:CPU a fresh temporary buffer per leaf, paid in page faults on every step. A float
    divide counts as expensive in XLA's fusion cost model and is not duplicated, so dividing
    by a one that XLA cannot fold (``finite * 0 + 1``, exactly 1 for a finite ``finite``)
    makes consumers read the stored result. ``finite`` must be a leaf already read by the
    same computation (an old state leaf that is finite by construction)."""
    one = finite * jnp.zeros((), finite.dtype) + jnp.ones((), finite.dtype)
    return value / one.astype(value.dtype)


def require_params(params: Any, updates: Any, transform: str) -> Any:
    """Raises a ``ValueError`` when a transform that reads parameters is given none.

    An update with no leaves at all needs no parameters.
    """
    if params is None and jax.tree.leaves(updates):
        raise ValueError(f"{transform} needs the parameters: call update(updates, state, params)")
    return params


def real_part(x: jax.Array) -> jax.Array:
    """The real part of a complex array whose values are real (a second moment); ``x`` else."""
    return jnp.real(x) if jnp.iscomplexobj(x) else x


def full_like_tree(params: Any, value: Any, dtype: Any) -> Any:
    """``value`` shaped like each leaf, in the leaf's accumulator dtype (complex for complex)."""
    return jax.tree.map(
        lambda p: jnp.full_like(as_leaf(p), value, accumulator_dtype_for(p, dtype)), params
    )


def scale_real(g: jax.Array, factor: jax.Array) -> jax.Array:
    """``factor * g`` for a real ``factor``, in ``factor``'s precision, returned in ``g``'s dtype."""
    dt = accumulator_dtype_for(g, factor.dtype)
    return (g.astype(dt) * factor.astype(dt)).astype(g.dtype)


def ema_update(x: jax.Array, average: jax.Array, decay: Any) -> jax.Array:
    r"""One step of an exponential moving average, :math:`(1-\beta) x + \beta a`, computed in at
    least float32 and stored in ``average``'s dtype: the one EMA update every moment, RMS and
    averaging transform uses."""
    dt = compute_dtype(average.dtype)
    d = as_scalar(decay, dt)
    return ((1 - d) * x.astype(dt) + d * average.astype(dt)).astype(average.dtype)


def ema_of_squares(g: jax.Array, average: jax.Array, decay: Any) -> jax.Array:
    r""":func:`ema_update` of :math:`|g|^2` (real for complex ``g``), squared in at least float32."""
    return ema_update(abs_sq(g.astype(compute_dtype(g.dtype))), average, decay)


def _kind(dtype: Any) -> str:
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return "complex"
    if jnp.issubdtype(dtype, jnp.floating):
        return "real floating"
    return "integer or bool"


def check_updates_match_params(updates: Any, params: Any) -> None:
    """Raises a ``ValueError`` naming the leaf's path when the gradient does not match the
    parameters: another tree, another shape, or another kind of dtype (a real gradient for a
    complex parameter, an integer gradient for a float one). Widths may differ (a float32
    gradient for bfloat16 parameters is mixed precision, not a mistake). Trace-time only."""
    if params is None:
        return
    check_trees_match(updates, params, "parameters")
    flat_u = jax.tree_util.tree_flatten_with_path(updates, is_leaf=lambda x: x is None)[0]
    flat_p = jax.tree.leaves(params, is_leaf=lambda x: x is None)
    for (path, u), p in zip(flat_u, flat_p):
        if u is None or p is None:
            continue
        u, p = as_leaf(u), as_leaf(p)
        key = jax.tree_util.keystr(tuple(path))
        if tuple(u.shape) != tuple(p.shape):
            raise ValueError(
                f"updates{key} has shape {tuple(u.shape)} but params{key} has shape "
                f"{tuple(p.shape)}: the gradient does not match the parameters"
            )
        if _kind(u.dtype) != _kind(p.dtype):
            raise ValueError(
                f"updates{key} has dtype {u.dtype} ({_kind(u.dtype)}) but params{key} has dtype "
                f"{p.dtype} ({_kind(p.dtype)}): the gradient does not match the parameters"
            )
