"""Layer-wise trust ratio, its mask, and the linear scaling rule."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc
from optchain import schedules


def test_trust_ratio_closed_form_per_leaf():
    params = {"k": jnp.array([[3.0, 4.0]]), "b": jnp.array([0.0, 0.0])}
    grads = {"k": jnp.array([[0.6, 0.8]]), "b": jnp.array([1.0, 2.0])}
    tx = oc.scale_by_trust_ratio(trust_coefficient=0.1)
    u, _ = tx.update(grads, tx.init(params), params)
    # ||w|| = 5, ||g|| = 1: ratio 0.1 * 5 / 1 = 0.5; zero-norm params: ratio 1
    np.testing.assert_allclose(u["k"], [[0.3, 0.4]], rtol=1e-6)
    np.testing.assert_allclose(u["b"], [1.0, 2.0])


def test_mask_spares_biases_and_norm_scales():
    params = {"kernel": jnp.full((2, 2), 2.0), "bias": jnp.full(2, 2.0)}
    grads = {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}
    assert oc.layerwise_mask(params) == {"bias": False, "kernel": True}
    tx = oc.scale_by_trust_ratio(mask=oc.layerwise_mask)
    u, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(u["kernel"], 2.0)  # ||w|| / ||g|| = 4 / 2
    np.testing.assert_array_equal(u["bias"], 1.0)  # untouched


def test_trust_coefficient_schedule_and_errors():
    tx = oc.scale_by_trust_ratio(trust_coefficient=lambda t: (t + 1).astype(jnp.float32))
    w, g = jnp.array([1.0]), jnp.array([1.0])
    state = tx.init(w)
    u0, state = tx.update(g, state, w)
    u1, state = tx.update(g, state, w)
    np.testing.assert_allclose([u0[0], u1[0]], [1.0, 2.0])
    with pytest.raises(ValueError, match="trust_coefficient"):
        oc.scale_by_trust_ratio(trust_coefficient=0.0)
    with pytest.raises(ValueError, match="params"):
        tx.update(g, tx.init(w))


def test_linear_scaling_rule_with_gradual_warmup():
    s = schedules.linear_scaling_rule(
        0.1, 256, 1024, warmup_steps=5, schedule=lambda peak: schedules.cosine(peak, 10)
    )
    values = [float(s(i)) for i in range(16)]
    np.testing.assert_allclose(values[:6], [0.1, 0.16, 0.22, 0.28, 0.34, 0.4], rtol=1e-6)
    np.testing.assert_allclose(values[10], 0.2, rtol=1e-6)  # half-way down the cosine
    np.testing.assert_allclose(values[15], 0.0, atol=1e-7)
    np.testing.assert_allclose(float(schedules.linear_scaling_rule(0.1, 256, 512)(3)), 0.2)


def test_positional_order_is_optaxs_min_norm_first():
    w, g = jnp.array([0.0, 1e-4]), jnp.array([1e-4, 0.0])
    tx = oc.scale_by_trust_ratio(1.0)  # min_norm = 1: both norms floored, ratio 1
    u, state = tx.update(g, tx.init(w), w)
    np.testing.assert_allclose(u, g)
    assert state == optax.EmptyState()
    tx = oc.scale_by_trust_ratio(0.0, 2.0, 0.5)  # 2 * 5 / (1 + 0.5)
    u, _ = tx.update(jnp.array([0.6, 0.8]), tx.init(w), jnp.array([3.0, 4.0]))
    np.testing.assert_allclose(u, np.array([0.6, 0.8]) * 10.0 / 1.5, rtol=1e-6)
