"""Weight decay: coupled and decoupled, masks, schedules."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

PARAMS = {"kernel": jnp.array([1.0, -2.0]), "bias": jnp.array([4.0])}
ZEROS = {"kernel": jnp.zeros(2), "bias": jnp.zeros(1)}


def test_coupled_decay_adds_to_the_gradient():
    tx = oc.add_decayed_weights(0.1)
    u, _ = tx.update(ZEROS, tx.init(PARAMS), PARAMS)
    np.testing.assert_allclose(u["kernel"], [0.1, -0.2])


def test_decoupled_decay_shrinks_independently_of_the_learning_rate():
    for lr in (0.01, 1.0):
        tx = optax.chain(oc.sgd(lr), oc.decoupled_weight_decay(0.1))
        u, _ = tx.update(ZEROS, tx.init(PARAMS), PARAMS)
        np.testing.assert_allclose(optax.apply_updates(PARAMS, u)["bias"], [3.6])


def test_mask_excludes_biases():
    tx = oc.add_decayed_weights(0.5, mask={"kernel": True, "bias": False})
    u, _ = tx.update(ZEROS, tx.init(PARAMS), PARAMS)
    np.testing.assert_allclose(u["kernel"], [0.5, -1.0])
    np.testing.assert_array_equal(u["bias"], [0.0])


def test_weight_decay_schedule():
    tx = oc.add_decayed_weights(lambda t: 0.1 * (t + 1).astype(jnp.float32))
    state = tx.init(PARAMS)
    _, state = tx.update(ZEROS, state, PARAMS)
    u, _ = tx.update(ZEROS, state, PARAMS)
    np.testing.assert_allclose(u["bias"], [0.8])


def test_needs_params_and_valid_rate():
    with pytest.raises(ValueError, match="needs the parameters"):
        oc.add_decayed_weights(0.1).update(ZEROS, oc.add_decayed_weights(0.1).init(PARAMS))
    with pytest.raises(ValueError, match="weight_decay"):
        oc.add_decayed_weights(-0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        oc.decoupled_weight_decay(1.5)


def test_state_is_optaxs_empty_state_or_weight_decay_schedule():
    assert oc.add_decayed_weights(0.1).init(PARAMS) == optax.EmptyState()
    state = oc.add_decayed_weights(lambda t: 0.1).init(PARAMS)
    assert isinstance(state, oc.WeightDecaySchedule) and state._fields == ("count",)
    assert oc.WeightDecaySchedule._fields == optax.transforms._adding.WeightDecaySchedule._fields
    assert oc.decoupled_weight_decay(0.1).init(PARAMS) == optax.EmptyState()


def test_none_update_leaves_stay_none_and_none_updates_pass():
    tx = oc.add_decayed_weights(0.1)
    updates = {"kernel": None, "bias": jnp.zeros(1)}
    u, _ = tx.update(updates, tx.init(PARAMS), PARAMS)
    assert u["kernel"] is None
    np.testing.assert_allclose(u["bias"], [0.4])
    assert tx.update(None, tx.init(PARAMS), PARAMS)[0] is None  # as optax's test_none_argument


def test_a_constant_zero_does_nothing_and_needs_no_params():
    for tx in (oc.add_decayed_weights(), oc.decoupled_weight_decay(0.0)):
        u, state = tx.update(PARAMS, tx.init(PARAMS))
        jax.tree.map(np.testing.assert_array_equal, u, PARAMS)
        assert state == optax.EmptyState()


def test_decoupled_decay_is_optaxs_decay_with_the_opposite_sign_also_on_complex():
    z = {"w": jnp.array([1.0 + 2.0j, -3.0j], jnp.complex64), "x": jnp.array([2.0])}
    g = {"w": jnp.array([0.5 - 1.0j, 1.0], jnp.complex64), "x": jnp.array([1.0])}
    for rate in (0.1, lambda t: 0.1 * (t + 1).astype(jnp.float32)):
        ours = oc.decoupled_weight_decay(rate)
        neg = (lambda t, r=rate: -r(t)) if callable(rate) else -rate
        theirs = optax.add_decayed_weights(neg)
        s_o, s_t = ours.init(z), theirs.init(z)
        for _ in range(2):
            u_o, s_o = ours.update(g, s_o, z)
            with jax.numpy_dtype_promotion("standard"):
                u_t, s_t = theirs.update(g, s_t, z)
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), u_o, u_t)
    # closed form on the complex leaf
    u, _ = oc.add_decayed_weights(0.5).update(g, optax.EmptyState(), z)
    np.testing.assert_allclose(u["w"], [1.0 + 0.0j, 1.0 - 1.5j], rtol=1e-6)
