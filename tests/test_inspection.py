"""state_summary: every state leaf's path, shape, dtype and bytes, and the totals."""

import jax
import jax.numpy as jnp
import optax

import optchain as oc


def _rows(text):
    table, totals = text.split("\n\n")
    split = lambda block: [line.split() for line in block.splitlines()[1:]]  # noqa: E731
    return split(table), split(totals)


def test_every_leaf_is_listed_with_its_bytes_and_the_totals_add_up():
    params = {"w": jnp.ones((4, 3)), "b": jnp.ones(3, jnp.bfloat16)}
    state = oc.adam(0.1, mu_dtype=jnp.bfloat16).init(params)
    rows, totals = _rows(oc.state_summary(state))
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    assert [r[0] for r in rows] == [jax.tree_util.keystr(p) for p, _ in leaves]
    assert [int(r[-1]) for r in rows] == [x.size * x.dtype.itemsize for _, x in leaves]
    assert [r[-2] for r in rows] == [str(x.dtype) for _, x in leaves]
    assert totals[-1] == ["total", str(len(leaves)), str(sum(x.nbytes for _, x in leaves))]
    by_dtype = {t[0]: (int(t[1]), int(t[2])) for t in totals[:-1]}
    # mu in bfloat16 for both leaves, nu in the parameter's dtype
    assert by_dtype["bfloat16"][1] == 2 * (12 + 3) + 2 * 3
    assert sum(n for n, _ in by_dtype.values()) == len(leaves)


def test_a_shape_only_state_is_summarized_without_allocating():
    params = {"w": jax.ShapeDtypeStruct((1024, 1024), jnp.float32)}
    abstract = jax.eval_shape(oc.adam(0.1).init, params)
    _, totals = _rows(oc.state_summary(abstract))
    assert int(totals[-1][2]) >= 2 * 4 * 1024 * 1024


def test_groups_keys_and_empty_states():
    params = {"enc": jnp.ones(2), "head": jnp.ones(3)}
    tx = oc.param_groups({"enc": oc.FROZEN}, default=oc.sgd(0.1, momentum=0.9))
    rows, totals = _rows(oc.state_summary(tx.init(params)))
    assert any("['default']" in r[0] and "['head']" in r[0] for r in rows)
    assert not any("['enc']" in r[0] for r in rows)  # a frozen group has no state
    key_rows, _ = _rows(oc.state_summary({"key": jax.random.key(0), "count": 3}))
    assert ["['count']", "()", "int32", "4"] in key_rows
    assert ["['key']", "()", "key<fry>", "8"] in key_rows
    empty = oc.state_summary(optax.EmptyState())
    assert empty.splitlines()[-1].split() == ["total", "0", "0"]


def test_group_summary_and_state_summary_share_the_table():
    assert oc.groups.text_table is oc.inspection.text_table
