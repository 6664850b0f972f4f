"""Scheduled hyperparameters behave the same everywhere (issue 18, point 4).

Every schedule is checked against a hand-written NumPy (float64) loop of the documented rule
(the first update sees step 0; Adam's ``eps`` outside the square root, ``eps_root`` inside;
a scheduled decay is debiased by the product of the decays actually used), both given to the
optimizer directly and injected with :func:`optchain.inject_hyperparams`, in float32.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc
from optchain.transforms.moments import BiasCorrectionState

STEPS = 20
# float32 against float64: optchain's Python-number decays use optax's closed form
# 1 - b**t, where b = 0.999 rounded to float32 makes 1 - b2**1 off by 1.3e-5 relative.
RTOL, ATOL = 1e-5, 1e-6
W0 = np.array([1.0, -2.0, 0.5, 3.0, -0.75])
TARGET = np.array([4.0, -6.0, 2.5, 7.0, -3.0])  # same signs: no parameter crosses 0


def _grad_np(w, t):
    return 2.0 * (w - TARGET) + 0.5 * np.sin(0.7 * t + w)


def _grad_jax(w, t):
    return 2.0 * (w - jnp.asarray(TARGET, w.dtype)) + 0.5 * jnp.sin(0.7 * t + w)


def _values(schedule):
    """The schedule's values at steps 0..STEPS-1 as float64 (a constant is repeated)."""
    if not callable(schedule):
        return np.full(STEPS, float(schedule))
    with jax.numpy_dtype_promotion("standard"):  # optax's schedules mix floats and int32
        return np.array([float(schedule(jnp.asarray(t, jnp.int32))) for t in range(STEPS)])


def _run(tx):
    """The float32 parameters after each of STEPS jitted updates."""
    w = jnp.asarray(W0, jnp.float32)
    state = tx.init(w)

    @jax.jit
    def step(w, state, t):
        u, state = tx.update(_grad_jax(w, t.astype(jnp.float32)), state, w)
        return optax.apply_updates(w, u), state

    out = []
    for t in range(STEPS):
        w, state = step(w, state, jnp.asarray(t, jnp.int32))
        out.append(np.asarray(w, np.float64))
    return np.stack(out)


def ref_adam(
    learning_rate=1e-2,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    weight_decay=0.0,
    *,
    decoupled=False,
    nesterov=False,
    closed_form_b1=False,
):
    """Adam in float64: m, v zero-started EMAs debiased by 1 - prod(beta_i, i <= t)."""
    lr, beta1, beta2 = _values(learning_rate), _values(b1), _values(b2)
    e, er, wd = _values(eps), _values(eps_root), _values(weight_decay)
    w, m, v, p1, p2, out = W0.copy(), 0.0, 0.0, 1.0, 1.0, []
    for t in range(STEPS):
        g = _grad_np(w, t)
        if not decoupled:
            g = g + wd[t] * w
        m = beta1[t] * m + (1 - beta1[t]) * g
        v = beta2[t] * v + (1 - beta2[t]) * g * g
        p1, p2 = p1 * beta1[t], p2 * beta2[t]
        if closed_form_b1:  # the rule this file rules out: 1 - b1_t ** t
            p1 = beta1[t] ** (t + 1)
        if nesterov:  # NAdam: the look-ahead repeats the current b1
            m_hat = beta1[t] * m / (1 - beta1[t] * p1) + (1 - beta1[t]) * g / (1 - p1)
        else:
            m_hat = m / (1 - p1)
        u = m_hat / (np.sqrt(v / (1 - p2) + er[t]) + e[t])
        if decoupled:
            u = u + wd[t] * w
        w = w - lr[t] * u
        out.append(w.copy())
    return np.stack(out)


def ref_sgd(learning_rate=1e-2, momentum=None, weight_decay=0.0, *, nesterov=False):
    """Heavy-ball SGD in float64, torch's form: b_0 = g_0, b_t = mu_t b_{t-1} + g_t."""
    lr, wd = _values(learning_rate), _values(weight_decay)
    mu = None if momentum is None else _values(momentum)
    w, b, out = W0.copy(), None, []
    for t in range(STEPS):
        g = _grad_np(w, t) + wd[t] * w
        if mu is None:
            u = g
        else:
            b = g if b is None else mu[t] * b + g
            u = g + mu[t] * b if nesterov else b
        w = w - lr[t] * u
        out.append(w.copy())
    return np.stack(out)


