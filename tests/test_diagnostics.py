"""Landscape diagnostics against the exact Hessian of small models."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import optchain as oc
from optchain import diagnostics as dg


class TinyMLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(jnp.tanh(nn.Dense(6)(x)))


def _problem(seed=0):
    kx, ky, kp = jax.random.split(jax.random.PRNGKey(seed), 3)
    x = jax.random.normal(kx, (32, 4))
    y = jax.random.normal(ky, (32, 1))
    model = TinyMLP()
    params = model.init(kp, x)["params"]

    def loss(p, x, y):
        return jnp.mean((model.apply({"params": p}, x) - y) ** 2)

    return loss, params, x, y


def _exact_hessian(loss, params, *args):
    flat, unravel = ravel_pytree(params)
    h = jax.hessian(lambda v: loss(unravel(v), *args))(flat)
    return np.asarray(h, np.float64)


def test_hvp_matches_the_exact_hessian():
    loss, params, x, y = _problem()
    h = _exact_hessian(loss, params, x, y)
    flat, unravel = ravel_pytree(params)
    v = jax.random.normal(jax.random.PRNGKey(5), flat.shape)
    got = ravel_pytree(dg.hvp(loss, params, x, y)(unravel(v)))[0]
    np.testing.assert_allclose(got, h @ np.asarray(v), rtol=1e-4, atol=1e-5)


def test_extreme_eigenvalues_and_condition_number_match_eigh():
    loss, params, x, y = _problem()
    h = _exact_hessian(loss, params, x, y)
    exact = np.linalg.eigvalsh(h)
    # 37 parameters: a full Lanczos run is exact; 20 steps already pin the extremes
    full = dg.hessian_eigenvalues(loss, params, x, y, num_iterations=h.shape[0])
    np.testing.assert_allclose(full.largest, exact[-1], rtol=1e-4)
    np.testing.assert_allclose(full.smallest, exact[0], rtol=1e-3, atol=1e-5)
    short = dg.hessian_eigenvalues(loss, params, x, y, num_iterations=20)
    np.testing.assert_allclose(short.largest, exact[-1], rtol=1e-3)
    # a positive definite quadratic: the condition number is exact
    scales = jnp.array([0.5, 2.0, 8.0, 50.0])
    quad = dg.hessian_eigenvalues(
        lambda w: 0.5 * jnp.sum(scales * w**2), jnp.ones(4), num_iterations=4
    )
    np.testing.assert_allclose(quad.condition_number, 100.0, rtol=1e-4)
    assert dg.hessian_eigenvalues(
        lambda w: w[0] ** 2 - w[1] ** 2, jnp.ones(2), num_iterations=2
    ).condition_number == float("inf")


def test_hutchinson_trace_is_within_its_error():
    loss, params, x, y = _problem()
    h = _exact_hessian(loss, params, x, y)
    m = 400
    estimate, stderr = dg.hessian_trace(loss, params, x, y, num_samples=m, key=3)
    # Rademacher: Var(z^T H z) = 2 * sum of squared off-diagonal entries
    sd = np.sqrt(2 * (np.sum(h**2) - np.sum(np.diag(h) ** 2)) / m)
    assert abs(estimate - np.trace(h)) < 4 * sd, (estimate, np.trace(h), sd)
    assert 0.5 * sd < stderr < 2 * sd


def test_spectral_density_integrates_to_one_and_has_the_right_mean():
    loss, params, x, y = _problem()
    h = _exact_hessian(loss, params, x, y)
    grid, density, nodes, weights = dg.spectral_density(
        loss, params, x, y, num_iterations=37, num_runs=8
    )
    np.testing.assert_allclose(np.trapezoid(density, grid), 1.0, atol=1e-3)
    np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-6)
    # SLQ's first moment estimates tr(H)/n
    np.testing.assert_allclose(np.sum(weights * nodes), np.trace(h) / h.shape[0], rtol=0.35)
    assert (
        nodes.min() >= np.linalg.eigvalsh(h)[0] - 1e-4
        and nodes.max() <= np.linalg.eigvalsh(h)[-1] + 1e-4
    )


def test_step_test_is_exact_on_a_quadratic():
    a = jnp.array([[3.0, 1.0], [1.0, 2.0]])

    def f(w):
        return 0.5 * w @ a @ w + jnp.array([0.5, -1.0]) @ w

    w = jnp.array([1.0, 1.0])
    for lr in (0.05, 0.3):
        t = dg.step_test(f, w, learning_rate=lr)
        actual = float(f(w - lr * jax.grad(f)(w)) - f(w))
        np.testing.assert_allclose(t.predicted_change, actual, rtol=1e-5)
    t = dg.step_test(f, w, learning_rate=0.1)
    # at the safe step the quadratic is back where it started
    np.testing.assert_allclose(float(f(w - t.safe_step * jax.grad(f)(w))), float(f(w)), rtol=1e-5)
    g = np.asarray(jax.grad(f)(w))
    np.testing.assert_allclose(t.curvature, g @ np.asarray(a) @ g, rtol=1e-6)


def test_saddle_detector():
    f = lambda w: w[0] ** 2 - w[1] ** 2  # noqa: E731
    at_saddle = dg.detect_saddle(f, jnp.zeros(2), num_iterations=2)
    assert at_saddle.is_saddle and at_saddle.smallest_eigenvalue == pytest.approx(-2.0, rel=1e-5)
    assert not dg.detect_saddle(
        f, jnp.array([1.0, 0.0]), num_iterations=2
    ).is_saddle  # gradient too large
    bowl = dg.detect_saddle(lambda w: jnp.sum(w**2), jnp.zeros(2), num_iterations=2)
    assert not bowl.is_saddle and bowl.smallest_eigenvalue == pytest.approx(2.0, rel=1e-5)


def test_linear_interpolation_barrier():
    # two minima of a double well, separated by a bump of height 1 at the midpoint
    f = lambda w: jnp.sum((w**2 - 1.0) ** 2)  # noqa: E731
    got = dg.linear_interpolation(f, jnp.array([-1.0]), jnp.array([1.0]), num_points=21)
    np.testing.assert_allclose(got.barrier, 1.0, rtol=1e-6)
    assert got.losses[0] == got.losses[-1] == 0.0
    flat = dg.linear_interpolation(lambda w: jnp.sum(w**2) * 0.0, jnp.zeros(2), jnp.ones(2))
    assert flat.barrier == 0.0


def test_sharpness_orders_sharp_and_wide_minima():
    sharp = dg.epsilon_sharpness(lambda w: 50.0 * jnp.sum(w**2), jnp.zeros(3), epsilon=1e-2)
    wide = dg.epsilon_sharpness(lambda w: 0.5 * jnp.sum(w**2), jnp.zeros(3), epsilon=1e-2)
    # the box corner is the maximiser: 100 * c * 3 * eps^2
    np.testing.assert_allclose(sharp, 100 * 50 * 3 * 1e-4, rtol=1e-3)
    np.testing.assert_allclose(wide, 100 * 0.5 * 3 * 1e-4, rtol=1e-3)


def test_prune_rewind_and_keep_pruned():
    params = {"k": jnp.array([[0.1, -3.0], [0.5, 2.0]]), "b": jnp.array([0.01, 0.02])}
    mask = dg.magnitude_prune_mask(params, 0.5, mask=oc.layerwise_mask)
    np.testing.assert_array_equal(mask["k"], [[False, True], [False, True]])
    assert bool(jnp.all(mask["b"]))  # biases are not pruned
    global_mask = dg.magnitude_prune_mask(
        {"a": jnp.array([1.0, 2.0]), "b": jnp.array([3.0, 4.0])}, 0.5, per_leaf=False
    )
    np.testing.assert_array_equal(global_mask["a"], [False, False])
    early = jax.tree.map(lambda x: x + 1.0, params)
    rewound = dg.rewind(early, mask)
    np.testing.assert_array_equal(rewound["k"], [[0.0, -2.0], [0.0, 3.0]])

    tx = optax.chain(oc.sgd(0.1), oc.keep_pruned_at_zero(mask))
    p, state = rewound, tx.init(rewound)
    for _ in range(20):
        g = jax.tree.map(lambda w: w - 5.0, p)
        u, state = tx.update(g, state, p)
        p = optax.apply_updates(p, u)
    np.testing.assert_array_equal(p["k"][:, 0], [0.0, 0.0])
    assert bool(jnp.all(p["k"][:, 1] != rewound["k"][:, 1]))
    with pytest.raises(ValueError, match="sparsity"):
        dg.magnitude_prune_mask(params, 1.0)
