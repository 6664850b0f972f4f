"""optchain.lookahead against optax.lookahead: values, state fields, the closed form of a sync."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

STEPS = 200


def _params():
    return {
        "w": jnp.array([1.0, -0.5, 0.25]),
        "b": jnp.array([0.3]),
        "m": jnp.array([[0.7, -0.2], [0.1, 0.4]]),
    }


def _loss(params):
    return sum(
        jnp.sum(jnp.square(x - 0.3) * (1.0 + jnp.arange(x.size, dtype=x.dtype).reshape(x.shape)))
        for x in jax.tree.leaves(params)
    )


def _run(tx, pair, steps=STEPS):
    def body(carry, _):
        p, s = carry
        u, s = tx.update(jax.grad(_loss)(p.fast), s, p)
        return (optax.apply_updates(p, u), s), None

    @jax.jit
    def run(p):
        (p, s), _ = jax.lax.scan(body, (p, tx.init(p)), None, length=steps)
        return p, s

    return run(pair)


def _assert_close(a, b, rtol=1e-5, atol=1e-7):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), a, b)


INNER = {
    "adam": (lambda: oc.adam(0.05), lambda: optax.adam(0.05), ("count", "mu", "nu")),
    "sgd_momentum": (
        lambda: oc.sgd(0.05, momentum=0.9),
        lambda: optax.sgd(0.05, momentum=0.9),
        ("trace",),
    ),
}


@pytest.mark.parametrize("reset_state", [False, True])
@pytest.mark.parametrize("inner", sorted(INNER))
def test_values_and_state_fields_are_optax(inner, reset_state):
    ours_inner, theirs_inner, fields = INNER[inner]
    ours = oc.lookahead(ours_inner(), 5, 0.3, reset_state)
    theirs = optax.lookahead(theirs_inner(), 5, 0.3, reset_state)
    p_ours, s_ours = _run(ours, oc.LookaheadParams.init_synced(_params()))
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-promotion clean
        p_theirs, s_theirs = _run(theirs, optax.LookaheadParams.init_synced(_params()))
    assert isinstance(p_ours, oc.LookaheadParams)
    _assert_close(p_ours.fast, p_theirs.fast)
    _assert_close(p_ours.slow, p_theirs.slow)
    assert int(s_ours.steps_since_sync) == int(s_theirs.steps_since_sync) == STEPS % 5
    for field in fields:
        _assert_close(optax.tree.get(s_ours, field), optax.tree.get(s_theirs, field), atol=1e-6)


def test_complex_params_are_optax():
    params = {"z": jnp.array([1.0 + 2.0j, -0.5 + 0.1j]), "r": jnp.array([0.3 - 0.2j])}

    def run(tx, pair):
        state = tx.init(pair)
        step = jax.jit(tx.update)
        for k in range(6):
            grads = jax.tree.map(lambda p, k=k: p * (1.5 - 0.5j) - 0.1 * k, pair.fast)
            updates, state = step(grads, state, pair)
            pair = optax.apply_updates(pair, updates)
        return pair

    ours = run(oc.lookahead(oc.adam(0.1), 2, 0.5), oc.LookaheadParams.init_synced(params))
    with jax.numpy_dtype_promotion("standard"):
        theirs = run(
            optax.lookahead(optax.adam(0.1), 2, 0.5), optax.LookaheadParams.init_synced(params)
        )
    _assert_close(tuple(ours), tuple(theirs), rtol=2e-6)


def test_a_sync_step_has_the_closed_form():
    """k fast sgd steps on |w|^2 / 2 scale w by (1 - lr)**k; the sync moves slow by alpha of
    the way to the fast weights and restarts the fast weights there."""
    lr, k, alpha, w0 = 0.25, 3, 0.4, jnp.array([2.0, -1.0])
    tx = oc.lookahead(oc.sgd(lr), k, alpha)
    pair = oc.LookaheadParams.init_synced(w0)
    state = tx.init(pair)
    for step in range(k):
        updates, state = tx.update(pair.fast, state, pair)
        pair = optax.apply_updates(pair, updates)
        if step < k - 1:  # before the sync the slow weights do not move
            np.testing.assert_array_equal(pair.slow, w0)
    fast = w0 * (1 - lr) ** k
    _assert_close(pair.slow, w0 + alpha * (fast - w0), rtol=1e-6)
    np.testing.assert_array_equal(pair.fast, pair.slow)
    assert int(state.steps_since_sync) == 0


def test_optax_lookahead_params_work_and_keep_their_type():
    tx = oc.lookahead(oc.sgd(0.1), 2, 0.5)
    pair = optax.LookaheadParams.init_synced({"w": jnp.ones(2)})
    updates, _ = tx.update(pair.fast, tx.init(pair), pair)
    assert type(updates) is optax.LookaheadParams
    optax.apply_updates(pair, updates)


def test_init_synced_copies_the_slow_weights():
    params = {"w": jnp.ones(3)}
    pair = oc.LookaheadParams.init_synced(params)
    assert pair.fast is params
    assert pair.slow["w"].unsafe_buffer_pointer() != params["w"].unsafe_buffer_pointer()
    np.testing.assert_array_equal(pair.slow["w"], params["w"])


def test_init_takes_the_fast_weights_alone_and_update_needs_the_pair():
    tx = oc.lookahead(oc.adam(0.1), 2, 0.5)
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    assert int(optax.tree.get(state, "count")) == 0
    with pytest.raises(ValueError, match="LookaheadParams"):
        tx.update(params, state, params)


def test_integer_leaves_get_zero_updates():
    params = {"w": jnp.array([1.0, 2.0]), "n": jnp.array([3, 4], jnp.int32)}
    tx = oc.lookahead(oc.sgd(0.1), 1, 0.5)
    pair = oc.LookaheadParams(params, {**params, "n": jnp.array([5, 5], jnp.int32)})
    updates, _ = tx.update(params, tx.init(pair), pair)
    for part in updates:
        assert part["n"].dtype == jnp.int32
        np.testing.assert_array_equal(part["n"], 0)


def test_construction_checks_name_the_argument():
    with pytest.raises(ValueError, match="sync_period"):
        oc.lookahead(oc.sgd(0.1), 0, 0.5)
    with pytest.raises(ValueError, match="slow_step_size"):
        oc.lookahead(oc.sgd(0.1), 2, 1.5)
    with pytest.raises(ValueError, match="reset_state"):
        oc.lookahead(oc.sgd(0.1), 2, 0.5, reset_state=1)
