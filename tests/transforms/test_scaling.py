"""Scaling transforms: closed forms, both epsilon conventions, schedules at step 0."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

GRADS = [np.array([1.0, -2.0, 0.0]), np.array([0.5, 1.0, -1.0]), np.array([-1.5, 0.25, 2.0])]


def _run(tx, grads=GRADS):
    state, outs = tx.init(jnp.zeros(3)), []
    for g in grads:
        u, state = tx.update(jnp.asarray(g, jnp.float32), state)
        outs.append(np.asarray(u))
    return outs, state


def test_learning_rate_schedule_first_update_sees_step_zero():
    tx = oc.scale_by_learning_rate(lambda t: (t + 1).astype(jnp.float32) * 0.5)
    outs, _ = _run(tx)
    for t, (g, out) in enumerate(zip(GRADS, outs)):
        np.testing.assert_allclose(out, -(t + 1) * 0.5 * g)


def test_scale_multiplies():
    outs, _ = _run(oc.scale(-3.0))
    np.testing.assert_allclose(outs[1], -3.0 * GRADS[1])


@pytest.mark.parametrize("eps_in_sqrt", [True, False])
def test_scale_by_rms_epsilon_conventions(eps_in_sqrt):
    rho, eps, init = 0.9, 0.1, 0.5
    outs, state = _run(oc.scale_by_rms(rho, eps, eps_in_sqrt=eps_in_sqrt, initial_scale=init))
    nu = np.full(3, init)
    for g, out in zip(GRADS, outs):
        nu = rho * nu + (1 - rho) * g**2
        denom = np.sqrt(nu + eps) if eps_in_sqrt else np.sqrt(nu) + eps
        np.testing.assert_allclose(out, g / denom, rtol=1e-6)
    np.testing.assert_allclose(state.nu, nu, rtol=1e-6)


@pytest.mark.parametrize("eps_in_sqrt", [True, False])
def test_scale_by_stddev_is_centered(eps_in_sqrt):
    rho, eps = 0.8, 1e-3
    outs, _ = _run(oc.scale_by_stddev(rho, eps, eps_in_sqrt=eps_in_sqrt))
    mu, nu = np.zeros(3), np.zeros(3)
    for g, out in zip(GRADS, outs):
        mu, nu = rho * mu + (1 - rho) * g, rho * nu + (1 - rho) * g**2
        var = nu - mu**2
        denom = np.sqrt(var + eps) if eps_in_sqrt else np.sqrt(var) + eps
        np.testing.assert_allclose(out, g / denom, rtol=1e-5)


def test_sum_of_squares_both_conventions_and_zero_accumulator():
    outs, _ = _run(oc.scale_by_sum_of_squares(0.0, 1e-7))
    np.testing.assert_array_equal(outs[0][2], 0.0)  # no gradient yet: optax's 0, not 0/0
    s = np.zeros(3)
    outs_torch, _ = _run(oc.scale_by_sum_of_squares(0.0, 1e-10, eps_in_sqrt=False))
    for g, out in zip(GRADS, outs_torch):
        s = s + g**2
        np.testing.assert_allclose(out, g / (np.sqrt(s) + 1e-10), rtol=1e-6)


def test_adadelta_matches_zeilers_rule():
    rho, eps = 0.9, 1e-6
    outs, _ = _run(oc.scale_by_adadelta(rho, eps))
    eg, ex = np.zeros(3), np.zeros(3)
    for g, out in zip(GRADS, outs):
        eg = rho * eg + (1 - rho) * g**2
        dx = np.sqrt(ex + eps) / np.sqrt(eg + eps) * g
        ex = rho * ex + (1 - rho) * dx**2
        np.testing.assert_allclose(out, dx, rtol=1e-5)


def test_running_max_and_its_position_in_the_chain():
    outs, _ = _run(oc.running_max())
    np.testing.assert_allclose(outs[-1], np.maximum.reduce([np.zeros(3), *GRADS]))
    # optax's AMSGrad takes the max of the *corrected* moment, torch's of the raw one.
    b2 = 0.5
    corrected = optax.chain(oc.ema(b2, order=2), oc.bias_correction(b2), oc.running_max())
    raw = optax.chain(oc.ema(b2, order=2), oc.running_max(), oc.bias_correction(b2))
    grads = [np.array([4.0]), np.array([0.1]), np.array([0.1])]
    c_outs, _ = _run(corrected, [np.repeat(g, 3) for g in grads])
    r_outs, _ = _run(raw, [np.repeat(g, 3) for g in grads])
    v1 = (1 - b2) * 16  # raw v after step 1 = 8; corrected = 16
    np.testing.assert_allclose(c_outs[2][0], v1 / (1 - b2), rtol=1e-6)  # frozen at 16
    np.testing.assert_allclose(r_outs[2][0], v1 / (1 - b2**3), rtol=1e-6)  # 8 / 0.875


def test_infinity_norm():
    outs, _ = _run(oc.infinity_norm(0.5, eps=0.0))
    u = np.zeros(3)
    for g, out in zip(GRADS, outs):
        u = np.maximum(0.5 * u, np.abs(g))
        np.testing.assert_allclose(out, u)


def test_sqrt_with_eps_root():
    tx = oc.sqrt(eps_root=1.0)
    u, _ = tx.update(jnp.array([3.0, 8.0]), tx.init(None))
    np.testing.assert_allclose(u, [2.0, 3.0])
