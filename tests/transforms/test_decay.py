"""Weight decay: coupled and decoupled, masks, schedules."""

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
