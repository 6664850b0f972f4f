"""Shared helpers of the reliability tests (see tests/reliability_rows.py): steps, runs and
comparisons of trees."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from reliability_rows import TABLE, Case, _loss

import optchain as oc


def _tree_leaves(state: Any) -> list[Any]:
    return [x for x in jax.tree.leaves(state) if hasattr(x, "dtype")]


def _lead(tree: Any) -> Any:
    return jax.tree.map(lambda x: x[None], tree)


def _unlead(tree: Any) -> Any:
    return jax.tree.map(lambda x: x[0], tree)


def _one_step(case: Case, tx: optax.GradientTransformationExtraArgs):
    """``(params, state, grads) -> (params, state)``, under a vmap for a collective."""

    def step(params, state, grads):
        extra = case.extra(params) if case.extra else {}
        updates, state = tx.update(grads, state, params, **extra)
        return optax.apply_updates(params, updates), state

    return jax.vmap(step, axis_name=case.axis) if case.axis else step


_grad = jax.jit(jax.grad(_loss))


@functools.cache
def _compiled(name: str):
    """A row's transform, its jitted step and its jitted step with params and state donated
    (built once: the saturation and donation tests share the plain one)."""
    case = TABLE[name]
    tx = optax.with_extra_args_support(case.make())
    step = _one_step(case, tx)
    return tx, jax.jit(step), jax.jit(step, donate_argnums=(0, 1))


def _run(case: Case, tx, steps: int):
    """A jitted run of ``steps`` steps on the quadratic, returning the final params and state
    and the params after every step."""
    step = _one_step(case, tx)

    def run(params, state):
        def body(carry, _):
            p, s = carry
            p, s = step(p, s, jax.grad(_loss)(p))
            return (p, s), p

        (params, state), path = jax.lax.scan(body, (params, state), None, length=steps)
        return params, state, path

    return jax.jit(run)


def _is_counter(x: Any) -> bool:
    return getattr(x, "dtype", None) == jnp.int32 and jnp.ndim(x) == 0


def _field(key: Any) -> str:
    return str(getattr(key, "name", getattr(key, "key", getattr(key, "idx", key))))


def _int_leaves(state: Any) -> list[tuple[str, str, jax.Array]]:
    """``(path, last field name, leaf)`` for every int32 scalar of ``state``."""
    return [
        (jax.tree_util.keystr(path), _field(path[-1]) if path else "", x)
        for path, x in jax.tree_util.tree_leaves_with_path(state)
        if _is_counter(x)
    ]


def _all_finite(tree: Any) -> bool:
    return all(
        bool(np.all(np.isfinite(np.asarray(x, np.float32))))
        for x in _tree_leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.inexact)
    )


def _close(a: Any, b: Any, **tol: float) -> None:
    jax.tree.map(
        lambda x, y: np.testing.assert_allclose(
            np.asarray(x, np.float32), np.asarray(y, np.float32), **tol
        ),
        a,
        b,
    )


def _readout(state: Any) -> Any:
    """What a user reads from the state besides the params: the averaged params, if any."""
    try:
        return oc.averaged_params(state)
    except ValueError:
        return None


def _host(x: Any) -> np.ndarray:
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    return np.asarray(x)
