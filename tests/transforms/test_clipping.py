"""Clipping: element-wise, global norm, per block, AGC."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
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


def test_adaptive_grad_clip_is_unit_wise():
    w = jnp.array([[3.0, 0.0], [4.0, 1e-5]])  # column norms 5 and ~0 (floored to eps)
    g = jnp.array([[1.0, 0.3], [1.0, 0.4]])  # column norms sqrt(2) and 0.5
    tx = oc.adaptive_grad_clip(clipping=0.2, eps=1e-3)
    u, _ = tx.update(g, tx.init(w), w)
    # column 0: limit 1.0 < sqrt(2): rescaled to norm 1; column 1: limit 2e-4
    np.testing.assert_allclose(np.linalg.norm(np.asarray(u), axis=0), [1.0, 2e-4], rtol=1e-5)
    np.testing.assert_allclose(u[:, 0] / u[1, 0], [1.0, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="params"):
        tx.update(g, tx.init(w))


@pytest.mark.parametrize(
    "shape, axis, per_unit",
    [
        ((5,), None, 5.0),  # one unit
        ((1, 5, 1), None, 5.0),  # a vector after squeezing
        ((4, 3), None, 4.0),  # (in, out): axis 0
        ((4, 2, 3), None, 4.0),  # multi-head (in, heads, out): axis 0
        ((3, 3, 4, 8), None, 36.0),  # HWIO: axes 0-2
        ((2, 3, 3, 4, 8), None, 72.0),  # DHWIO: axes 0-3
        ((4, 3), 1, 3.0),
        ((2, 3, 4), (1, 2), 12.0),
    ],
)
def test_unitwise_norm_is_optax_and_keeps_the_shape(shape, axis, per_unit):
    x = jnp.ones(shape)
    out = oc.unitwise_norm(x, axis)
    assert out.shape == shape and out.dtype == jnp.float32
    np.testing.assert_allclose(out, np.sqrt(per_unit), rtol=1e-6)
    np.testing.assert_allclose(out, optax.transforms.unitwise_norm(x, axis), rtol=1e-6)


def test_unitwise_norm_of_complex_and_bad_rank():
    z = jnp.array([[3.0 + 4.0j, 1.0j], [0.0, 1.0]], jnp.complex64)
    np.testing.assert_allclose(oc.unitwise_norm(z), [[5.0, np.sqrt(2.0)]] * 2, rtol=1e-6)
    assert oc.unitwise_norm(z).dtype == jnp.float32
    with pytest.raises(ValueError, match="axis"):
        oc.unitwise_norm(jnp.ones((1, 2, 1, 2, 1, 2)))


def test_constant_thresholds_keep_no_state_schedules_count():
    for tx in (oc.clip(1.0), oc.clip_by_global_norm(1.0), oc.adaptive_grad_clip(0.1)):
        assert tx.init(TREE) == optax.EmptyState()
    state = oc.clip_by_global_norm(lambda t: 1.0).init(TREE)
    assert isinstance(state, oc.CountState) and int(state.count) == 0


def test_global_norm_skips_integer_leaves_and_zeroes_them():
    tree = {**TREE, "n": jnp.array([100], jnp.int32)}
    u, _ = oc.clip_by_global_norm(6.5).update(tree, optax.EmptyState())
    np.testing.assert_allclose(u["a"], [1.5, -2.0])  # the norm is still 13
    assert u["n"].dtype == jnp.int32 and int(u["n"][0]) == 0


def test_block_norm_on_complex_is_phase_equivariant():
    phase = np.complex64(np.exp(1.1j))
    real = {"a": jnp.array([3.0, -4.0]), "b": jnp.array([0.3])}
    rotated = jax.tree.map(lambda x: x.astype(jnp.complex64) * phase, real)
    for tx in (oc.clip_by_block_norm(2.0), oc.clip_by_global_norm(2.0)):
        want, _ = tx.update(real, tx.init(real))
        got, _ = tx.update(rotated, tx.init(rotated))
        for key in real:
            assert got[key].dtype == jnp.complex64
            np.testing.assert_allclose(got[key], phase * np.asarray(want[key]), rtol=1e-6)
