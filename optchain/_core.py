"""Shared machinery: hyperparameters that may be schedules, counters, dtypes, tree checks.

Every transform in optchain resolves its hyperparameters, advances its counter and
casts its outputs through the helpers here, so those conventions live in one place:

* A hyperparameter is a number or a schedule ``step -> value``. The first update of a
  transform calls the schedule with step 0 (the transform's own counter before it is
  incremented).
* Counters are ``int32`` scalars that saturate at ``2**31 - 1`` instead of wrapping
  (:func:`optax.safe_increment`).
* Updates leave a transform in the dtype they entered it with; accumulators have their
  own dtype (``accumulator_dtype``), ``None`` meaning "the dtype of the parameter".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.core import Tracer

Schedule = Callable[[jax.Array], Any]
ScalarOrSchedule = float | int | jax.Array | Schedule

__all__ = [
    "Schedule",
    "ScalarOrSchedule",
    "check_hyperparameter",
    "concrete_float",
    "check_choice",
    "resolve",
    "as_scalar",
    "zero_count",
    "next_count",
    "bias_correction_factor",
    "cast_tree",
    "check_trees_match",
    "tree_zeros",
    "compute_dtype",
    "wider_dtype",
    "square_sum",
    "scale_leaf",
    "divide_leaf",
    "CountState",
    "one_minus",
    "negate",
    "require_params",
    "is_float",
    "map_floats",
]


def _is_concrete_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, Tracer):
        return False
    return hasattr(value, "shape") and getattr(value, "shape", None) == ()


def concrete_float(value: Any) -> float | None:
    """``float(value)`` for a concrete number, ``None`` for a schedule or a traced value."""
    return float(value) if _is_concrete_number(value) else None


def check_hyperparameter(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_schedule: bool = True,
) -> Any:
    """Validates a hyperparameter at construction time and returns it unchanged.

    A number must be finite and lie in the interval described by ``low``/``high``
    (``*_open`` makes that end exclusive). A schedule is accepted when
    ``allow_schedule`` and checked lazily by nothing (its values are traced).

    Raises:
      ValueError: naming ``name`` and the allowed range.
    """
    if callable(value):
        if not allow_schedule:
            raise ValueError(f"{name} must be a number, not a schedule; got {value!r}")
        return value
    if not _is_concrete_number(value):
        if isinstance(value, Tracer):
            return value
        raise ValueError(f"{name} must be a number or a schedule step -> value; got {value!r}")
    number = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    allowed = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    bad = not math.isfinite(number)
    if low is not None and (number < low or (low_open and number == low)):
        bad = True
    if high is not None and (number > high or (high_open and number == high)):
        bad = True
    if bad:
        raise ValueError(f"{name} must be in {allowed}; got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    """Raises ``ValueError`` naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def resolve(value: ScalarOrSchedule, count: jax.Array) -> Any:
    """The value of a hyperparameter at ``count`` (an int32 scalar, 0 on the first update).

    A schedule is called with the counter and its result is returned as a float32
    scalar (so a bfloat16 model never rounds its hyperparameters). A plain Python
    number is returned as is: it stays weakly typed, so ``1 - b1`` is computed in
    double precision exactly as optax does, and it combines with leaves of any dtype.
    """
    if callable(value):
        # Schedules are user code (often optax's, which mix Python floats with the int32
        # counter): run them under standard promotion even when the caller is strict.
        with jax.numpy_dtype_promotion("standard"):
            return jnp.asarray(value(count), dtype=jnp.float32)
    return value


def as_scalar(value: Any, dtype: Any) -> Any:
    """``value`` ready to combine with a leaf of ``dtype`` under strict promotion."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return jnp.asarray(value).astype(dtype)


def zero_count() -> jax.Array:
    """A fresh int32 step counter."""
    return jnp.zeros([], jnp.int32)


def next_count(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at the largest int32 instead of wrapping."""
    return jnp.asarray(optax.safe_increment(count))


def bias_correction_factor(decay: Any, steps: jax.Array) -> jax.Array:
    """``1 - decay**steps`` as a float32 scalar (the denominator of Adam's debiasing).

    ``steps`` counts updates including the current one (1 on the first update).
    """
    return 1 - jnp.power(decay, steps.astype(jnp.float32))


def _leaf_dtype(leaf: Any) -> Any:
    return getattr(leaf, "dtype", None)


def cast_tree(tree: Any, like: Any) -> Any:
    """Each leaf of ``tree`` cast to the dtype of the matching leaf of ``like``.

    Where ``like`` is not floating point (an integer or boolean update passing through),
    the result is ``like``'s leaf itself.
    """

    def cast(x, ref):
        if not is_float(ref):
            return ref
        dtype = _leaf_dtype(ref)
        return x if x.dtype == dtype else x.astype(dtype)

    return jax.tree.map(cast, tree, like)


