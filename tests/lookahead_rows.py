"""Lookahead for the table-driven tests, whose params are a plain tree.

``optchain.lookahead`` takes ``LookaheadParams(fast, slow)``; :func:`slow_in_state` runs it on a
plain tree (the fast weights) by keeping the slow weights in the state, so the reliability and
property tables can drive it like any other transform.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

import optchain as oc


class SlowInState(NamedTuple):
    slow: Any
    lookahead: Any


def slow_in_state(tx: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``tx`` (a lookahead) on the fast weights alone; the slow weights live in the state."""

    def init_fn(params):
        slow = jax.tree.map(lambda p: jnp.array(p, copy=True), params)
        return SlowInState(slow, tx.init(oc.LookaheadParams(params, slow)))

    def update_fn(updates, state, params=None, **extra_args):
        pair = oc.LookaheadParams(params, state.slow)
        out, inner = tx.update(updates, state.lookahead, pair, **extra_args)
        return out.fast, SlowInState(optax.apply_updates(state.slow, out.slow), inner)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
