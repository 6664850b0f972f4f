"""Reliability at the edges (issue 17): vmap.

* vmap: a batch of injected hyperparameters (and of params) under ``jax.vmap`` equals a Python
  loop over its members.
"""

from __future__ import annotations

import inspect
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reliability_helpers import _host, _one_step
from reliability_rows import CALLS_ALL, Case, _loss, _params

import optchain as oc

DEVICES = 2  # the inner axis of the collective optimizers


def _stack(trees: list[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _batched_hyperparameter(factory, kwargs):
    """The learning rate (its default where the row leaves it out: the learning-rate-free
    methods), else the first float hyperparameter; (None, None) where there is none (SAM: two
    transforms and an integer period; only the params are batched then)."""
    parameters = inspect.signature(factory).parameters
    for name in ("learning_rate", *parameters):
        default = parameters[name].default if name in parameters else None
        value = kwargs.get(name, default)
        if isinstance(value, float) and value > 0:
            return name, value
    return None, None


@pytest.mark.parametrize("name", sorted(CALLS_ALL))
def test_vmap_over_hyperparameters_and_params_equals_a_loop(name):
    """Three members, each with its own learning rate and its own params: one vmapped step of
    the injected optimizer equals each member's own step. The collective optimizers run each
    member data-parallel, on an inner vmap over their axis name."""
    factory, kwargs = CALLS_ALL[name]
    axis = kwargs.get("axis_name")
    hyper, value = _batched_hyperparameter(factory, kwargs)
    members = [
        oc.inject_hyperparams(factory)(**{**kwargs, **({hyper: value * f} if hyper else {})})
        for f in (0.5, 1.0, 2.0)
    ]
    one = {"w": _params()["w"]}  # one leaf: the batching is per leaf
    params = [jax.tree.map(lambda p, i=i: p * (1.0 + 0.5 * i), one) for i in range(3)]
    states = [tx.init(p) for tx, p in zip(members, params)]
    case = Case(lambda: members[0], axis=axis)
    step = _one_step(case, members[0])  # reads every hyperparameter from the state

    def grads(p):
        g = jax.grad(_loss)(p)
        if not axis:
            return g
        # each device its own gradient; params and state replicated on the device axis
        scale = jnp.arange(1.0, DEVICES + 1.0)
        return jax.tree.map(lambda x: x * scale.reshape((DEVICES,) + (1,) * (x.ndim - 1)), g)

    if axis:
        spread = lambda t: jax.tree.map(lambda x: jnp.stack([x] * DEVICES), t)  # noqa: E731
        params, states = [spread(p) for p in params], [spread(s) for s in states]

    looped = jax.jit(lambda p, s: step(p, s, grads(p)))
    expected = []
    for p, s in zip(params, states):
        for _ in range(3):
            p, s = looped(p, s)
        expected.append((p, s))

    batched = jax.jit(jax.vmap(lambda p, s: step(p, s, grads(p))))
    p, s = _stack(params), _stack(states)
    for _ in range(3):
        p, s = batched(p, s)
    for i, (p_i, s_i) in enumerate(expected):
        got = jax.tree.map(lambda x, i=i: x[i], (p, s))
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves((p_i, s_i))):
            np.testing.assert_allclose(_host(a), _host(b), rtol=1e-6, atol=1e-7)
