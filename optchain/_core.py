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

import inspect
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain._checks import check_choice, check_hyperparameter, concrete_float
from optchain._leaves import (
    abs_sq,
    accumulator_dtype_for,
    as_leaf,
    as_scalar,
    cast_tree,
    check_leaves,
    check_trees_match,
    check_updates_match_params,
    compute_dtype,
    computed_once,
    divide_leaf,
    ema_of_squares,
    ema_update,
    full_like_tree,
    is_complex,
    is_float,
    map_floats,
    map_floats_multi,
    real_dtype,
    real_part,
    require_params,
    scale_leaf,
    scale_real,
    square_sum,
    tree_zeros,
    wide_zeros,
    wider_dtype,
    zero_update,
)

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
    "count_if",
    "bias_correction_factor",
    "cast_tree",
    "check_trees_match",
    "check_updates_match_params",
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
    "as_leaf",
    "is_complex",
    "abs_sq",
    "real_dtype",
    "check_leaves",
    "zero_update",
    "accumulator_dtype_for",
    "wide_zeros",
    "map_floats_multi",
    "computed_once",
    "same_signature_as",
    "real_part",
    "full_like_tree",
    "scale_real",
    "ema_update",
    "ema_of_squares",
    "zeros_init",
    "counted_map",
]


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


def zero_count() -> jax.Array:
    """A fresh int32 step counter."""
    return jnp.zeros([], jnp.int32)


