"""sign."""

import jax.numpy as jnp
import numpy as np

import optchain as oc


def test_sign_values_and_dtype():
    tx = oc.sign()
    g = {"a": jnp.array([-3.0, 0.0, 1e-30], jnp.bfloat16), "b": jnp.array([2.5, -0.0])}
    u, state = tx.update(g, tx.init(g))
    assert u["a"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(u["a"], np.float32), [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(u["b"], [1.0, 0.0])
    assert state == oc.SignState()