def tree_zeros(params: Any, dtype: Any = None) -> Any:
    """Zeros shaped like ``params`` in ``dtype`` (``None``: each leaf's own dtype)."""
    return optax.tree.zeros_like(params, dtype=dtype)


def wide_zeros(params: Any, dtype: Any = None) -> Any:
    """Zeros shaped like ``params`` for a float32-or-wider accumulator: ``dtype`` if given,
    else each float leaf's :func:`compute_dtype`; integer leaves keep their own dtype."""

    def zeros(p):
        if not is_float(p):
            return jnp.zeros_like(p)
        return jnp.zeros(jnp.shape(p), dtype or compute_dtype(p.dtype))

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


class CountState(NamedTuple):
    """State of a transform whose only memory is its step counter (for schedules)."""

    count: jax.Array


def compute_dtype(dtype: Any) -> Any:
    """The dtype arithmetic on a leaf of ``dtype`` runs in: at least float32."""
    return wider_dtype(dtype, jnp.float32)


def wider_dtype(*dtypes: Any) -> Any:
    """The widest of several floating dtypes (no promotion lattice, so strict-mode safe)."""
    return max((jnp.dtype(d) for d in dtypes), key=lambda d: d.itemsize)


def square_sum(leaf: jax.Array) -> jax.Array:
    """Sum of squares of a whole leaf, accumulated in at least float32 (for norms)."""
    y = leaf.astype(compute_dtype(leaf.dtype))
    return jnp.sum(y * y)


def scale_leaf(leaf: jax.Array, factor: Any) -> jax.Array:
    """``leaf * factor`` computed in at least float32 and returned in ``leaf``'s dtype."""
    dtype = compute_dtype(leaf.dtype)
    return (leaf.astype(dtype) * as_scalar(factor, dtype)).astype(leaf.dtype)


def divide_leaf(leaf: jax.Array, divisor: Any) -> jax.Array:
    """``leaf / divisor`` computed in at least float32 and returned in ``leaf``'s dtype."""
    dtype = compute_dtype(leaf.dtype)
    return (leaf.astype(dtype) / as_scalar(divisor, dtype)).astype(leaf.dtype)


def one_minus(value: ScalarOrSchedule) -> ScalarOrSchedule:
    """``1 - value`` for a number, or the schedule ``t -> 1 - value(t)``."""
    if callable(value):
        return lambda step: 1 - jnp.asarray(value(step), jnp.float32)
    return 1 - value


def negate(value: ScalarOrSchedule) -> ScalarOrSchedule:
    """``-value`` for a number, or the schedule ``t -> -value(t)``."""
    if callable(value):
        return lambda step: -jnp.asarray(value(step), jnp.float32)
    return -value


def is_float(leaf: Any) -> bool:
    """Whether a leaf is a floating-point array (the leaves optchain transforms act on)."""
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.floating)


def map_floats(fn: Callable[..., Any], updates: Any, *others: Any, keep: int = 0) -> Any:
    """``jax.tree.map(fn, updates, *others)`` on the leaves where ``updates`` is floating point.

    Integer and boolean leaves are not optimized: there the result is the leaf of the tree
    at position ``keep`` (0 is ``updates`` itself, 1 the first of ``others``, ...), so an
    integer update passes through untouched and its state leaf never changes. ``None``
    leaves are empty subtrees and stay ``None``.
    """

    def leaf(u, *rest):
        return fn(u, *rest) if is_float(u) else (u, *rest)[keep]

    return jax.tree.map(leaf, updates, *others)


def map_floats_multi(
    fn: Callable[..., Any], updates: Any, *others: Any, keep: tuple[int, ...]
) -> tuple[Any, ...]:
    """Like :func:`map_floats` for a ``fn`` that returns ``len(keep)`` values per leaf (an
    update and new state leaves computed in one pass); returns that many trees. On integer and
    boolean leaves tree ``j`` holds the leaf of input ``keep[j]`` (0: ``updates``)."""
    n = len(keep)

    def leaf(u, *rest):
        if is_float(u):
            return tuple(fn(u, *rest))
        args = (u, *rest)
        return tuple(args[k] for k in keep)

    results = jax.tree.map(leaf, updates, *others)

    def is_result(x):
        return isinstance(x, tuple) and len(x) == n

    return tuple(jax.tree.map(lambda r, j=j: r[j], results, is_leaf=is_result) for j in range(n))


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
