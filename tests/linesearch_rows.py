"""A line search in the generic tables (tests/test_properties.py): the objective comes with it.

``with_objective(tx)`` is ``tx`` whose ``update`` gets ``value``, ``grad``, ``value_fn`` (and
``obj_fn``, ``grad_fn`` as Sophia and SAM name them) of
a fixed quadratic around 0.25 over the float leaves of ``params``, so a table that passes only
gradients (or ``value=`` of its own) runs a search along the updates it gives.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax


def _is_float(x: Any) -> bool:
    return jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)


def quadratic(params: Any) -> jax.Array:
    """``sum 0.5 (x - 0.25)**2`` over the float leaves, in float32."""
    terms = [
        0.5 * jnp.sum(jnp.square(jnp.asarray(x).astype(jnp.float32) - 0.25))
        for x in jax.tree.leaves(params)
        if _is_float(x)
    ]
    return sum(terms, jnp.zeros([], jnp.float32))


def _gradient(params: Any) -> Any:
    def leaf(x):
        x = jnp.asarray(x)
        return (x - jnp.asarray(0.25, x.dtype)) if _is_float(x) else jnp.zeros_like(x)

    return jax.tree.map(leaf, params)


def with_objective(tx: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``tx`` with :func:`quadratic` as its objective (the caller's ``value=`` is dropped)."""

    def update_fn(updates, state, params=None, **extra):
        extra.pop("value", None)
        grad = _gradient(params)
        return tx.update(
            updates,
            state,
            params,
            value=quadratic(params),
            grad=grad,
            value_fn=quadratic,
            obj_fn=quadratic,  # Sophia's Hessian estimate
            grad_fn=lambda p, i: _gradient(p),  # SAM's inner loop
            **extra,
        )

    return optax.GradientTransformationExtraArgs(tx.init, update_fn)
