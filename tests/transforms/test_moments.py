"""momentum, first/second moments, optax's ema, bias_correction: closed forms, optax values."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

GRADS = [np.array([1.0, -2.0, 0.5]), np.array([0.5, 1.0, -1.0]), np.array([-1.5, 0.25, 2.0])]


def _run(tx, grads=GRADS, params=None):
    params = jnp.zeros(3) if params is None else params
    state, outs = tx.init(params), []
    for g in grads:
        u, state = tx.update(jnp.asarray(g, jnp.float32), state, params)
        outs.append(np.asarray(u))
    return outs, state


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dampening", [0.0, 0.3])
def test_momentum_follows_torch_sgd_rule(dampening, nesterov):
    mu = 0.9
    outs, _ = _run(oc.momentum(mu, dampening=dampening, nesterov=nesterov))
    buf = None
    for g, out in zip(GRADS, outs):
        buf = g.copy() if buf is None else mu * buf + (1 - dampening) * g
        expected = g + mu * buf if nesterov else buf
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_momentum_schedule_sees_step_zero_first():
    outs, state = _run(oc.momentum(lambda t: 0.1 * t.astype(jnp.float32)))
    b0 = GRADS[0]
    b1 = 0.1 * b0 + GRADS[1]
    b2 = 0.2 * b1 + GRADS[2]
    for out, expected in zip(outs, [b0, b1, b2]):
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert int(state.count) == 3


@pytest.mark.parametrize("square", [False, True])
def test_moment_closed_form(square):
    beta = 0.8
    tx = oc.second_moment(beta) if square else oc.first_moment(beta)
    outs, state = _run(tx)
    m = np.zeros(3)
    for g, out in zip(GRADS, outs):
        m = beta * m + (1 - beta) * (g**2 if square else g)
        np.testing.assert_allclose(out, m, rtol=1e-6)
    np.testing.assert_allclose(optax.tree.get(state, "nu" if square else "mu"), m, rtol=1e-6)


def test_moment_accumulator_dtype_is_kept_and_output_follows_input():
    tx = oc.first_moment(0.9, accumulator_dtype=jnp.float32)
    params = jnp.zeros(3, jnp.bfloat16)
    state = tx.init(params)
    u, state = tx.update(jnp.ones(3, jnp.bfloat16), state)
    assert state.mu.dtype == jnp.float32 and u.dtype == jnp.bfloat16


@pytest.mark.parametrize("debias", [True, False])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
def test_ema_is_optax_ema(debias, dtype):
    """Same call, same values, same state fields as optax.ema, for real and complex leaves."""
    ours, theirs = oc.ema(0.8, debias), optax.ema(0.8, debias)
    params = jnp.zeros(3, dtype)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    standard = jax.numpy_dtype_promotion("standard")  # optax's ema mixes float and int32
    assert type(s_ours).__name__ == type(s_theirs).__name__ and s_ours._fields == s_theirs._fields
    for g in GRADS:
        g = jnp.asarray(g * (1 - 0.5j) if dtype == jnp.complex64 else g, dtype)
        u_ours, s_ours = ours.update(g, s_ours)
        with standard:
            u_theirs, s_theirs = theirs.update(g, s_theirs)
        np.testing.assert_allclose(u_ours, u_theirs, rtol=1e-6)
        np.testing.assert_allclose(s_ours.ema, s_theirs.ema, rtol=1e-6)
        assert int(s_ours.count) == int(s_theirs.count)


def test_ema_refuses_to_debias_a_scheduled_decay():
    with pytest.raises(ValueError, match="first_moment"):
        oc.ema(lambda t: 0.9)
    oc.ema(lambda t: 0.9, debias=False)


def test_second_moment_of_complex_is_real_abs_square():
    g = jnp.array([3.0 + 4.0j, -1.0j])
    tx = oc.second_moment(0.5)
    v, state = tx.update(g, tx.init(jnp.zeros(2, jnp.complex64)))
    assert state.nu.dtype == jnp.complex64
    np.testing.assert_allclose(v, [12.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(jnp.imag(v), 0.0)


@pytest.mark.parametrize(
    "decay",
    [0.9, lambda t: 0.5 + 0.4 * jnp.minimum(t, 5).astype(jnp.float32) / 5],
    ids=["constant", "scheduled"],
)
def test_debiased_ema_of_a_constant_is_that_constant(decay):
    """The invariant bias correction exists for, exact also when the decay is scheduled."""
    tx = optax.chain(oc.first_moment(decay), oc.bias_correction(decay))
    c = jnp.array([3.0, -0.25, 7.0])
    state = tx.init(c)
    for _ in range(12):
        u, state = tx.update(c, state)
        np.testing.assert_allclose(u, c, rtol=2e-6)


def test_bias_correction_step_offset_uses_the_next_power():
    beta = 0.9
    tx = oc.bias_correction(beta, step_offset=1)
    state = tx.init(jnp.zeros(1))
    for t in range(1, 4):
        u, state = tx.update(jnp.ones(1), state)
        np.testing.assert_allclose(u, 1 / (1 - beta ** (t + 1)), rtol=1e-6)


def test_bias_correction_rejects_negative_offset():
    with pytest.raises(ValueError, match="step_offset"):
        oc.bias_correction(0.9, step_offset=-1)


def test_bf16_accumulator_does_not_round_the_decay_to_one():
    """0.999 is 1.0 in bfloat16; the EMA must run its arithmetic in float32 and only store
    bf16 (optax issue #1414 is the injected-hyperparameter form of this bug)."""
    for decay in (0.999, jnp.float32(0.999), lambda t: 0.999):
        tx = oc.second_moment(decay)
        state = tx.init(jnp.zeros(2, jnp.bfloat16))
        u, state = tx.update(jnp.full(2, 2.0, jnp.bfloat16), state)
        assert u.dtype == jnp.bfloat16 and state.nu.dtype == jnp.bfloat16
        np.testing.assert_allclose(np.asarray(u, np.float32), 0.004, rtol=1e-2)
