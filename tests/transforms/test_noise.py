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
    first = oc.add_noise(1.0, 0.55, key=3)
    second = oc.add_noise(1.0, 0.55, key=jax.random.PRNGKey(3))
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
        oc.add_noise(-1.0, 0.55)
    with pytest.raises(ValueError, match="key"):
        oc.add_noise(0.1, 0.55, key="seed")


def test_perturbed_gd_escapes_the_saddle_plain_gd_does_not():
    # f = x^2 - y^2 started on the stable manifold y = 0: gradient descent converges to the saddle
    def f(w):
        return w[0] ** 2 - w[1] ** 2

    def run(tx, steps=200):
        w, state = jnp.array([1.0, 0.0]), tx.init(jnp.zeros(2))
        for _ in range(steps):
            u, state = tx.update(jax.grad(f)(w), state)
            w = optax.apply_updates(w, u)
        return w, state

    plain, _ = run(oc.sgd(0.05))
    assert float(plain[1]) == 0.0 and float(jnp.abs(plain[0])) < 1e-6  # stalled at the saddle
    perturbed, state = run(
        optax.chain(
            oc.perturb_near_saddle(radius=0.01, grad_threshold=1e-3, interval=20, key=1),
            oc.sgd(0.05),
        )
    )
    assert float(jnp.abs(perturbed[1])) > 1.0  # escaped along the negative-curvature direction
    assert float(f(perturbed)) < -1.0
    assert int(state[0].perturbations) >= 1


def test_perturbation_is_in_the_ball_and_respects_the_interval():
    tx = oc.perturb_near_saddle(radius=0.5, grad_threshold=1.0, interval=3, key=2)
    state = tx.init({"a": jnp.zeros(3), "b": jnp.zeros((2, 2))})
    zero = {"a": jnp.zeros(3), "b": jnp.zeros((2, 2))}
    fired = []
    for _ in range(7):
        u, state = tx.update(zero, state)
        norm = float(jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree.leaves(u))))
        assert norm <= 0.5 + 1e-6
        fired.append(norm > 0)
    assert fired == [True, False, False, True, False, False, True]
    big = {"a": jnp.full(3, 10.0), "b": jnp.zeros((2, 2))}
    u, _ = tx.update(big, tx.init(big))
    np.testing.assert_array_equal(u["a"], big["a"])  # large gradient: no perturbation


def test_key_handling_is_optaxs():
    g = {"a": jnp.zeros(4), "b": jnp.zeros(3)}

    def first(tx):
        return tx.update(g, tx.init(g))[0]

    with jax.numpy_dtype_promotion("standard"):
        ref = first(optax.add_noise(0.5, 0.3, key=5))
    for tx in (
        oc.add_noise(0.5, 0.3, 5),  # optax's positional key
        oc.add_noise(0.5, 0.3, key=jax.random.key(5)),
        oc.add_noise(0.5, 0.3, key=jax.random.PRNGKey(5)),  # a raw key keeps its bits
        oc.add_noise(0.5, 0.3, seed=5),
        oc.add_noise(0.5, 0.3, seed=jnp.int32(5)),  # as an injected hyperparameter
    ):
        jax.tree.map(np.testing.assert_array_equal, first(tx), ref)
    with jax.numpy_dtype_promotion("standard"), pytest.warns(UserWarning):
        default = first(optax.add_noise(0.5, 0.3))  # optax warns and takes seed 0
    jax.tree.map(np.testing.assert_array_equal, first(oc.add_noise(0.5, 0.3)), default)
    state = oc.add_noise(0.5, 0.3, 5).init(g)
    assert state._fields == optax.AddNoiseState._fields
    assert jnp.issubdtype(state.rng_key.dtype, jax.dtypes.prng_key)
    with pytest.raises(ValueError, match="not both"):
        oc.add_noise(0.5, 0.3, 1, seed=2)
    with pytest.raises(ValueError, match="seed"):
        oc.add_noise(0.5, 0.3, seed=1.5)


def test_injected_seed_and_injected_noise_scale():
    tx = oc.inject_hyperparams(oc.add_noise)(eta=0.5, gamma=0.3, seed=5)
    g = {"a": jnp.zeros(4)}
    u, _ = jax.jit(tx.update)(g, tx.init(g))
    want, _ = oc.add_noise(0.5, 0.3, 5).update(g, oc.add_noise(0.5, 0.3, 5).init(g))
    np.testing.assert_allclose(u["a"], want["a"], rtol=1e-6)


def test_complex_noise_and_perturbation_of_complex_leaves():
    z = {"z": jnp.zeros(50_000, jnp.complex64)}
    u, _ = oc.add_noise(2.0, 0.0, 3).update(z, oc.add_noise(2.0, 0.0, 3).init(z))
    assert u["z"].dtype == jnp.complex64
    np.testing.assert_allclose(float(jnp.mean(jnp.abs(u["z"]) ** 2)), 2.0, rtol=0.03)
    np.testing.assert_allclose(float(jnp.var(u["z"].real)), 1.0, rtol=0.03)
    tx = oc.perturb_near_saddle(radius=0.5, grad_threshold=1.0, interval=1, key=4)
    small = {"z": jnp.zeros(3, jnp.complex64), "x": jnp.zeros(2)}
    u, _ = tx.update(small, tx.init(small))
    assert u["z"].dtype == jnp.complex64 and float(jnp.abs(u["z"].imag).max()) > 0
    norm = float(jnp.sqrt(jnp.sum(jnp.abs(u["z"]) ** 2) + jnp.sum(u["x"] ** 2)))
    assert 0 < norm <= 0.5 + 1e-6
