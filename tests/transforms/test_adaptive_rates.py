"""Per-element step-size rules: delta-bar-delta against a NumPy transcription of Jacobs' rule."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc


def jacobs_delta_bar_delta(w0, grad_fn, steps, rate0, kappa, phi, theta):
    """Jacobs (1988), transcribed in NumPy: eps grows by kappa where the EMA of past
    gradients agrees in sign with the current gradient, shrinks by (1 - phi) where it
    disagrees; the weight moves by -eps * g."""
    w = np.array(w0, np.float64)
    eps = np.full_like(w, rate0)
    bar = np.zeros_like(w)
    path = []
    for _ in range(steps):
        g = grad_fn(w)
        agree = bar * g
        eps = np.where(agree > 0, eps + kappa, np.where(agree < 0, eps * (1 - phi), eps))
        w = w - eps * g
        bar = (1 - theta) * g + theta * bar
        path.append(w.copy())
    return np.stack(path)


def test_delta_bar_delta_matches_jacobs_rule():
    h = np.array([1.0, 30.0, 0.2])
    grad_fn = lambda w: h * (w - 1.0)  # noqa: E731
    kw = dict(rate0=0.05, kappa=0.01, phi=0.3, theta=0.6)
    expected = jacobs_delta_bar_delta([3.0, -1.0, 0.0], grad_fn, 40, **kw)
    tx = oc.delta_bar_delta(0.05, kappa=0.01, phi=0.3, theta=0.6)
    w = jnp.array([3.0, -1.0, 0.0])
    state = tx.init(w)
    for t in range(40):
        g = jnp.asarray(grad_fn(np.asarray(w, np.float64)), jnp.float32)
        u, state = tx.update(g, state, w)
        w = optax.apply_updates(w, u)
        np.testing.assert_allclose(w, expected[t], rtol=2e-5, atol=1e-6)
    # the stiff coordinate's rate was cut, the flat one's grew
    rates = np.asarray(optax.tree.get(state, "rates"))
    assert rates[2] > 0.05 and rates[1] < 0.05


def test_ftml_needs_params():
    tx = oc.scale_by_ftml(0.1)
    with pytest.raises(ValueError, match="params"):
        tx.update(jnp.ones(1), tx.init(jnp.ones(1)))


def test_rprop_validates():
    with pytest.raises(ValueError, match="eta_plus"):
        oc.rprop(0.01, eta_plus=0.5)
    with pytest.raises(ValueError, match="max_step_size"):
        oc.rprop(0.01, min_step_size=1.0, max_step_size=0.5)


def test_rprop_default_is_optaxs_lagged_update_torch_compatible_is_the_current_step():
    rng = np.random.default_rng(3)
    grads = [jnp.asarray(rng.normal(size=6), jnp.float32) for _ in range(10)]

    def run(tx):
        state, outs = tx.init(jnp.zeros(6)), []
        for g in grads:
            u, state = tx.update(g, state)
            outs.append(np.asarray(u))
        return np.stack(outs), state

    optax_like, s1 = run(oc.scale_by_rprop(0.1))
    torch_like, s2 = run(oc.scale_by_rprop(0.1, torch_compatible=True))
    # the same state (step sizes and the stored step) in both modes
    np.testing.assert_array_equal(s1.step_sizes, s2.step_sizes)
    np.testing.assert_array_equal(s1.prev_updates, s2.prev_updates)
    np.testing.assert_array_equal(optax_like[0], 0.0)
    # optax's output at t is torch's at t - 1, except where the sign flips at t
    flips = np.stack([np.asarray(g) for g in grads])[1:] * torch_like[:-1] < 0
    np.testing.assert_array_equal(optax_like[1:], np.where(flips, 0.0, torch_like[:-1]))


def test_ftml_on_complex_is_phase_equivariant():
    phase = np.complex64(np.exp(0.4j))
    rng = np.random.default_rng(5)
    w0 = rng.normal(size=3).astype(np.float32)
    grads = [rng.normal(size=3).astype(np.float32) for _ in range(3)]

    def run(w, gs):
        tx = oc.scale_by_ftml(0.1)
        state, outs = tx.init(w), []
        for g in gs:
            u, state = tx.update(g, state, w)
            w = optax.apply_updates(w, u)
            outs.append(np.asarray(w))
        return outs

    real = run(jnp.asarray(w0), [jnp.asarray(g) for g in grads])
    rot = run(jnp.asarray(w0 * phase), [jnp.asarray(g * phase) for g in grads])
    for a, b in zip(real, rot, strict=True):
        assert b.dtype == np.complex64
        np.testing.assert_allclose(b, phase * a, rtol=1e-5, atol=1e-6)
