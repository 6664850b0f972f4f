"""Reliability at the edges (issue 17): no aliasing.

* No aliasing: ``init`` returns fresh buffers (never the params, never one buffer for two state
  leaves or for two ``init`` calls), and a step with params and state donated is bit-exact.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reliability_helpers import _compiled, _grad, _host, _lead
from reliability_rows import INIT_VARIANTS, TABLE, _params


def _buffers(tree: Any) -> list[tuple[str, int]]:
    return [
        (jax.tree_util.keystr(path), x.unsafe_buffer_pointer())
        for path, x in jax.tree_util.tree_leaves_with_path(tree)
        if isinstance(x, jax.Array)
    ]


@pytest.mark.parametrize("name", sorted(TABLE) + sorted(INIT_VARIANTS))
def test_init_returns_fresh_buffers(name):
    """Never the params' buffer, never one buffer for two state leaves or for two inits: a
    jitted step may donate params and state."""
    tx = TABLE[name].make() if name in TABLE else INIT_VARIANTS[name]()
    params = _params()
    states = tx.init(params), tx.init(params)  # both alive: a freed buffer may be reused
    first, second = _buffers(states[0]), _buffers(states[1])
    owners: dict[int, str] = {pointer: f"params{path}" for path, pointer in _buffers(params)}
    for label, buffers in (("state", first), ("second init's state", second)):
        for path, pointer in buffers:
            assert pointer not in owners, f"{label}{path} is the buffer of {owners[pointer]}"
            owners[pointer] = f"{label}{path}"


def _copy(tree: Any) -> Any:
    return jax.tree.map(lambda x: jnp.array(x, copy=True), tree)


@pytest.mark.filterwarnings("ignore:Some donated buffers were not usable")
@pytest.mark.parametrize("name", sorted(TABLE))
def test_a_donated_step_gives_the_undonated_result_bit_for_bit(name):
    tx, plain, donated = _compiled(name)
    params = TABLE[name].params()
    state = tx.init(params)
    if TABLE[name].axis:
        params, state = _lead(params), _lead(state)
    runs = []
    for jitted in (plain, donated):
        p, s = _copy(params), _copy(state)
        for _ in range(3):
            p, s = jitted(p, s, _grad(p))  # the gradient is read before p is donated
        runs.append((p, s))
    (p_plain, s_plain), (p_donated, s_donated) = runs
    for a, b in zip(jax.tree.leaves((p_plain, s_plain)), jax.tree.leaves((p_donated, s_donated))):
        np.testing.assert_array_equal(_host(a), _host(b))
