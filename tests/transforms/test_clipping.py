"""Clipping: element-wise, global norm, per block, AGC."""

import jax.numpy as jnp
import numpy as np
import pytest

import optchain as oc

TREE = {"a": jnp.array([3.0, -4.0]), "b": jnp.array([[12.0]])}


def test_clip_is_symmetric():
    u, _ = oc.clip(2.0).update(jnp.array([-5.0, -1.0, 0.5, 9.0]), oc.clip(2.0).init(None))
    np.testing.assert_array_equal(u, [-2.0, -1.0, 0.5, 2.0])


def test_clip_threshold_schedule():
    tx = oc.clip(lambda t: 1.0 + t.astype(jnp.float32))
    state = tx.init(None)
    u0, state = tx.update(jnp.array([5.0]), state)
    u1, state = tx.update(jnp.array([5.0]), state)
    np.testing.assert_array_equal([u0[0], u1[0]], [1.0, 2.0])


def test_global_norm():
    tx = oc.clip_by_global_norm(6.5)  # norm of TREE is 13
    u, _ = tx.update(TREE, tx.init(None))
    np.testing.assert_allclose(u["a"], [1.5, -2.0])
    np.testing.assert_allclose(u["b"], [[6.0]])
    small, _ = oc.clip_by_global_norm(20.0).update(TREE, tx.init(None))
    np.testing.assert_array_equal(small["a"], TREE["a"])


def test_block_norm_is_per_leaf():
    tx = oc.clip_by_block_norm(5.0)
    u, _ = tx.update(TREE, tx.init(None))
    np.testing.assert_allclose(u["a"], [3.0, -4.0])
    np.testing.assert_allclose(u["b"], [[5.0]])


def test_adaptive_clip_is_unit_wise():
    w = jnp.array([[3.0, 0.0], [4.0, 1e-5]])  # column norms 5 and ~0 (floored to eps)
    g = jnp.array([[1.0, 0.3], [1.0, 0.4]])  # column norms sqrt(2) and 0.5
    tx = oc.adaptive_clip(clipping=0.2, eps=1e-3)
    u, _ = tx.update(g, tx.init(w), w)
    # column 0: limit 1.0 < sqrt(2): rescaled to norm 1; column 1: limit 2e-4
    np.testing.assert_allclose(np.linalg.norm(np.asarray(u), axis=0), [1.0, 2e-4], rtol=1e-5)
    np.testing.assert_allclose(u[:, 0] / u[1, 0], [1.0, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="params"):
        tx.update(g, tx.init(w))


def test_unitwise_norm_shapes():
    assert oc.unitwise_norm(jnp.ones(5)).shape == ()
    assert oc.unitwise_norm(jnp.ones((3, 3, 4, 8))).shape == (1, 1, 1, 8)
    np.testing.assert_allclose(oc.unitwise_norm(jnp.ones((3, 3, 4, 8)))[0, 0, 0, 0], 6.0)