def next_count(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at the largest int32 instead of wrapping."""
    return jnp.asarray(optax.safe_increment(count))


def count_if(count: jax.Array, flag: jax.Array) -> jax.Array:
    """``count + 1`` where ``flag`` holds, else ``count``: an event counter (exploding steps,
    perturbations, ...) that saturates like :func:`next_count` instead of wrapping."""
    return jnp.where(flag, next_count(count), count)


def bias_correction_factor(decay: Any, steps: jax.Array) -> jax.Array:
    """``1 - decay**steps`` as a float32 scalar (the denominator of Adam's debiasing).

    ``steps`` counts updates including the current one (1 on the first update).
    """
    return 1 - jnp.power(decay, steps.astype(jnp.float32))


# A state class registered with :func:`shares_count` maps to (its count-free twin or None,
# the names of its fields that hold the states of inner transforms).
_SHARED: dict[type, tuple[type | None, tuple[str, ...]]] = {}
_TWIN_OF: dict[type, type] = {}


def shares_count(*substates: str) -> Callable[[type], type]:
    """Class decorator for a transform's state ``NamedTuple`` whose ``count`` field is the
    number of updates the transform has seen (so, in a chain, the chain's step).

    Inside :func:`optchain.counted_chain` such a state is stored as its count-free twin (a
    ``NamedTuple`` named ``<Name without 'State'>Link`` with the other fields, in the same
    module), and the chain's one counter is handed back to it on every update: a named
    optimizer has one ``count``. ``substates`` names the fields that hold inner transforms'
    states (a combinator's branches), which are shared in turn. A class without ``count`` may
    register only its substates. Used alone, a transform keeps its own counter.
    """

    def register(cls: type) -> type:
        fields = cls._fields  # type: ignore[attr-defined]
        twin = None
        if "count" in fields:
            base = cls.__name__[:-5] if cls.__name__.endswith("State") else cls.__name__
            rest = [(f, Any) for f in fields if f != "count"]
            twin = NamedTuple(base + "Link", rest)  # type: ignore[misc]
            twin.__module__ = cls.__module__
            twin.__doc__ = f"{cls.__name__} inside a counted chain (the chain holds the count)."
            setattr(sys.modules[cls.__module__], twin.__name__, twin)
            _TWIN_OF[twin] = cls
        _SHARED[cls] = (twin, tuple(substates))
        return cls

    return register


def strip_counts(state: Any) -> Any:
    """``state`` with every registered state's ``count`` removed (see :func:`shares_count`);
    plain tuples (``optax.chain``'s state) are searched, other nodes are left as they are."""
    kind = type(state)
    if kind is tuple:
        return tuple(strip_counts(s) for s in state)
    if kind not in _SHARED:
        return state
    twin, subs = _SHARED[kind]
    values = {f: strip_counts(v) if f in subs else v for f, v in zip(state._fields, state)}
    if twin is None:
        return kind(**values)
    del values["count"]
    return twin(**values)


def restore_counts(state: Any, count: jax.Array) -> Any:
    """The inverse of :func:`strip_counts`: each twin becomes its state again, holding ``count``."""
    kind = type(state)
    if kind is tuple:
        return tuple(restore_counts(s, count) for s in state)
    cls = _TWIN_OF.get(kind, kind)
    if cls not in _SHARED:
        return state
    subs = _SHARED[cls][1]
    values = {f: restore_counts(v, count) if f in subs else v for f, v in zip(state._fields, state)}
    if cls is not kind:
        values["count"] = count
    return cls(**values)


@shares_count()
class CountState(NamedTuple):
    """State of a transform whose only memory is its step counter (for schedules)."""

    count: jax.Array


def zeros_init(state_cls: type, accumulator_dtype: Any = None) -> optax.TransformInitFn:
    """The ``init`` of a counted accumulator that starts at zero: ``state_cls`` holding a
    fresh counter and zeros shaped like the parameters (in ``accumulator_dtype``)."""

    def init_fn(params):
        return state_cls(zero_count(), tree_zeros(params, accumulator_dtype))

    return init_fn


def counted_map(
    value: ScalarOrSchedule,
    leaf_fn: Callable[[jax.Array, Any], jax.Array],
    state_cls: type = CountState,
) -> optax.GradientTransformation:
    """A transform that maps each floating-point update leaf ``u`` to ``leaf_fn(u, v)``, ``v``
    the hyperparameter ``value`` at this step; its only state is the step counter
    (``state_cls``, a :func:`shares_count` state with the single field ``count``)."""

    def init_fn(params):
        del params
        return state_cls(zero_count())

    def update_fn(updates, state, params=None):
        del params
        now = resolve(value, state.count)
        updates = map_floats(lambda u: leaf_fn(u, now), updates)
        return updates, state_cls(next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


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


def same_signature_as(
    template: Callable[..., Any],
    *,
    drop: tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
    **defaults: Any,
) -> Callable[..., Any]:
    """Decorator for a factory whose arguments are ``template``'s (with other ``defaults``,
    without the arguments named in ``drop``, plus the keyword-only ``extra`` names with their
    defaults at the end):
    the decorated ``fn(**arguments)`` is called with every argument bound by name, and
    ``inspect.signature`` shows ``template``'s parameters. One argument list, written once, for
    factories that share it by design (optax's ``nadam`` is ``adam`` with ``nesterov=True``;
    ``scale_by_stddev`` takes ``scale_by_rms``'s arguments)."""
    signature = inspect.signature(template)
    parameters = [
        p.replace(default=defaults.get(p.name, p.default))
        for p in signature.parameters.values()
        if p.name not in drop and p.name != "finite_guard"  # the decorator adds finite_guard
    ]
    unknown = (set(defaults) | set(drop)) - set(signature.parameters)
    if unknown:
        raise TypeError(f"same_signature_as: {sorted(unknown)} are not arguments of {template}")
    clash = set(extra or {}) & set(signature.parameters)
    if clash:
        raise TypeError(f"same_signature_as: extra {sorted(clash)} are arguments of {template}")
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters += [inspect.Parameter(n, keyword, default=v) for n, v in (extra or {}).items()]
    signature = signature.replace(parameters=parameters)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return fn(**bound.arguments)

        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(call, attribute, getattr(fn, attribute))
        call.__signature__ = signature  # type: ignore[attr-defined]
        return call

    return decorate
