"""Reliability at the edges (issue 17), for every named optimizer and every stateful primitive.

The tables (tests/reliability_rows.py) cover every public factory, and each row is stateful or
stateless as it says. The checks themselves are in

* tests/test_counters.py: counters saturate at ``2**31 - 1``;
* tests/test_donation.py: ``init`` returns fresh buffers, a donated step is bit-exact;
* tests/test_vmap.py: vmap over injected hyperparameters and params equals a loop;
* tests/test_float16.py: float16 params."""

from __future__ import annotations

import inspect

import jax
import pytest
from reliability_rows import NOT_FACTORIES, STATEFUL, STATELESS, TABLE, _params

import optchain as oc


def _factory(name: str) -> str:
    return name.removeprefix("named:").split("[")[0]


def test_the_tables_cover_every_public_factory():
    """A new public optchain factory must get a row: STATEFUL (or NAMED) if its state has
    leaves, STATELESS if not. optax's own objects re-exported by optchain are tested by optax."""
    public = {
        name
        for name in oc.__all__
        if name[0].islower()
        and callable(obj := getattr(oc, name))
        and not inspect.ismodule(obj)
        and getattr(obj, "__module__", "").startswith("optchain")
    }
    rows = {_factory(name) for name in TABLE} | set(STATELESS) | NOT_FACTORIES
    assert public - rows == set(), "add these to STATEFUL or STATELESS"
    assert {_factory(n) for n in TABLE} | set(STATELESS) <= public
    assert all(case.why for case in TABLE.values() if not case.far_equal)


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_stateful_rows_have_state(name):
    assert jax.tree.leaves(STATEFUL[name].make().init(_params()))


@pytest.mark.parametrize("name", sorted(STATELESS))
def test_stateless_rows_have_no_state(name):
    assert not jax.tree.leaves(STATELESS[name]().init(_params()))
