"""Zoo part 2: Adan, NovoGrad, Fromage, Polyak SGD and the optimistic methods against optax.

200 float32 steps on a small quadratic with a dict of three leaves, under one ``jit`` per case
(a ``lax.scan``); parameters and optax's named state fields must agree to ``rtol=1e-5``. One
closed-form check per new primitive.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

STEPS = 200
CENTER = {
    "a": jnp.array([1.0, -2.0, 0.5]),
    "b": jnp.array([[0.3, -0.1], [2.0, 1.0]]),
    "c": jnp.array(0.7),
}
CURVATURE = {
    "a": jnp.array([1.0, 3.0, 0.5]),
    "b": jnp.array([[2.0, 1.0], [0.25, 4.0]]),
    "c": jnp.array(1.5),
}
START = jax.tree.map(jnp.zeros_like, CENTER)


def _loss(params):
    terms = jax.tree.map(lambda w, c, k: jnp.sum(0.5 * k * (w - c) ** 2), params, CENTER, CURVATURE)
    return sum(jax.tree.leaves(terms)) + 0.1


def _run(tx, steps=STEPS, params=START, loss=_loss, value=False):
    """Parameters and state after ``steps`` updates, one jit for the whole run."""

    @jax.jit
    def run(params):
        def step(carry, _):
            p, s = carry
            f, g = jax.value_and_grad(loss)(p)
            extra = {"value": f} if value else {}
            u, s = tx.update(g, s, p, **extra)
            return (optax.apply_updates(p, u), s), None

        with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-clean
            state = tx.init(params)
            return jax.lax.scan(step, (params, state), None, length=steps)[0]

    return run(params)


def _max_rel(a, b):
    a, b = np.asarray(a, np.complex128), np.asarray(b, np.complex128)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6)))


def _compare(ours, theirs, fields, rtol=1e-5, atol=1e-6):
    (p_ours, s_ours), (p_theirs, s_theirs) = ours, theirs
    jax.tree.map(
        lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), p_ours, p_theirs
    )
    for field in fields:
        mine, theirs_value = optax.tree.get(s_ours, field), optax.tree.get(s_theirs, field)
        assert theirs_value is not None, field
        assert mine is not None, f"no {field!r} in optchain's state"
        jax.tree.map(
            lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), mine, theirs_value
        )
        jax.tree.map(lambda x, y: np.testing.assert_equal(x.dtype, y.dtype), mine, theirs_value)
    return max(_max_rel(x, y) for x, y in zip(jax.tree.leaves(p_ours), jax.tree.leaves(p_theirs)))


def _linear(step):
    return 0.05 + 0.0001 * step


# name -> (factory name, kwargs, named state fields, needs the loss value)
CASES = {
    "adan": ("adan", dict(learning_rate=0.05, weight_decay=0.01), ("m", "v", "n", "g", "t"), 0),
    "adan_schedule": ("adan", dict(learning_rate=_linear), ("m", "n", "count"), 0),
    "novograd": (
        "novograd",
        dict(learning_rate=0.0002, weight_decay=0.01),
        ("count", "mu", "nu"),
        0,
    ),
    "fromage": ("fromage", dict(learning_rate=0.01), (), 0),
    "fromage_schedule": ("fromage", dict(learning_rate=_linear), (), 0),
    "polyak_sgd": ("polyak_sgd", dict(max_learning_rate=0.5), (), 1),
    "polyak_sgd_plus": ("polyak_sgd", dict(scaling=0.5, f_min=0.2, variant="sps+"), (), 1),
    "optimistic_gradient_descent": (
        "optimistic_gradient_descent",
        dict(learning_rate=0.05, beta=0.5),
        ("previous_gradient", "is_initial_step"),
        0,
    ),
    "optimistic_adam_v2": (
        "optimistic_adam_v2",
        dict(learning_rate=0.02, beta=0.3),
        ("mu", "nu", "previous_gradient"),
        0,
    ),
    "optimistic_adam_v2_plain": (
        "optimistic_adam_v2",
        dict(learning_rate=0.02, nesterov=False),
        ("mu", "nu"),
        0,
    ),
    "optimistic_adam": (
        "optimistic_adam",
        dict(learning_rate=0.02, optimism=0.01),
        ("mu", "nu", "previous_gradient"),
        0,
    ),
}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("case", sorted(CASES))
def test_optimizer_matches_optax(case):
    name, kwargs, fields, value = CASES[case]
    ours = _run(getattr(oc, name)(**kwargs), value=bool(value))
    theirs = _run(getattr(optax, name)(**kwargs), value=bool(value))
    _compare(ours, theirs, fields)
    assert float(_loss(ours[0])) < float(_loss(START))  # it optimizes


COMPLEX = {"w": jnp.array([1.0 + 2.0j, -0.5 + 0.1j, 0.25j]), "b": jnp.array([0.3 - 0.2j])}


def _complex_loss(params):
    return sum(jnp.sum(jnp.abs(w - 0.5j) ** 2) for w in jax.tree.leaves(params)) + 0.1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "name, kwargs, fields",
    [
        ("adan", dict(learning_rate=0.05), ("m", "v", "n", "g")),
        ("novograd", dict(learning_rate=0.02), ("mu", "nu")),
        ("optimistic_adam_v2", dict(learning_rate=0.02), ("mu", "nu", "previous_gradient")),
    ],
)
def test_complex_parameters_match_optax(name, kwargs, fields):
    def grad_of(loss):
        return lambda p: jax.tree.map(jnp.conj, jax.grad(loss)(p))

    def run(tx):
        state = tx.init(COMPLEX)
        params = COMPLEX
        step = jax.jit(lambda p, s: tx.update(grad_of(_complex_loss)(p), s, p))
        for _ in range(20):
            with jax.numpy_dtype_promotion("standard"):
                u, state = step(params, state)
            params = optax.apply_updates(params, u)
        return params, state

    _compare(run(getattr(oc, name)(**kwargs)), run(getattr(optax, name)(**kwargs)), fields)


PRIMITIVES = {
    "scale_by_adan": (dict(b1=0.9, eps_root=1e-8), ("m", "v", "n", "g", "t")),
    "scale_by_novograd": (dict(weight_decay=0.1, mu_dtype=jnp.float32), ("count", "mu", "nu")),
    "scale_by_optimistic_gradient": (dict(alpha=0.7, beta=0.2), ("previous_gradient",)),
    "scale_by_polyak": (dict(f_min=0.05, max_learning_rate=2.0), ()),
}


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_matches_optax(name):
    kwargs, fields = PRIMITIVES[name]
    value = name == "scale_by_polyak"

    def chained(factory):  # a small step so that the raw direction is stable
        return optax.chain(factory(**kwargs), optax.scale(-0.01))

    ours = _run(chained(getattr(oc, name)), steps=50, value=value)
    theirs = _run(chained(getattr(optax, name)), steps=50, value=value)
    _compare(ours, theirs, fields)


def test_optimistic_gradient_closed_form_and_schedules():
    tx = oc.scale_by_optimistic_gradient(alpha=lambda t: 1.0 + t, beta=0.5)
    state = tx.init({"w": jnp.zeros(2), "n": jnp.zeros(2, jnp.int32)})
    g0, g1 = jnp.array([1.0, -2.0]), jnp.array([3.0, 0.5])
    u, state = tx.update({"w": g0, "n": jnp.array([1, 1], jnp.int32)}, state)
    np.testing.assert_allclose(u["w"], 1.0 * g0)  # first step: alpha_0 * g_0
    assert u["n"].dtype == jnp.int32 and not np.any(np.asarray(u["n"]))
    u, state = tx.update({"w": g1, "n": jnp.array([1, 1], jnp.int32)}, state)
    np.testing.assert_allclose(u["w"], (2.0 + 0.5) * g1 - 0.5 * g0)  # alpha_1 = 2
    assert int(state.count) == 2 and not bool(state.is_initial_step)


def test_adan_first_step_is_sign_and_state_is_fresh():
    params = {"w": jnp.array([2.0, -0.5, 0.0])}
    tx = oc.scale_by_adan(eps=0.0, eps_root=0.0)
    state = tx.init(params)
    assert state.g["w"] is not params["w"]
    u, state = tx.update(params, state)
    np.testing.assert_allclose(u["w"][:2], [1.0, -1.0], rtol=1e-6)  # m_hat / sqrt(n_hat)
    np.testing.assert_array_equal(state.g["w"], params["w"])
    with pytest.raises(ValueError, match="b3"):
        oc.scale_by_adan(b3=1.0)


def test_novograd_normalises_each_leaf_and_accumulates_without_damping():
    tx = oc.scale_by_novograd(b1=0.5, b2=0.0, eps=0.0)
    g = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([0.0, 2.0])}
    u, state = tx.update(g, tx.init(g))
    np.testing.assert_allclose(u["a"], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(u["b"], [0.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(state.nu["a"], 25.0)
    u, _ = tx.update(g, state)  # mu = 0.5 * mu + g / ||g||
    np.testing.assert_allclose(u["a"], [0.9, 1.2], rtol=1e-6)


def test_polyak_step_is_the_capped_gap_over_the_squared_norm():
    tx = oc.scale_by_polyak(f_min=1.0, max_learning_rate=0.75)
    g = {"a": jnp.array([1.0, 1.0]), "b": jnp.array([2.0])}  # ||g||^2 = 6
    u, _ = tx.update(g, tx.init(g), value=jnp.array(4.0))  # (4 - 1) / 6 = 0.5
    np.testing.assert_allclose(u["b"], [1.0])
    u, _ = tx.update(g, tx.init(g), value=jnp.array(10.0))  # capped at 0.75
    np.testing.assert_allclose(u["b"], [1.5])
    zero = {"a": jnp.zeros(2), "b": jnp.zeros(1)}
    u, _ = tx.update(zero, tx.init(zero), value=jnp.array(10.0))  # no division by zero
    assert np.all(np.isfinite(np.asarray(u["a"])))
    with pytest.raises(ValueError, match="value=loss"):
        tx.update(g, tx.init(g))
    with pytest.raises(ValueError, match="variant"):
        oc.scale_by_polyak(variant="sps-")


def test_arguments_are_checked_by_their_public_names():
    with pytest.raises(ValueError, match=r"optimistic_gradient_descent: beta"):
        oc.optimistic_gradient_descent(0.1, beta=-1.0)
    oc.optimistic_gradient_descent(0.1, beta=2.0)  # beta is a weight, not a decay
    with pytest.raises(ValueError, match=r"adan: b3"):
        oc.adan(0.1, b3=1.5)
    with pytest.raises(ValueError, match=r"fromage: min_norm"):
        oc.fromage(0.1, min_norm=-1.0)
    with pytest.raises(ValueError, match=r"polyak_sgd: max_learning_rate"):
        oc.polyak_sgd(max_learning_rate=-1.0)