def _rel(a, b):
    """Largest relative difference (parameters stay away from 0: |w| > 0.2 throughout)."""
    return float(np.max(np.abs(a - b) / np.abs(b)))


B1 = optax.linear_schedule(0.5, 0.95, 10)
B2 = optax.linear_schedule(0.9, 0.999, 15)
EPS = optax.exponential_decay(0.3, transition_steps=4, decay_rate=0.5)
MOMENTUM = optax.linear_schedule(0.5, 0.99, 10)
WD = optax.linear_schedule(0.0, 0.5, 12)
LR = optax.cosine_decay_schedule(0.05, STEPS)

# case -> (optchain factory, its keyword arguments, NumPy reference of the same rule)
CASES = {
    "adam_b1": (oc.adam, {"learning_rate": 0.01, "b1": B1}, lambda: ref_adam(0.01, b1=B1)),
    "adam_b2": (oc.adam, {"learning_rate": 0.01, "b2": B2}, lambda: ref_adam(0.01, b2=B2)),
    "adam_b1_b2": (
        oc.adam,
        {"learning_rate": LR, "b1": B1, "b2": B2},
        lambda: ref_adam(LR, b1=B1, b2=B2),
    ),
    "adam_eps": (oc.adam, {"learning_rate": 0.01, "eps": EPS}, lambda: ref_adam(0.01, eps=EPS)),
    "adam_eps_root": (
        oc.adam,
        {"learning_rate": 0.01, "eps_root": EPS},
        lambda: ref_adam(0.01, eps_root=EPS),
    ),
    "nadam_b1": (
        oc.nadam,
        {"learning_rate": 0.01, "b1": B1},
        lambda: ref_adam(0.01, b1=B1, nesterov=True),
    ),
    "adam_coupled_weight_decay": (
        oc.adam,
        {"learning_rate": 0.01, "weight_decay": WD},
        lambda: ref_adam(0.01, weight_decay=WD),
    ),
    "adamw_decoupled_weight_decay": (
        oc.adamw,
        {"learning_rate": 0.01, "weight_decay": WD},
        lambda: ref_adam(0.01, weight_decay=WD, decoupled=True),
    ),
    "sgd_momentum_warming": (
        oc.sgd,
        {"learning_rate": 0.01, "momentum": MOMENTUM},
        lambda: ref_sgd(0.01, MOMENTUM),
    ),
    "sgd_nesterov_momentum_warming": (
        oc.sgd,
        {"learning_rate": 0.01, "momentum": MOMENTUM, "nesterov": True},
        lambda: ref_sgd(0.01, MOMENTUM, nesterov=True),
    ),
    "sgd_momentum_coupled_weight_decay": (
        oc.sgd,
        {"learning_rate": 0.01, "momentum": 0.9, "weight_decay": WD},
        lambda: ref_sgd(0.01, 0.9, WD),
    ),
    "sgd_learning_rate": (oc.sgd, {"learning_rate": LR}, lambda: ref_sgd(LR)),
}


