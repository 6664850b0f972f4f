"""The curvature-capped learning rate."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc


def _cliff(w, steepness):
    # gentle slope in w[0], a steep wall in w[1]
    return 0.5 * w[0] ** 2 + 0.5 * steepness * w[1] ** 2


def test_the_cap_keeps_gd_stable_where_plain_gd_diverges():
    lr = 0.1  # stable for curvature < 20; the wall has curvature 100
    w0 = jnp.array([1.0, 1.0])
    plain, guarded = w0, w0
    tx = oc.scale_by_safe_step(lr, _cliff, fraction=0.5)
    state = tx.init(w0)
    step = jax.jit(lambda g, s, w: tx.update(g, s, w, batch=(100.0,)))
    for _ in range(30):
        plain = plain - lr * jax.grad(_cliff)(plain, 100.0)
        u, state = step(jax.grad(_cliff)(guarded, 100.0), state, guarded)
        guarded = optax.apply_updates(guarded, u)
    assert float(jnp.abs(plain[1])) > 1e10
    assert float(_cliff(guarded, 100.0)) < 0.2 * float(_cliff(w0, 100.0))
    assert int(state.hvp_evaluations) == 30


def test_rate_is_the_closed_form_and_every_k_reuses_it():
    w = jnp.array([2.0, -1.0])
    g = jax.grad(_cliff)(w, 10.0)
    ghg = float(g[0] ** 2 + 10.0 * g[1] ** 2)
    safe = 2 * float(g @ g) / ghg
    tx = oc.scale_by_safe_step(1.0, _cliff, fraction=0.25, every=3)
    state = tx.init(w)
    rates, evaluations = [], []
    for _ in range(6):
        u, state = tx.update(g, state, w, batch=(10.0,))
        rates.append(float(state.rate))
        evaluations.append(int(state.hvp_evaluations))
    np.testing.assert_allclose(rates[0], 0.25 * safe, rtol=1e-6)
    np.testing.assert_allclose(u, -0.25 * safe * g, rtol=1e-6)
    assert evaluations == [1, 1, 1, 2, 2, 2]


def test_no_bound_means_the_plain_rate():
    # negative curvature along the direction: the quadratic model never turns up
    tx = oc.scale_by_safe_step(0.3, lambda w: -jnp.sum(w**2))
    w = jnp.array([1.0, 2.0])
    u, state = tx.update(jnp.array([1.0, 1.0]), tx.init(w), w, batch=())
    assert float(state.rate) == pytest.approx(0.3)
    assert float(state.safe_step) == float("inf")
    np.testing.assert_allclose(u, [-0.3, -0.3])


def test_bad_arguments():
    with pytest.raises(ValueError, match="fraction"):
        oc.scale_by_safe_step(0.1, _cliff, fraction=0.0)
    with pytest.raises(ValueError, match="every"):
        oc.scale_by_safe_step(0.1, _cliff, every=0)
    with pytest.raises(ValueError, match="learning_rate"):
        oc.scale_by_safe_step(-0.1, _cliff)
    with pytest.raises(TypeError, match="loss_fn"):
        oc.scale_by_safe_step(0.1, 3.0)


def test_integer_parameters_are_held_constant():
    def loss(p):
        return 0.5 * jnp.sum(p["w"] ** 2) * p["n"].astype(jnp.float32)

    params = {"w": jnp.array([1.0, 2.0]), "n": jnp.array(4, jnp.int32)}
    tx = oc.scale_by_safe_step(1.0, loss, fraction=1.0)
    g = {"w": jnp.array([4.0, 8.0]), "n": jnp.array(0, jnp.int32)}
    u, state = tx.update(g, tx.init(params), params)
    np.testing.assert_allclose(float(state.safe_step), 2.0 / 4.0, rtol=1e-6)  # curvature 4
    np.testing.assert_allclose(u["w"], [-2.0, -4.0], rtol=1e-6)
    assert u["n"].dtype == jnp.int32 and int(u["n"]) == 0
