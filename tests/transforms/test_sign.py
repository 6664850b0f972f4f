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


def test_complex_sign_is_the_phase_and_scaled_sign_keeps_the_mean_modulus():
    z = jnp.array([3.0 + 4.0j, -2.0j, 0.0], jnp.complex64)
    u, _ = oc.sign().update(z, oc.SignState())
    np.testing.assert_allclose(u, [0.6 + 0.8j, -1.0j, 0.0], rtol=1e-6)
    u, _ = oc.scaled_sign().update(z, oc.ScaledSignState())
    np.testing.assert_allclose(u, (7.0 / 3.0) * np.array([0.6 + 0.8j, -1.0j, 0.0]), rtol=1e-6)


def test_error_feedback_invariant_holds_on_complex_updates():
    rng = np.random.default_rng(2)
    tx = oc.error_feedback(oc.scaled_sign())
    w = jnp.zeros(5, jnp.complex64)
    state = tx.init(w)
    assert state.residual.dtype == jnp.complex64
    for _ in range(4):
        g = jnp.asarray(rng.normal(size=5) + 1j * rng.normal(size=5), jnp.complex64)
        old = state.residual
        c, state = tx.update(g, state)
        np.testing.assert_allclose(c + state.residual, g + old, rtol=1e-5, atol=1e-6)
