"""Skip steps that would bring NaN or Inf into the run; check the skip limit on the host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optchain import _core

__all__ = ["SkipNonfiniteState", "all_finite", "check_skip_limit", "skip_nonfinite"]

# SkipNonfiniteState.bad_tree: where the last skipped step found its first offending leaf.
_NONE, _GRADIENT, _UPDATE, _STATE = 0, 1, 2, 3
_INT32_MAX = 2**31 - 1


class SkipNonfiniteState(NamedTuple):
    """State of :func:`skip_nonfinite`. Counters and codes are int32 scalars.

    Attributes:
      inner_state: the wrapped transform's state as of the last applied step.
      total_skips: steps skipped in all (saturating).
      consecutive_skips: steps skipped since the last applied one (saturating).
      last_step_finite: bool, whether the last step was applied (gradient, update and new
        inner state all passed the check).
      max_consecutive_skips: the limit the transform was built with (``-1``: none), written on
        every step so that :func:`check_skip_limit` needs nothing but the state.
      bad_tree: what made the most recent skipped step bad: ``1`` a gradient leaf had NaN or
        Inf, ``2`` an update leaf did (the gradient was finite), ``3`` an inner state leaf
        would have become non-finite (gradient and update finite); ``0`` before the first skip.
      bad_leaf: the first such leaf, as an index into ``jax.tree.leaves(gradients,
        is_leaf=lambda x: x is None)`` (codes 1 and 2; the parameters' structure) or into
        ``jax.tree.leaves(inner_state)`` (code 3); ``-1`` before the first skip.
    """

    inner_state: Any
    total_skips: jax.Array
    consecutive_skips: jax.Array
    last_step_finite: jax.Array
    max_consecutive_skips: jax.Array
    bad_tree: jax.Array
    bad_leaf: jax.Array


def all_finite(tree: Any) -> jax.Array:
    r"""Whether every floating-point leaf of ``tree`` is free of NaN and Inf.

    :math:`\bigwedge_{\text{leaves } x} \bigwedge_i \mathrm{isfinite}(x_i)`, over floating-point
    (and complex) leaves only; integer, boolean and ``None`` leaves, and an empty tree, count as
    finite. Works inside ``jit``.

    Args:
      tree: any pytree of arrays or scalars.

    Returns:
      A bool scalar array.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> optchain.all_finite({"w": jnp.ones(2), "n": jnp.int32(3)})
      Array(True, dtype=bool)
      >>> optchain.all_finite({"w": jnp.array([1.0, jnp.inf])})
      Array(False, dtype=bool)

    References:
      The check inside optax's ``apply_if_finite``; torch's
      ``all(torch.isfinite(g).all() for g in grads)``, as ``torch.amp.GradScaler`` checks.
    """
    leaves = [_core.as_leaf(x) for x in jax.tree.leaves(tree)]
    flags = [jnp.all(jnp.isfinite(x)) for x in leaves if _core.is_float(x)]
    return jnp.all(jnp.stack(flags)) if flags else jnp.bool_(True)


def _has_nonfinite(leaf: Any) -> jax.Array:
    leaf = _core.as_leaf(leaf)
    if leaf is None or not _core.is_float(leaf):
        return jnp.bool_(False)
    return jnp.logical_not(jnp.all(jnp.isfinite(leaf)))


def _turns_nonfinite(old: Any, new: Any) -> jax.Array:
    """Whether some element finite in ``old`` is NaN or Inf in ``new``."""
    old, new = _core.as_leaf(old), _core.as_leaf(new)
    if not _core.is_float(old):
        return jnp.bool_(False)
    return jnp.any(jnp.isfinite(old) & jnp.logical_not(jnp.isfinite(new)))


def _first(flags: list[jax.Array]) -> tuple[jax.Array, jax.Array]:
    """(any flag set, index of the first one set or -1)."""
    if not flags:
        return jnp.bool_(False), jnp.full([], -1, jnp.int32)
    stacked = jnp.stack(flags)
    found = jnp.any(stacked)
    return found, jnp.where(found, jnp.argmax(stacked).astype(jnp.int32), -1)


def _with_none(tree: Any) -> list[Any]:
    return jax.tree.leaves(tree, is_leaf=lambda x: x is None)


def skip_nonfinite(
    inner: optax.GradientTransformation,
    max_consecutive_skips: int | None = 10,
    *,
    check_state: bool = True,
) -> optax.GradientTransformationExtraArgs:
    r"""Run ``inner``, but skip every step that would bring NaN or Inf into the run.

    With :math:`(u_t, s'_t) = T(g_t, s_t)` the wrapped transform's step, the step is applied,
    :math:`(u_t, s_{t+1}) = (u_t, s'_t)`, when :math:`g_t` and :math:`u_t` are finite and no
    element of the inner state goes from finite to non-finite
    (:math:`\mathrm{isfinite}(s_t) \Rightarrow \mathrm{isfinite}(s'_t)`); otherwise it is
    skipped, :math:`(u_t, s_{t+1}) = (0, s_t)`.

    A skipped step returns zero updates (integer and boolean leaves too, as on every step:
    they are not optimized) and keeps ``inner``'s state exactly as it was, so a run with bad
    steps equals the run with those steps removed, bit for bit, PRNG keys included.

    **Overflow in the state** (``check_state=True``, the default). A finite but huge gradient
    (``1e20`` is finite in float32) makes an Adam-like second moment :math:`g^2 = 10^{40}`
    overflow to ``inf`` while the update :math:`m / \sqrt{\infty} = 0` stays finite: without
    this check the step is applied and every later step is NaN. With it the step is skipped,
    since a state that turns non-finite is a corrupted state. Elements that were already
    non-finite (a plateau rule's initial best value of ``+inf``) are free to change, so they
    never cause skipping by themselves. The check reads the old and new state once more per
    step; ``check_state=False`` turns it off (for a transform whose state may legitimately
    become infinite, such as ``scale_by_safe_step``'s ``safe_step`` where the curvature is
    not positive). Finite outliers that overflow nothing (``sgd``, sign methods) are applied:
    bound them with clipping.

    **The skip limit never raises inside the step.** ``total_skips`` and
    ``consecutive_skips`` count skipped steps (saturating int32; the consecutive count resets
    on the next applied step). More than ``max_consecutive_skips`` bad steps in a row are
    still skipped (parameters and state untouched) and :func:`check_skip_limit`, called on
    the host after the step, raises ``FloatingPointError`` naming the count, the limit and the
    first offending leaf. So under ``jax.jit(step, donate_argnums=(0, 1))`` the parameters
    and state the step returned are valid when the error is raised, and can be checkpointed.
    ``None`` means no limit. (optax's ``apply_if_finite`` instead applies the bad update once
    its limit is reached.)

    Args:
      inner: the transform (or chain) to protect.
      max_consecutive_skips: the limit, an int ``>= 0`` (below :math:`2^{31}-1`), or ``None``.
      check_state: also skip a step that would turn a finite inner state element non-finite.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`SkipNonfiniteState`.

    Example:
      >>> import jax, jax.numpy as jnp, optax, optchain
      >>> tx = optchain.skip_nonfinite(optchain.adam(0.1), max_consecutive_skips=2)
      >>> def train_step(params, state, grads):
      ...     updates, state = tx.update(grads, state, params)
      ...     return optax.apply_updates(params, updates), state
      >>> train_step = jax.jit(train_step, donate_argnums=(0, 1))
      >>> w = {"w": jnp.ones(2)}; state = tx.init(w)
      >>> w, state = train_step(w, state, {"w": jnp.array([1e20, 1.0])})  # g*g overflows
      >>> w["w"], int(state.total_skips), int(state.bad_tree)  # skipped: state would break
      (Array([1., 1.], dtype=float32), 1, 3)
      >>> optchain.check_skip_limit(state, w)  # under the limit: silent
      >>> for _ in range(2):
      ...     w, state = train_step(w, state, {"w": jnp.array([1.0, jnp.nan])})
      >>> optchain.check_skip_limit(state, w)  # w and state are still valid: save them
      Traceback (most recent call last):
      ...
      FloatingPointError: skip_nonfinite: 3 consecutive steps were skipped (limit 2; ...

    References:
      Micikevicius et al., `Mixed Precision Training <https://arxiv.org/abs/1710.03740>`_,
      ICLR 2018 (skipping steps whose gradients overflow).
    """
    if max_consecutive_skips is not None and (
        isinstance(max_consecutive_skips, bool)
        or not isinstance(max_consecutive_skips, int)
        or not 0 <= max_consecutive_skips < _INT32_MAX
    ):
        raise ValueError(
            "max_consecutive_skips must be an int >= 0 (below 2**31 - 1) or None; "
            f"got {max_consecutive_skips!r}"
        )
    if not isinstance(check_state, bool):
        raise ValueError(f"check_state must be a bool; got {check_state!r}")
    limit = -1 if max_consecutive_skips is None else max_consecutive_skips
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        # separate buffers: the state may be donated
        return SkipNonfiniteState(
            inner.init(params),
            _core.zero_count(),
            _core.zero_count(),
            jnp.bool_(True),
            jnp.full([], limit, jnp.int32),
            _core.zero_count(),
            jnp.full([], -1, jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        new_updates, new_inner = inner.update(updates, state.inner_state, params, **extra_args)
        bad_g, leaf_g = _first([_has_nonfinite(g) for g in _with_none(updates)])
        bad_u, leaf_u = _first([_has_nonfinite(u) for u in _with_none(new_updates)])
        if check_state:
            old_leaves, new_leaves = jax.tree.leaves(state.inner_state), jax.tree.leaves(new_inner)
            bad_s, leaf_s = _first(
                [_turns_nonfinite(o, n) for o, n in zip(old_leaves, new_leaves, strict=True)]
            )
        else:
            bad_s, leaf_s = jnp.bool_(False), jnp.full([], -1, jnp.int32)
        bad = bad_g | bad_u | bad_s
        finite = jnp.logical_not(bad)
        # zeros shaped like the inner's output (a per-example aggregate changes the shape)
        skipped = jax.tree.map(jnp.zeros_like, new_updates)
        out, inner_state = jax.lax.cond(
            finite,
            lambda: (new_updates, new_inner),
            lambda: (skipped, state.inner_state),
        )
        # what this step found, in order of precedence; an applied step keeps the last record
        code = jnp.where(bad_g, _GRADIENT, jnp.where(bad_u, _UPDATE, _STATE))
        leaf = jnp.where(bad_g, leaf_g, jnp.where(bad_u, leaf_u, leaf_s))
        return out, SkipNonfiniteState(
            inner_state,
            jnp.where(bad, _core.next_count(state.total_skips), state.total_skips),
            jnp.where(bad, _core.next_count(state.consecutive_skips), 0).astype(jnp.int32),
            finite,
            jnp.full([], limit, jnp.int32),
            jnp.where(bad, code, state.bad_tree).astype(jnp.int32),
            jnp.where(bad, leaf, state.bad_leaf).astype(jnp.int32),
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _guard_states(tree: Any, prefix: str = "") -> Iterator[tuple[str, SkipNonfiniteState]]:
    """Every :class:`SkipNonfiniteState` in ``tree`` with its path, outer ones first."""

    def is_guard(x):
        return isinstance(x, SkipNonfiniteState)

    flat, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_guard)
    for path, node in flat:
        if is_guard(node):
            where = prefix + jax.tree_util.keystr(path)
            yield where, node
            yield from _guard_states(node.inner_state, where + ".inner_state")


def _host(value: Any, name: str) -> np.ndarray:
    try:
        return np.ravel(np.asarray(value))
    except jax.errors.TracerArrayConversionError as error:
        raise TypeError(
            f"check_skip_limit reads {name} on the host: call it on the state a (jitted) "
            "step returned, not inside jit"
        ) from error


def _leaf_path(tree: Any, index: int, with_none: bool) -> str | None:
    is_leaf = (lambda x: x is None) if with_none else None
    flat, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_leaf)
    if not 0 <= index < len(flat):
        return None
    return jax.tree_util.keystr(flat[index][0])


def _reason(state: SkipNonfiniteState, where: str, k: int, params: Any) -> str:
    code = int(_host(state.bad_tree, "bad_tree")[k])
    index = int(_host(state.bad_leaf, "bad_leaf")[k])
    if code == _STATE:
        path = _leaf_path(state.inner_state, index, with_none=False)
        name = f"opt_state{where}.inner_state" + (f"{path}" if path is not None else f" #{index}")
        return (
            f"the inner state would have become non-finite at {name} (an overflow, such as "
            "a squared gradient; the gradient and the update were finite)"
        )
    what = "the gradient" if code == _GRADIENT else "the update (of a finite gradient)"
    path = None if params is None else _leaf_path(params, index, with_none=True)
    if path is None:
        hint = "" if params is not None else "; pass the parameters to name its path"
        return f"{what} had NaN or Inf at leaf #{index} (in jax.tree.leaves order{hint})"
    return f"{what} had NaN or Inf" + (f" at {path}" if path else "")


def check_skip_limit(opt_state: Any, params: Any = None) -> None:
    """Raise ``FloatingPointError`` if a :func:`skip_nonfinite` in ``opt_state`` is past its limit.

    Call it on the host after each (jitted, possibly donating) step, on the state the step
    returned. It finds every :class:`SkipNonfiniteState` inside ``opt_state`` (under
    ``optax.chain``, :func:`optchain.counted_chain`, parameter groups, nested guards) and
    raises when one has skipped more than ``max_consecutive_skips`` steps in a row, naming the
    count, the limit and the first offending leaf of the last skipped step; otherwise it
    returns ``None``. The parameters and state the step returned are those of the last applied
    step and are still valid, so they can be checkpointed before stopping. It reads a few
    scalars, so it waits for the step to finish. Arrays with a leading axis (``pmap``,
    ``vmap``) are checked replica by replica. A streak that ended before the call is not
    reported (the consecutive count has reset).

    Args:
      opt_state: an optimizer state containing at least one :class:`SkipNonfiniteState`.
      params: the parameters (or the gradients: any tree with the structure of the gradients
        the guard was given; for a guard around the whole optimizer, the parameters), used
        only to turn the index of an offending gradient or update leaf into its path.

    Returns:
      ``None`` when every guard is within its limit.

    Raises:
      FloatingPointError: a guard is past its limit.
      ValueError: ``opt_state`` holds no :class:`SkipNonfiniteState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.skip_nonfinite(optchain.sgd(0.1), max_consecutive_skips=0)
      >>> w = {"b": jnp.zeros(1), "w": jnp.zeros(2)}
      >>> _, state = tx.update({"b": jnp.ones(1), "w": jnp.array([0.0, jnp.inf])}, tx.init(w), w)
      >>> optchain.check_skip_limit(state, w)
      Traceback (most recent call last):
      ...
      FloatingPointError: skip_nonfinite: 1 consecutive steps were skipped (limit 0; 1 skipped in all); the last one because the gradient had NaN or Inf at ['w']. ...

    References:
      optax's ``apply_if_finite(..., max_consecutive_errors)`` (which applies the update at the
      limit instead); torch's ``torch.amp.GradScaler`` (skips steps whose gradients overflow).
    """
    guards = list(_guard_states(opt_state))
    if not guards:
        raise ValueError(
            "check_skip_limit: opt_state holds no SkipNonfiniteState (wrap the optimizer in "
            "optchain.skip_nonfinite)"
        )
    for where, state in guards:
        count = _host(state.consecutive_skips, "consecutive_skips")
        limit = _host(state.max_consecutive_skips, "max_consecutive_skips")
        over = np.flatnonzero((limit >= 0) & (count > limit))
        if over.size == 0:
            continue
        k = int(over[0])
        total = int(_host(state.total_skips, "total_skips")[k])
        at = f" at opt_state{where}" if where else ""
        replica = f" (replica {k})" if count.size > 1 else ""
        raise FloatingPointError(
            f"skip_nonfinite{at}{replica}: {int(count[k])} consecutive steps were skipped "
            f"(limit {int(limit[k])}; {total} skipped in all); the last one because "
            f"{_reason(state, where, k, params)}. The parameters and optimizer state are "
            "those of the last applied step and are still valid: save them before stopping. "
            "Check the learning rate, the loss scale and the input batch."
        )
