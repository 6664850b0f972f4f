"""Skip steps whose gradients (or resulting updates) contain NaN or Inf."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.experimental import io_callback

from optchain import _core


class SkipNonfiniteState(NamedTuple):
    """State of :func:`skip_nonfinite`."""

    inner_state: Any
    total_skips: jax.Array
    consecutive_skips: jax.Array
    last_step_finite: jax.Array


def all_finite(tree: Any) -> jax.Array:
    """Whether every floating-point leaf of ``tree`` is free of NaN and Inf (a bool scalar)."""
    leaves = [_core.as_leaf(x) for x in jax.tree.leaves(tree)]
    flags = [jnp.all(jnp.isfinite(x)) for x in leaves if _core.is_float(x)]
    return jnp.all(jnp.stack(flags)) if flags else jnp.bool_(True)


def _give_up(consecutive, total, limit):
    raise FloatingPointError(
        f"skip_nonfinite: {int(consecutive)} consecutive steps had NaN or Inf gradients or "
        f"updates (limit {limit}; {int(total)} skipped in all). Parameters and optimizer state "
        "are unchanged since the last finite step. Check the learning rate, the loss scale "
        "and the input batch."
    )


def skip_nonfinite(
    inner: optax.GradientTransformation, max_consecutive_skips: int | None = 10
) -> optax.GradientTransformationExtraArgs:
    """Run ``inner``, but skip every step whose input or output has NaN or Inf.

    A skipped step returns zero updates (integer and boolean leaves too, as on every step:
    they are not optimized) and keeps ``inner``'s state exactly as it was, so a run with bad
    steps equals the run with those steps removed, bit for bit, PRNG keys included.
    ``total_skips`` and ``consecutive_skips`` are counted in the state (saturating int32);
    the consecutive count resets on the next finite step. After more than
    ``max_consecutive_skips`` bad steps in a row the step raises ``FloatingPointError``
    (inside ``jit`` it surfaces as a ``JaxRuntimeError`` carrying that message) instead of
    skipping forever; ``None`` never raises. optax's ``apply_if_finite`` instead applies
    the bad update once its limit is reached.

    Args:
      inner: the transform (or chain) to protect.
      max_consecutive_skips: the limit, an int >= 0, or ``None``.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`SkipNonfiniteState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.skip_nonfinite(optchain.adam(0.1))
      >>> w = jnp.ones(2); state = tx.init(w)
      >>> u, state = tx.update(jnp.array([jnp.nan, 1.0]), state, w)
      >>> u, int(state.total_skips)
      (Array([0., 0.], dtype=float32), 1)
    """
    if max_consecutive_skips is not None and (
        isinstance(max_consecutive_skips, bool)
        or not isinstance(max_consecutive_skips, int)
        or max_consecutive_skips < 0
    ):
        raise ValueError(
            f"max_consecutive_skips must be an int >= 0 or None; got {max_consecutive_skips!r}"
        )
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        # separate buffers: the state may be donated
        return SkipNonfiniteState(
            inner.init(params), _core.zero_count(), _core.zero_count(), jnp.bool_(True)
        )

    def update_fn(updates, state, params=None, **extra_args):
        new_updates, new_inner = inner.update(updates, state.inner_state, params, **extra_args)
        finite = all_finite(updates) & all_finite(new_updates)
        skipped = _core.map_floats(jnp.zeros_like, updates)
        out, inner_state = jax.lax.cond(
            finite,
            lambda: (new_updates, new_inner),
            lambda: (_core.cast_tree(skipped, new_updates), state.inner_state),
        )
        bad = jnp.logical_not(finite)
        total = jnp.where(bad, _core.next_count(state.total_skips), state.total_skips)
        consecutive = jnp.where(bad, _core.next_count(state.consecutive_skips), 0)
        if max_consecutive_skips is not None:
            jax.lax.cond(
                consecutive > max_consecutive_skips,
                lambda: io_callback(
                    lambda c, t: _give_up(c, t, max_consecutive_skips), None, consecutive, total
                ),
                lambda: None,
            )
        return out, SkipNonfiniteState(inner_state, total, consecutive.astype(jnp.int32), finite)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
