"""The Adam-like zoo (lion, adabelief, yogi, radam, adamaxw, nadamw and their primitives):
optax's values and state fields over 200 jitted steps, real and complex, and one closed form or
invariant per new primitive."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from quartic_bowl import run_steps

import optchain as oc

STEPS = 200

# case -> (factory name, shared by optchain and optax; its arguments)
CASES = {
    "lion": ("lion", dict(learning_rate=0.01)),
    "lion_masked": (
        "lion",
        dict(learning_rate=0.01, weight_decay=0.1, mask={"w": True, "b": False, "k": True}),
    ),
    "adabelief": ("adabelief", dict(learning_rate=0.05)),
    "adabelief_nesterov": ("adabelief", dict(learning_rate=0.05, nesterov=True)),
    "yogi": ("yogi", dict(learning_rate=0.05)),
    "radam": ("radam", dict(learning_rate=0.05)),
    "radam_nesterov": ("radam", dict(learning_rate=0.05, nesterov=True, threshold=4.5)),
    "adamaxw": ("adamaxw", dict(learning_rate=0.05, weight_decay=0.1)),
    "nadamw": ("nadamw", dict(learning_rate=0.05, weight_decay=0.1)),
    "scale_by_lion": ("scale_by_lion", dict()),
    "scale_by_lion_smooth": ("scale_by_lion", dict(b1=0.8, mode="smooth", smooth_beta=2.0)),
    "scale_by_lion_refined": ("scale_by_lion", dict(mode="refined")),
    "scale_by_belief": ("scale_by_belief", dict(eps=1e-8, eps_root=1e-10)),
    "scale_by_yogi": ("scale_by_yogi", dict(eps_root=1e-8, initial_accumulator_value=1e-3)),
    "scale_by_radam": ("scale_by_radam", dict(eps_root=1e-8)),
}
FIELDS = ("count", "mu", "nu")


def _params(complex_params):
    params = {
        "w": jnp.array([1.0, -0.5, 0.25]),
        "b": jnp.array([0.3, -2.0]),
        "k": jnp.array([[0.1, 0.2], [0.3, -0.4]]),
    }
    if not complex_params:
        return params
    return jax.tree.map(lambda x: x.astype(jnp.complex64) * jnp.complex64(1 + 0.5j), params)


def _run(tx, params):
    return run_steps(tx, params, STEPS)


def _build(name, module):
    factory, kwargs = CASES[name]
    tx = getattr(module, factory)(**kwargs)
    if factory.startswith("scale_by"):  # a direction: take small steps along it
        tx = optax.chain(tx, optax.scale(-0.01))
    return tx


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(1.0, float(np.max(np.abs(b)))))


# complex parameters: one case per technique (compiling every case twice costs ~1 s each)
COMPLEX = (
    "adabelief_nesterov",
    "yogi",
    "radam_nesterov",
    "adamaxw",
    "lion",
    "scale_by_lion_refined",
)
PARITY = [(name, False) for name in sorted(CASES)] + [(name, True) for name in COMPLEX]


@pytest.mark.parametrize(
    "name, complex_params", PARITY, ids=[f"{n}-{'complex' if c else 'real'}" for n, c in PARITY]
)
def test_values_and_state_fields_are_optax(name, complex_params):
    params = _params(complex_params)
    p_ours, s_ours = _run(_build(name, oc), params)
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-promotion clean
        p_theirs, s_theirs = _run(_build(name, optax), params)
    jax.tree.map(_close, p_ours, p_theirs)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(p_ours))
    for field in FIELDS:
        theirs = optax.tree.get(s_theirs, field)
        if theirs is None:
            continue
        mine = optax.tree.get(s_ours, field)
        assert mine is not None, f"{name}: no {field!r} in optchain's state"
        jax.tree.map(_close, mine, theirs)
        jax.tree.map(lambda a, b: np.testing.assert_equal(a.dtype, b.dtype), mine, theirs)


def test_lion_closed_form():
    """The sign reads the previous momentum; the momentum is an EMA of decay b2."""
    tx = oc.scale_by_lion(b1=0.5, b2=0.75)
    state = tx.init(jnp.zeros(2))
    m = np.zeros(2)
    for g in ([1.0, -1.0], [-3.0, 0.5], [0.5, 0.5]):
        g = np.asarray(g, np.float32)
        u, state = tx.update(jnp.asarray(g), state)
        np.testing.assert_array_equal(u, np.sign(0.5 * g + 0.5 * m))
        m = 0.75 * m + 0.25 * g
        np.testing.assert_allclose(state.mu, m, rtol=1e-6)
    assert isinstance(state, oc.ScaleByLionState) and int(state.count) == 3


def test_belief_of_a_constant_gradient_is_its_prediction_error():
    """For a constant g the prediction error is g * b1**t, so s has a closed form."""
    b1, b2, g = 0.5, 0.75, 2.0
    tx = oc.scale_by_belief(b1, b2, eps=0.0, eps_root=0.0)
    state = tx.init(jnp.zeros(1))
    s = 0.0
    for t in range(1, 4):
        u, state = tx.update(jnp.array([g]), state)
        s = b2 * s + (1 - b2) * (g * b1**t) ** 2
        np.testing.assert_allclose(state.nu, [s], rtol=1e-6)
        np.testing.assert_allclose(state.mu, [g * (1 - b1**t)], rtol=1e-6)
        np.testing.assert_allclose(u, [g / np.sqrt(s / (1 - b2**t))], rtol=1e-5)


def test_yogi_second_moment_moves_by_at_most_one_minus_beta_g_squared():
    tx = oc.yogi_second_moment(0.9, initial_accumulator_value=1.0)
    state = tx.init(jnp.zeros(3))
    v = np.ones(3)
    for g in ([3.0, 0.1, 1.0], [0.0, 2.0, -1.0], [0.5, 0.5, 0.5]):
        g = np.asarray(g, np.float32)
        out, state = tx.update(jnp.asarray(g), state)
        expected = v - 0.1 * np.sign(v - g**2) * g**2
        np.testing.assert_allclose(out, expected, rtol=1e-6)
        assert np.all(np.abs(expected - v) <= 0.1 * g**2 + 1e-7)
        v = expected


def test_radam_rectification_closed_form():
    """rho_t below the threshold: the output is 1 (momentum SGD); above: (d + eps) / r_t."""
    b2, eps = 0.9, 0.5
    tx = oc.radam_rectification(b2, eps, threshold=5.0)
    state = tx.init(jnp.zeros(1))
    rho_inf = 2 / (1 - b2) - 1
    for t in range(1, 9):
        out, state = tx.update(jnp.array([2.0]), state)
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho < 5.0:
            np.testing.assert_array_equal(out, [1.0])
        else:
            r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            np.testing.assert_allclose(out, [(2.0 + eps) / r], rtol=1e-5)
    assert int(state.count) == 8


def test_one_counter_and_integer_leaves():
    params = {"w": jnp.ones(2), "n": jnp.array([1, 2], jnp.int32)}
    for name in ("lion", "adabelief", "yogi", "radam", "adamaxw", "nadamw"):
        tx = getattr(oc, name)(0.1)
        state = tx.init(params)
        counts = [p for p, _ in jax.tree_util.tree_leaves_with_path(state) if "count" in str(p)]
        assert len(counts) == 1, (name, counts)
        u, _ = tx.update(params, state, params)
        assert u["n"].dtype == jnp.int32 and not np.any(u["n"])


def test_init_does_not_alias_params_and_first_moment_starts_at_its_value():
    params = jnp.ones(3)
    state = oc.first_moment(0.9, initial_value=0.5).init(params)
    np.testing.assert_array_equal(state.mu, 0.5 * np.ones(3))
    for tx in (oc.scale_by_lion(), oc.scale_by_belief(), oc.yogi_second_moment()):
        leaves = [x for x in jax.tree.leaves(tx.init(params)) if x.shape == params.shape]
        assert all(x.unsafe_buffer_pointer() != params.unsafe_buffer_pointer() for x in leaves)


def test_schedules_are_accepted():
    lr = optax.linear_schedule(0.1, 0.01, 10)
    for tx in (
        oc.lion(lr, b1=optax.constant_schedule(0.9)),
        oc.adabelief(lr, b2=optax.constant_schedule(0.99)),
        oc.radam(lr, b2=optax.constant_schedule(0.99)),
        oc.yogi(lr, b1=optax.constant_schedule(0.9)),
    ):
        params = jnp.ones(2)
        state = tx.init(params)
        for _ in range(3):
            u, state = jax.jit(tx.update)(params, state, params)
        assert np.all(np.isfinite(u))


def test_arguments_are_checked_by_name():
    with pytest.raises(ValueError, match=r"^radam: threshold must be"):
        oc.radam(0.1, threshold=float("nan"))
    with pytest.raises(ValueError, match="mode must be one of"):
        oc.scale_by_lion(mode="soft")
    with pytest.raises(ValueError, match=r"^lion: b1 must be in \[0, 1\)"):
        oc.lion(0.1, b1=1.5)
