"""skip_nonfinite's limit on consecutive skips, checked on the host by check_skip_limit (after
a donated step too, in chains and vmapped states), and what the state records about a skip."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc


def test_counters_reset_and_the_limit_is_checked_on_the_host():
    tx = oc.skip_nonfinite(oc.sgd(0.1), max_consecutive_skips=2)
    w = jnp.ones(2)
    state = tx.init(w)
    update = jax.jit(tx.update)
    nan, good = jnp.array([jnp.nan, 0.0]), jnp.ones(2)
    for g in (nan, nan, good, nan, nan, good):  # never more than 2 in a row
        _, state = update(g, state, w)
        oc.check_skip_limit(state, w)
    assert int(state.total_skips) == 4 and int(state.consecutive_skips) == 0
    _, state = update(nan, state, w)
    _, state = update(jnp.array([jnp.inf, 1.0]), state, w)
    oc.check_skip_limit(state, w)  # 2 in a row: at the limit, not past it
    u, state = update(nan, state, w)  # the third: the step itself does not raise
    np.testing.assert_array_equal(u, [0.0, 0.0])
    assert int(state.consecutive_skips) == 3 and int(state.max_consecutive_skips) == 2
    with pytest.raises(
        FloatingPointError,
        match=r"3 consecutive steps were skipped \(limit 2; 7 skipped in all\); the last one "
        r"because the gradient had NaN or Inf\. ",
    ):
        oc.check_skip_limit(state, w)
    _, state = update(good, state, w)  # a finite step ends the streak
    oc.check_skip_limit(state, w)
    assert int(state.consecutive_skips) == 0 and int(state.total_skips) == 7

    tx = oc.skip_nonfinite(oc.sgd(0.1), max_consecutive_skips=None)
    state = tx.init(w)
    for _ in range(5):
        _, state = tx.update(nan, state, w)
    assert int(state.consecutive_skips) == 5 and int(state.max_consecutive_skips) == -1
    oc.check_skip_limit(state, w)  # no limit: silent


def test_donated_step_past_the_limit_leaves_params_and_state_usable():
    tx = oc.skip_nonfinite(oc.adam(0.1), max_consecutive_skips=2)

    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    donated = jax.jit(step, donate_argnums=(0, 1))
    params = {"b": jnp.zeros(3), "w": jnp.zeros((2, 2))}
    state = tx.init(params)
    good = {"b": jnp.ones(3), "w": jnp.full((2, 2), -1.0)}
    bad = {"b": jnp.ones(3), "w": jnp.array([[0.0, 1.0], [jnp.nan, 2.0]])}
    for _ in range(3):
        params, state = donated(params, state, good)
    last = jax.tree.map(lambda x: np.array(x, copy=True), (params, state))
    for t in range(3):
        old_params = params
        params, state = donated(params, state, bad)
        assert old_params["w"].is_deleted()  # the caller's buffers really were donated
        if t < 2:
            oc.check_skip_limit(state, params)
    with pytest.raises(FloatingPointError, match=r"3 consecutive .*limit 2.* at \['w'\]\."):
        oc.check_skip_limit(state, params)
    with pytest.raises(FloatingPointError, match=r"at leaf #1 \(in jax.tree.leaves order; pass"):
        oc.check_skip_limit(state)
    assert int(state.bad_tree) == 1 and int(state.bad_leaf) == 1

    # what came back is the last good step's parameters and state, and it is usable
    jax.tree.map(
        np.testing.assert_array_equal, (params, state.inner_state), (last[0], last[1].inner_state)
    )
    np.testing.assert_array_equal(np.asarray(params["w"]), last[0]["w"])
    params, state = donated(params, state, good)
    oc.check_skip_limit(state, params)
    assert int(state.total_skips) == 3 and int(state.consecutive_skips) == 0

    # and equals the run that never saw the bad steps
    p_ref, s_ref = {"b": jnp.zeros(3), "w": jnp.zeros((2, 2))}, None
    s_ref = tx.init(p_ref)
    for _ in range(4):
        p_ref, s_ref = donated(p_ref, s_ref, good)
    jax.tree.map(
        np.testing.assert_array_equal, (params, state.inner_state), (p_ref, s_ref.inner_state)
    )


def test_the_check_finds_the_guard_inside_chains():
    w = {"w": jnp.zeros(2)}
    g = {"w": jnp.array([1.0, jnp.nan])}
    guard = oc.skip_nonfinite(oc.momentum(0.9), max_consecutive_skips=0)
    tx = optax.chain(oc.clip(1.0), oc.counted_chain(guard, oc.scale_by_learning_rate(0.1)))
    _, state = tx.update(g, tx.init(w), w)
    with pytest.raises(
        FloatingPointError,
        match=r"^skip_nonfinite at opt_state\[1\]\.links\[0\]: 1 consecutive .*\['w'\]",
    ):
        oc.check_skip_limit(state, w)
    with pytest.raises(ValueError, match="no SkipNonfiniteState"):
        oc.check_skip_limit(oc.sgd(0.1).init(w))
    with pytest.raises(TypeError, match="not inside jit"):
        jax.jit(oc.check_skip_limit)(state)


def test_the_check_reads_vmapped_states_replica_by_replica():
    tx = oc.skip_nonfinite(oc.sgd(0.1), max_consecutive_skips=0)
    w = {"a": jnp.zeros((3, 1)), "b": jnp.zeros((3, 2))}
    states = jax.vmap(tx.init)(w)
    g = {"a": jnp.zeros((3, 1)), "b": jnp.array([[0.0, 1.0], [jnp.inf, 0.0], [1.0, 1.0]])}
    _, states = jax.vmap(tx.update)(g, states, w)
    np.testing.assert_array_equal(states.total_skips, [0, 1, 0])
    with pytest.raises(FloatingPointError, match=r"\(replica 1\): 1 consecutive .* at \['b'\]"):
        oc.check_skip_limit(states, w)


def test_what_the_state_records_about_the_last_skip():
    params = {"a": jnp.zeros(1), "b": jnp.zeros(2)}
    tx = oc.skip_nonfinite(oc.scale(1e30), max_consecutive_skips=0)
    state = tx.init(params)
    assert (int(state.bad_tree), int(state.bad_leaf)) == (0, -1)
    # a None update leaf (optax's "no update") counts in the leaf index
    _, s = tx.update({"a": None, "b": jnp.array([0.0, jnp.nan])}, state, params)
    assert (int(s.bad_tree), int(s.bad_leaf)) == (1, 1)
    # a finite gradient whose update overflows
    _, s = tx.update({"a": jnp.zeros(1), "b": jnp.array([0.0, 1e10])}, s, params)
    assert (int(s.bad_tree), int(s.bad_leaf)) == (2, 1)
    with pytest.raises(
        FloatingPointError,
        match=r"2 consecutive .*the update \(of a finite gradient\) had NaN or Inf at \['b'\]",
    ):
        oc.check_skip_limit(s, params)
    # an applied step keeps the record of the last skip, and resets the streak
    _, s = tx.update({"a": jnp.zeros(1), "b": jnp.ones(2)}, s, params)
    assert (int(s.bad_tree), int(s.bad_leaf), int(s.consecutive_skips)) == (2, 1, 0)


def test_counters_saturate():
    tx = oc.skip_nonfinite(oc.sgd(0.1), max_consecutive_skips=None)
    big = jnp.full([], 2**31 - 1, jnp.int32)
    state = tx.init(jnp.zeros(1))._replace(total_skips=big, consecutive_skips=big)
    _, state = jax.jit(tx.update)(jnp.array([jnp.nan]), state)
    assert int(state.total_skips) == int(state.consecutive_skips) == 2**31 - 1
