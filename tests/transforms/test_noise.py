"""add_noise: annealed variance, key in state, reproducibility."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc


def test_variance_follows_eta_over_one_plus_t_to_the_gamma():
    eta, gamma = 2.0, 0.55
    tx = oc.add_noise(eta, gamma, key=7)
    zeros = jnp.zeros(200_000)
    state = tx.init(zeros)
    for t in range(4):
        u, state = tx.update(zeros, state)
        expected = eta / (1 + t) ** gamma
        assert abs(float(jnp.var(u)) / expected - 1) < 0.02, t
        assert abs(float(jnp.mean(u))) < 0.02


def test_same_key_same_noise_and_a_fresh_draw_every_step():
    g = {"a": jnp.ones(5), "b": jnp.ones((2, 2))}
    first = oc.add_noise(1.0, key=3)
    second = oc.add_noise(1.0, key=jax.random.PRNGKey(3))
    s1, s2 = first.init(g), second.init(g)
    u1, s1 = first.update(g, s1)
    u2, s2 = second.update(g, s2)
    jax.tree.map(np.testing.assert_array_equal, u1, u2)
    u3, _ = first.update(g, s1)
    assert not np.allclose(u1["a"], u3["a"])


def test_matches_optax_add_noise_stream():
    g = {"a": jnp.ones(4), "b": jnp.zeros(3)}
    ours, theirs = oc.add_noise(0.5, 0.3, key=11), optax.add_noise(0.5, 0.3, key=11)
    s_o, s_t = ours.init(g), theirs.init(g)
    with jax.numpy_dtype_promotion("standard"):
        for _ in range(3):
            u_o, s_o = ours.update(g, s_o)
            u_t, s_t = theirs.update(g, s_t)
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), u_o, u_t)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="eta"):
        oc.add_noise(-1.0)
    with pytest.raises(ValueError, match="key"):
        oc.add_noise(key="seed")
