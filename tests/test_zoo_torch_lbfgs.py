"""optchain.lbfgs(linesearch="strong_wolfe") against torch.optim.LBFGS 2.13, step for step.

The fixtures (``tests/fixtures/torch_lbfgs_trajectories.npz``, written by
``tools/make_fixtures_torch_lbfgs.py``) hold torch's parameters after each of 200
``step(closure)`` calls of ``LBFGS(lr, max_iter=1, max_eval=1 + max_ls, history_size,
tolerance_grad, tolerance_change, line_search_fn="strong_wolfe")``, in float64 (in float32 the
two systems' roundoff, amplified by L-BFGS, parts the trajectories by more than 1e-5 within 15
steps). Each case runs the same 200 steps here through ``optax.value_and_grad_from_state`` in
one jitted ``lax.scan``.
"""

from __future__ import annotations

import inspect
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

FIXTURES = np.load(pathlib.Path(__file__).parent / "fixtures" / "torch_lbfgs_trajectories.npz")
CASES = sorted({key.split("/")[0] for key in FIXTURES.files})


def _curvatures(size, offset):
    return jnp.asarray(10.0 ** np.linspace(-1.0, 1.0, 10)[offset : offset + size])


def _rosenbrock(params):
    x = params["x"]
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _quartic(params):
    total = jnp.zeros([], jnp.float64)
    offset = 0
    for name in ("w", "b"):  # torch's parameter order
        v = params[name]
        h = _curvatures(v.size, offset).reshape(v.shape)
        total = total + jnp.sum(h / 2 * (v - 1.0) ** 2 + v**4 / 4)
        offset += v.size
    return total


def _unflatten(problem, flat):
    if problem == "rosenbrock":
        return {"x": flat}
    return {"w": flat[..., :6].reshape(*flat.shape[:-1], 2, 3), "b": flat[..., 6:]}


def _flatten(problem, tree):
    if problem == "rosenbrock":
        return tree["x"]
    return jnp.concatenate([tree["w"].reshape(*tree["b"].shape[:-1], 6), tree["b"]], axis=-1)


def _trajectory(tx, loss, params, steps):
    """Parameters after each step, the value at each step's start, its search's trials."""
    value_and_grad = optax.value_and_grad_from_state(loss)

    def body(carry, _):
        p, s = carry
        value, grad = value_and_grad(p, state=s)
        u, s = tx.update(grad, s, p, value=value, grad=grad, value_fn=loss)
        p = optax.apply_updates(p, u)
        return (p, s), (p, value, optax.tree.get(s, "num_linesearch_steps"))

    run = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), None, length=steps)[1])
    return run(params)


@pytest.mark.parametrize("case", CASES)
def test_strong_wolfe_lbfgs_is_torch_step_for_step(case):
    config = json.loads(str(FIXTURES[f"{case}/config"]))
    reference = FIXTURES[f"{case}/params"]
    problem = config["problem"]
    with jax.enable_x64(True):
        tx = oc.lbfgs(
            config["lr"],
            memory_size=config["history_size"],
            linesearch="strong_wolfe",
            tolerance_grad=config["tolerance_grad"],
            tolerance_change=config["tolerance_change"],
            max_linesearch_steps=config["max_ls"],
        )
        loss = _rosenbrock if problem == "rosenbrock" else _quartic
        start = _unflatten(problem, jnp.asarray(reference[0]))
        params, values, trials = _trajectory(tx, loss, start, len(reference) - 1)
        ours = np.asarray(_flatten(problem, params))
    ref = reference[1:]
    worst = np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-300))
    print(f"lbfgs strong_wolfe [{case}]: max relative difference {worst:.2e}")
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=0)
    np.testing.assert_allclose(values, FIXTURES[f"{case}/loss"], rtol=1e-5, atol=1e-12)
    torch_trials = np.diff(FIXTURES[f"{case}/evals"], prepend=0) - 1  # less torch's closure()
    np.testing.assert_array_equal(trials, torch_trials)
    assert np.any(ref[-1] != reference[0])


