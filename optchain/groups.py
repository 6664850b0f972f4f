"""Parameter groups by path pattern, freezing, and carrying optimizer state across regroupings.

A path is the params tree's keys joined by ``/`` (``"encoder/layers/0/kernel"``); Flax NNX's
trailing ``value`` attribute is dropped, so NNX and Linen trees read the same. Patterns are globs
over paths: ``*`` matches within one key, ``?`` one character, ``**`` any number of keys
(``"**/bias"`` matches ``"bias"`` and ``"a/b/bias"``).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optchain.inspection import text_table

FROZEN = "frozen"
"""Group value that freezes its parameters: zero updates and no optimizer state."""

DEFAULT = "default"
"""Label of the parameters that match no pattern, when a default is given."""


class _AllGroups:
    """The type of :data:`ALL_GROUPS` (one instance)."""

    def __repr__(self) -> str:
        return "optchain.ALL_GROUPS"

    def __reduce__(self) -> str:
        return "ALL_GROUPS"  # pickles as the module's one instance


ALL_GROUPS: Any = _AllGroups()
"""``group=`` value of :func:`optchain.get_hyperparams` and :func:`optchain.set_hyperparams`
that addresses every parameter group (a string would collide with a group pattern such as
``"*"``)."""

Patterns = str | Sequence[str]


def path_string(path: Sequence[Any]) -> str:
    """A key path (from ``jax.tree_util.tree_flatten_with_path``) as ``"a/b/0/kernel"``.

    Dict keys, sequence indices and attribute names are joined by ``/``; a trailing ``value``
    (Flax NNX's ``Variable``) is dropped.

    Args:
      path: a sequence of ``jax.tree_util`` keys (``DictKey``, ``SequenceKey``, ...).

    Returns:
      The path string that group patterns match.

    Example:
      >>> import jax
      >>> leaves = jax.tree_util.tree_flatten_with_path({"enc": [{"kernel": 1}]})[0]
      >>> path_string(leaves[0][0])
      'enc/0/kernel'

    References:
      Flax's ``flax.traverse_util.flatten_dict(tree, sep="/")`` keys; ``jax.tree_util.keystr``.
    """
    parts = []
    for key in path:
        if isinstance(key, jax.tree_util.DictKey):
            parts.append(str(key.key))
        elif isinstance(key, jax.tree_util.SequenceKey):
            parts.append(str(key.idx))
        elif isinstance(key, jax.tree_util.GetAttrKey):
            parts.append(key.name)
        elif isinstance(key, jax.tree_util.FlattenedIndexKey):
            parts.append(str(key.key))
        else:
            parts.append(str(key))
    while parts and parts[-1] in ("value", "raw_value") and len(parts) > 1:
        parts.pop()  # flax.nnx.Variable leaves
    return "/".join(parts)


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"a group pattern must be a non-empty string, got {pattern!r}")
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/[^/]+)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(pattern: str, path: str) -> bool:
    """Whether a glob ``pattern`` matches a ``path`` string.

    Example:
      >>> matches("**/bias", "bias"), matches("**/bias", "enc/0/bias"), matches("enc/*", "enc/0/bias")
      (True, True, False)
    """
    return _compile(pattern).match(path) is not None


def _as_patterns(key: Patterns) -> tuple[str, ...]:
    patterns = (key,) if isinstance(key, str) else tuple(key)
    if not patterns:
        raise ValueError("a group needs at least one pattern")
    for p in patterns:
        _compile(p)
    return patterns


def _label_of(key: Patterns) -> str:
    return key if isinstance(key, str) else ", ".join(key)


def group_labels(
    groups: Mapping[Patterns, Any], params: Any, *, default: bool = False, strict: bool = True
) -> Any:
    """The group label of every leaf of ``params``: the first group (in ``groups`` order) with a
    pattern matching the leaf's path.

    Args:
      groups: mapping from a pattern (or a tuple of patterns) to anything; only the keys are read.
      params: the params tree (Linen dict, NNX ``State``, any pytree).
      default: whether unmatched leaves go to the :data:`DEFAULT` group instead of raising.
      strict: whether a pattern that matches no parameter is an error (turn it off for
        recipes shared between models, such as "no decay on ``**/scale``" on a model without norms).

    Returns:
      A tree like ``params`` with a label string per leaf (the key, tuples joined by ``", "``).

    Raises:
      ValueError: naming the parameter paths that match no group (without ``default``), or the
        patterns that match no parameter.

    Example:
      >>> import jax.numpy as jnp
      >>> params = {"enc": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}, "head": {"bias": jnp.ones(2)}}
      >>> group_labels({"**/bias": None, "enc/**": None}, params)
      {'enc': {'bias': '**/bias', 'kernel': 'enc/**'}, 'head': {'bias': '**/bias'}}

    References:
      The label function of ``optax.partition`` (``param_labels``); torch's
      ``optimizer.param_groups`` membership.
    """
    keyed = [(_as_patterns(key), _label_of(key)) for key in groups]
    labels = [k for _, k in keyed]
    if len(set(labels)) != len(labels) or (default and DEFAULT in labels):
        raise ValueError(
            f"group labels must be distinct (and not {DEFAULT!r} with a default): {labels}"
        )
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    names = [path_string(path) for path, _ in flat]
    out = [
        next((label for patterns, label in keyed if any(matches(p, n) for p in patterns)), DEFAULT)
        for n in names
    ]
    unmatched = [n for n, label in zip(names, out, strict=True) if label == DEFAULT]
    if unmatched and not default:
        raise ValueError(
            f"{len(unmatched)} parameter(s) match no group and there is no default: "
            f"{', '.join(unmatched[:10])}{' ...' if len(unmatched) > 10 else ''}"
        )
    # a pattern is used when it matches a parameter its own group took
    unused = [
        p
        for patterns, label in keyed
        for p in patterns
        if not any(lab == label and matches(p, n) for n, lab in zip(names, out, strict=True))
    ]
    if unused and strict:
        shadowed = [p for p in unused if any(matches(p, n) for n in names)]
        detail = (
            f" ({', '.join(shadowed)} only match parameters an earlier group took)"
            if shadowed
            else ""
        )
        raise ValueError(
            f"group pattern(s) {', '.join(repr(p) for p in unused)} match no parameter{detail}; "
            f"parameter paths look like {names[0] if names else '(no leaves)'!r}"
        )
    return jax.tree_util.tree_unflatten(treedef, out)


def _resolve(
    value: Any, optimizer: Callable[..., Any] | None, label: str
) -> optax.GradientTransformation:
    if isinstance(value, str):
        if value != FROZEN:
            raise ValueError(
                f"group {label!r}: the only string value is optchain.FROZEN, got {value!r}"
            )
        return optax.set_to_zero()
    if isinstance(value, Mapping):
        if optimizer is None:
            raise ValueError(
                f"group {label!r} gives hyperparameter overrides {dict(value)} but no `optimizer` to apply them to"
            )
        try:
            return optimizer(**value)
        except TypeError as error:  # unknown or doubly given keyword
            raise TypeError(
                f"group {label!r}: optimizer(**{dict(value)}) failed: {error}"
            ) from error
    if isinstance(value, optax.GradientTransformation):
        return value
    raise TypeError(
        f"group {label!r}: expected a GradientTransformation, a dict of hyperparameter overrides or "
        f"optchain.FROZEN, got {type(value).__name__}"
    )


def param_groups(
    groups: Mapping[Patterns, Any],
    *,
    default: Any = None,
    optimizer: Callable[..., optax.GradientTransformation] | None = None,
    strict: bool = True,
) -> optax.GradientTransformation:
    """Route each parameter to a transform by its path, like torch's ``param_groups``.

    Every leaf goes to the first group (in order) whose pattern matches its path. A group's value
    is a transform, a dict of hyperparameter overrides for ``optimizer``
    (``{"**/bias": {"weight_decay": 0.0}}``: the same optimizer without weight decay), or
    :data:`FROZEN` (zero updates, no state). Unmatched leaves go to ``default`` (the same kinds;
    ``optimizer()`` when it is ``None`` and ``optimizer`` is given). Built on ``optax.partition``,
    so each group keeps state only for its own leaves, under its label (the pattern, tuple
    patterns joined by ``", "``, or :data:`DEFAULT`) in ``state.inner_states``. With
    ``optimizer=inject_hyperparams(adamw)``, ``get_hyperparams(state, group="**/bias")`` and
    ``set_hyperparams(state, learning_rate=1e-4, group="**/bias")`` read and set one group's
    values, like torch's ``optimizer.param_groups[i]["lr"]``.

    Args:
      groups: mapping from a glob pattern, or a tuple of patterns, to the group's transform.
      default: transform for unmatched leaves; without one (and without ``optimizer``) an
        unmatched leaf is an error.
      optimizer: a factory taking hyperparameters as keywords (``optchain.adamw`` or a
        ``functools.partial`` of it with the base values) used by override dicts.
      strict: whether a pattern that matches no parameter is an error (see :func:`group_labels`).

    Returns:
      An ``optax.GradientTransformation``; ``init`` raises ``ValueError`` naming parameters that
      match no group and patterns that match no parameter. :func:`group_summary` prints the
      routing.

    Example:
      >>> import functools, jax.numpy as jnp, optchain
      >>> params = {"enc": {"kernel": jnp.ones((2, 2))}, "head": {"kernel": jnp.ones((2, 1)), "bias": jnp.ones(1)}}
      >>> tx = optchain.param_groups(
      ...     {"enc/**": optchain.FROZEN, "**/bias": {"weight_decay": 0.0}},
      ...     optimizer=functools.partial(optchain.adamw, learning_rate=1e-3, weight_decay=0.1))
      >>> updates, _ = tx.update(params, tx.init(params), params)
      >>> updates["enc"]["kernel"]
      Array([[0., 0.],
             [0., 0.]], dtype=float32)

    References:
      torch's ``optimizer.param_groups`` (per-group options) and ``requires_grad_(False)``;
      optax's ``partition`` (formerly ``multi_transform``) and ``set_to_zero``.
    """
    if not isinstance(groups, Mapping):
        raise TypeError(
            f"groups must be a mapping from patterns to transforms, got {type(groups).__name__}"
        )
    for key in groups:
        _as_patterns(key)  # bad patterns fail at construction
    if default is None and optimizer is not None:
        default = {}
    transforms: dict[Hashable, optax.GradientTransformation] = {
        _label_of(key): _resolve(value, optimizer, _label_of(key)) for key, value in groups.items()
    }
    has_default = default is not None
    if has_default:
        transforms[DEFAULT] = _resolve(default, optimizer, DEFAULT)
    return optax.partition(
        transforms, functools.partial(group_labels, groups, default=has_default, strict=strict)
    )


def group_summary(
    groups: Mapping[Patterns, Any], params: Any, *, default: bool = True, strict: bool = True
) -> str:
    """A table of every parameter's path, shape, dtype and group, then the totals per group.

    Args:
      groups: the mapping given to :func:`param_groups` (only the keys are read).
      params: the params tree.
      default: whether unmatched leaves are shown in the :data:`DEFAULT` group (else an error).
      strict: whether a pattern that matches no parameter is an error.

    Returns:
      The table as a string (print it), like :func:`optchain.state_summary`.

    Raises:
      ValueError: as :func:`group_labels` does.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> print(optchain.group_summary({"**/bias": None}, {"w": jnp.ones((2, 3)), "bias": jnp.ones(3)}))
      path  shape   dtype    group
      bias  (3,)    float32  **/bias
      w     (2, 3)  float32  default
      <BLANKLINE>
      group    leaves  parameters
      **/bias  1       3
      default  1       6

    References:
      torch's ``[len(g["params"]) for g in optimizer.param_groups]``; ``flax.nnx.tabulate``.
    """
    labels = jax.tree.leaves(group_labels(groups, params, default=default, strict=strict))
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    rows = [
        (path_string(path), str(tuple(np.shape(leaf))), str(jnp.result_type(leaf)), label)
        for (path, leaf), label in zip(flat, labels, strict=True)
    ]
    totals: dict[str, list[int]] = {}
    for (_, leaf), label in zip(flat, labels, strict=True):
        entry = totals.setdefault(label, [0, 0])
        entry[0] += 1
        entry[1] += math.prod(np.shape(leaf))
    order = [_label_of(k) for k in groups] + [DEFAULT]
    summary = [(k, str(totals[k][0]), str(totals[k][1])) for k in order if k in totals]
    return (
        text_table(("path", "shape", "dtype", "group"), rows)
        + "\n\n"
        + text_table(("group", "leaves", "parameters"), summary)
    )


def transfer_state(old_state: Any, new_state: Any) -> Any:
    """Carry optimizer state over to a rebuilt optimizer, leaf by matching leaf.

    Every leaf of ``new_state`` whose key path, shape and dtype also occur in ``old_state``
    takes the old value; the rest keep their fresh initial value. This unfreezes a group (or
    adds a layer) without resetting the others: build the new ``param_groups``, ``init`` it on
    the new params, and transfer. Unchanged groups keep their moments and step counters.

    Args:
      old_state: the state to carry over (any pytree).
      new_state: a fresh state of the rebuilt optimizer; it gives the structure.

    Returns:
      A tree of ``new_state``'s structure, shapes and dtypes.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> params = {"a": jnp.ones(2), "b": jnp.ones(2)}
      >>> frozen = optchain.param_groups({"a": optchain.FROZEN}, default=optchain.adam(0.1))
      >>> state = frozen.update(params, frozen.init(params), params)[1]
      >>> thawed = optchain.param_groups({"a": optchain.adam(0.1)}, default=optchain.adam(0.1))
      >>> state = optchain.transfer_state(state, thawed.init(params))
      >>> int(state.inner_states["default"].inner_state.count), int(state.inner_states["a"].inner_state.count)
      (1, 0)

    References:
      torch's ``optimizer.add_param_group``; orbax's
      ``transform_utils.apply_transformations(old, ..., new)`` (restore into a new structure).
    """
    old = {
        path: leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(old_state)[0]
        if leaf is not None
    }

    def pick(path, leaf):
        prev = old.get(path)
        if (
            prev is None
            or np.shape(prev) != np.shape(leaf)
            or jnp.result_type(prev) != jnp.result_type(leaf)
        ):
            return leaf
        return prev

    return jax.tree_util.tree_map_with_path(pick, new_state)