@pytest.mark.parametrize("how", ["direct", "injected"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_follows_the_numpy_reference(case, how):
    factory, kwargs, reference = CASES[case]
    tx = factory(**kwargs) if how == "direct" else oc.inject_hyperparams(factory)(**kwargs)
    ours, want = _run(tx), reference()
    assert np.min(np.abs(want)) > 0.2
    np.testing.assert_allclose(ours, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_direct_and_injected_schedules_give_one_trajectory(case):
    factory, kwargs, _ = CASES[case]
    direct, injected = _run(factory(**kwargs)), _run(oc.inject_hyperparams(factory)(**kwargs))
    np.testing.assert_allclose(injected, direct, rtol=RTOL, atol=ATOL)


def test_the_reference_tells_the_product_from_the_last_decays_power():
    """The test above has teeth: debiasing a scheduled b1 by 1 - b1_t ** t (what an injected
    schedule used to give) is far from the product rule."""
    product, closed = ref_adam(0.01, b1=B1), ref_adam(0.01, b1=B1, closed_form_b1=True)
    assert _rel(closed, product) > 100 * RTOL
    injected = _run(oc.inject_hyperparams(oc.adam)(learning_rate=0.01, b1=B1))
    assert _rel(injected, closed) > 100 * RTOL


def test_schedules_see_step_zero_first_with_and_without_injection():
    seen = {"direct": [], "injected": []}

    def make(key):
        def schedule(step):
            jax.debug.callback(lambda s: seen[key].append(int(s)), step)
            return jnp.float32(0.9)

        return schedule

    _run(oc.adam(0.01, b1=make("direct")))
    _run(oc.inject_hyperparams(oc.adam)(learning_rate=0.01, b1=make("injected")))
    # optax's init evaluates the schedule once (step 0) to fill the state
    assert seen["injected"] == [0, *range(STEPS)]
    # the direct schedule is read by each b1 link (moment and correction), each at the step
    assert sorted(set(seen["direct"])) == list(range(STEPS))
    assert seen["direct"][:2] == [0, 0]


# --- bias_correction: one rule, one state ------------------------------------------------


def _state_structure(tx):
    return jax.tree.structure(tx.init(jnp.zeros(3)))


def test_bias_correction_state_is_the_same_for_every_kind_of_decay():
    kinds = [0.9, jnp.float32(0.9), lambda t: jnp.float32(0.9)]
    structures = {str(_state_structure(oc.bias_correction(d))) for d in kinds}
    assert len(structures) == 1
    for d in kinds:
        state = oc.bias_correction(d).init(None)
        assert state.decay_product.shape == () and state.decay_product.dtype == jnp.float32


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_a_python_decay_uses_the_closed_form_and_anything_else_the_product(offset):
    beta = 0.9
    number, array = (
        oc.bias_correction(beta, step_offset=offset),
        oc.bias_correction(jnp.float32(beta), step_offset=offset),
    )
    schedule = oc.bias_correction(lambda t: jnp.float32(beta), step_offset=offset)
    states = [tx.init(None) for tx in (number, array, schedule)]
    for t in range(1, 30):
        outs = []
        for k, tx in enumerate((number, array, schedule)):
            u, states[k] = tx.update(jnp.ones(1), states[k])
            outs.append(float(u[0]))
        # the closed form is float32's power of the double 0.9: optax's value exactly
        assert outs[0] == float(1 / (1 - jnp.power(beta, jnp.float32(t + offset))))
        np.testing.assert_allclose(outs[1:], 1 / (1 - beta ** (t + offset)), rtol=2e-6)
        assert outs[1] == outs[2]


def test_a_scheduled_decay_is_debiased_by_the_product_of_the_decays_used():
    betas = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    tx = oc.bias_correction(lambda t: jnp.asarray(betas, jnp.float32)[t])
    state = tx.init(None)
    for t in range(len(betas)):
        u, state = tx.update(jnp.ones(1), state)
        np.testing.assert_allclose(u, 1 / (1 - np.prod(betas[: t + 1])), rtol=1e-6)


@pytest.mark.parametrize("offset", [0, 1])
@pytest.mark.parametrize("decay", [0.9, "array"])
def test_a_saturated_counter_gives_a_correction_of_one(decay, offset):
    """The exponent is float32: count + 1 + offset does not wrap around int32."""
    decay = jnp.float32(0.9) if decay == "array" else decay
    tx = oc.bias_correction(decay, step_offset=offset)
    state = BiasCorrectionState(jnp.asarray(2**31 - 3, jnp.int32), jnp.zeros([], jnp.float32))
    for _ in range(4):
        u, state = jax.jit(tx.update)(jnp.full(2, 3.0), state)
        np.testing.assert_array_equal(u, [3.0, 3.0])
    assert int(state.count) == 2**31 - 1


def test_an_injected_constant_beta_matches_the_plain_optimizer():
    """A constant b1 injected is an array: it is debiased by the product, which agrees with
    the closed form the plain optimizer uses to float32 rounding."""
    plain = _run(oc.adam(0.01, b1=0.9, b2=0.99))
    injected = _run(oc.inject_hyperparams(oc.adam)(learning_rate=0.01, b1=0.9, b2=0.99))
    np.testing.assert_allclose(injected, plain, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(plain, ref_adam(0.01, b1=0.9, b2=0.99), rtol=RTOL, atol=ATOL)