def test_lbfgs_defaults_and_explicit_optax_keywords_are_optax():
    """``scale_by_lbfgs``'s new keywords at their defaults are optax's algorithm (values and
    every state field, the ring buffer wrapping around), and ``lbfgs``'s default line search
    is still optax's own object (tests/test_zoo_second_order.py runs it against optax)."""

    def loss(p):
        return jnp.sum((p["a"] - 1.0) ** 2 * jnp.array([1.0, 30.0])) + jnp.sum(p["c"] ** 4)

    params = {"a": jnp.array([3.0, -2.0]), "c": jnp.array([0.5])}
    ours = optax.chain(
        oc.scale_by_lbfgs(3, min_curvature=None, first_step_norm=2, tolerance_grad=None),
        oc.scale(-0.25),
    )
    theirs = optax.chain(optax.scale_by_lbfgs(3), optax.scale(-0.25))

    def run(tx):
        def body(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(loss)(p), s, p)
            return (optax.apply_updates(p, u), s), None

        return jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), None, length=8)[0])(params)

    p_ours, s_ours = run(ours)
    with jax.numpy_dtype_promotion("standard"):
        p_theirs, s_theirs = run(theirs)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), p_ours, p_theirs)
    for a, b in zip(jax.tree.leaves(s_ours), jax.tree.leaves(s_theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    zoom = inspect.signature(optax.lbfgs).parameters["linesearch"].default
    assert inspect.signature(oc.lbfgs).parameters["linesearch"].default is zoom


def test_the_search_meets_strong_wolfe_and_keeps_value_and_grad():
    loss = lambda w: jnp.sum(jnp.array([1.0, 4.0]) * w**2)  # noqa: E731
    w = jnp.array([1.0, 1.0])
    tx = oc.scale_by_strong_wolfe_linesearch()

    @jax.jit
    def search(w):
        value, grad = jax.value_and_grad(loss)(w)
        return tx.update(-grad, tx.init(w), w, value=value, grad=grad, value_fn=loss)

    u, state = search(w)
    value, grad = jax.value_and_grad(loss)(w + u)
    assert float(value) < float(loss(w))
    np.testing.assert_allclose(state.value, value, rtol=1e-6)
    np.testing.assert_allclose(state.grad, grad, rtol=1e-6)
    slope = float(jnp.vdot(jax.grad(loss)(w), -jax.grad(loss)(w)))
    assert abs(float(jnp.vdot(grad, -jax.grad(loss)(w)))) <= 0.9 * abs(slope)  # strong Wolfe
    assert int(state.num_linesearch_steps) >= 1


def test_no_descent_no_step_and_extra_arguments_reach_value_fn():
    loss = lambda w, scale: scale * jnp.sum(w**2)  # noqa: E731
    w = {"w": jnp.array([1.0, -1.0]), "n": jnp.array([3], jnp.int32)}
    tx = oc.scale_by_strong_wolfe_linesearch()

    def f(p, scale):
        return loss(p["w"], scale)

    value = f(w, 2.0)
    grad = {"w": jax.grad(loss)(w["w"], 2.0), "n": jnp.zeros(1, jnp.int32)}

    @jax.jit
    def search(sign):  # +1: uphill, -1: downhill
        d = {"w": sign * grad["w"], "n": jnp.zeros(1, jnp.int32)}
        return tx.update(d, tx.init(w), w, value=value, grad=grad, value_fn=f, scale=2.0)

    u, state = search(1.0)
    np.testing.assert_array_equal(u["w"], 0.0)
    assert u["n"].dtype == jnp.int32 and int(state.num_linesearch_steps) == 0
    u, state = search(-1.0)
    np.testing.assert_allclose(w["w"] + u["w"], 0.0, atol=1e-6)  # exact on the quadratic
    np.testing.assert_allclose(state.value, 0.0, atol=1e-10)


def test_a_scheduled_initial_step_sees_the_step_count():
    """With no trial past the first, the search takes its first step where it lowers f."""
    loss = lambda w: jnp.sum(w**2)  # noqa: E731
    tx = oc.scale_by_strong_wolfe_linesearch(0, initial_step=lambda t: 0.1 * (t + 1))

    @jax.jit
    def two_steps(w):
        state = tx.init(w)
        steps = []
        for _ in range(2):
            value, grad = jax.value_and_grad(loss)(w)
            u, state = tx.update(-grad, state, w, value=value, grad=grad, value_fn=loss)
            steps.append(state.learning_rate)
        return jnp.stack(steps)

    np.testing.assert_allclose(two_steps(jnp.array([1.0, -2.0])), [0.1, 0.2], rtol=1e-6)


def test_torch_keywords_of_scale_by_lbfgs():
    w = jnp.array([3.0, -4.0])
    tx = oc.scale_by_lbfgs(2, min_curvature=1e-10, first_step_norm=1, tolerance_grad=1e-3)
    state = tx.init(w)
    update = jax.jit(tx.update)
    u, state = update(w, state, w)  # the first step: u / max(1, |u|_1)
    np.testing.assert_allclose(u, w / 7.0, rtol=1e-6)
    w2 = w - u
    u, state2 = update(2 * w, state, w2)  # negative curvature: the pair is not stored
    np.testing.assert_array_equal(state2.weights_memory, 0.0)
    np.testing.assert_allclose(u, 2 * w, rtol=1e-6)  # no pair: P = I
    small = jnp.array([1e-4, -2e-4])
    u, state3 = update(small, state2, w2)  # max|g| <= tolerance_grad: no step, no change
    np.testing.assert_array_equal(u, 0.0)
    for a, b in zip(jax.tree.leaves(state3)[1:], jax.tree.leaves(state2)[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: oc.lbfgs(linesearch="wolfe"), "linesearch must be one of"),
        (lambda: oc.lbfgs(tolerance_grad=1e-7), 'apply to linesearch="strong_wolfe" only'),
        (lambda: oc.lbfgs(max_linesearch_steps=3, linesearch=None), "strong_wolfe"),
        (
            lambda: oc.lbfgs(linesearch="strong_wolfe", tolerance_grad=-1.0),
            "^lbfgs: tolerance_grad",
        ),
        (
            lambda: oc.lbfgs(linesearch="strong_wolfe", tolerance_change=float("nan")),
            "^lbfgs: tolerance_change",
        ),
        (
            lambda: oc.lbfgs(linesearch="strong_wolfe", max_linesearch_steps=2.5),
            "^lbfgs: max_linesearch_steps must be an int",
        ),
        (lambda: oc.scale_by_lbfgs(first_step_norm=3), "first_step_norm must be one of"),
        (lambda: oc.scale_by_lbfgs(first_step_norm=True), "first_step_norm must be one of"),
        (lambda: oc.scale_by_lbfgs(min_curvature=-1.0), "min_curvature must be in"),
        (lambda: oc.scale_by_lbfgs(tolerance_grad=-1.0), "tolerance_grad must be in"),
        (lambda: oc.scale_by_strong_wolfe_linesearch(-1), "max_linesearch_steps must be"),
        (lambda: oc.scale_by_strong_wolfe_linesearch(initial_step=-1.0), "initial_step must"),
        (lambda: oc.scale_by_strong_wolfe_linesearch(c1=0.0), "c1 must be in"),
        (lambda: oc.scale_by_strong_wolfe_linesearch(c1=0.5, c2=0.4), "c2 must be in"),
        (lambda: oc.scale_by_strong_wolfe_linesearch(tolerance_change=-1.0), "tolerance_change"),
    ],
)
def test_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_the_search_needs_its_objective():
    tx = oc.scale_by_strong_wolfe_linesearch()
    w = jnp.ones(2)
    with pytest.raises(ValueError, match="needs value=, grad= and value_fn="):
        tx.update(w, tx.init(w), w, value=jnp.float32(1.0))
