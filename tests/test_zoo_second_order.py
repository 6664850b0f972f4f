"""optchain.lbfgs and optchain.scale_by_lbfgs against optax: values, state fields, secant rule."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc
from optchain.transforms import quasi_newton

FIELDS = (
    "count",
    "params",
    "updates",
    "diff_params_memory",
    "diff_updates_memory",
    "weights_memory",
)
LINESEARCH_FIELDS = ("learning_rate", "value", "grad")


def _params():
    return {
        "a": jnp.array([-1.2, 1.0]),
        "b": jnp.array([[0.5, -0.3], [0.8, 1.1]]),
        "c": jnp.array([0.2]),
    }


def _rosenbrock(params):
    x = jnp.concatenate([params["a"], params["b"].ravel(), params["c"]])
    return jnp.sum(100.0 * jnp.square(x[1:] - jnp.square(x[:-1])) + jnp.square(1.0 - x[:-1]))


def _run(tx, params, steps, from_state=True):
    if from_state:  # the line search's value and gradient, reused
        value_and_grad = optax.value_and_grad_from_state(_rosenbrock)
    else:
        value_and_grad = lambda p, state: jax.value_and_grad(_rosenbrock)(p)  # noqa: E731

    def body(carry, _):
        p, s = carry
        value, grad = value_and_grad(p, state=s)
        u, s = tx.update(grad, s, p, value=value, grad=grad, value_fn=_rosenbrock)
        return (optax.apply_updates(p, u), s), value

    @jax.jit
    def run(p):
        (p, s), values = jax.lax.scan(body, (p, tx.init(p)), None, length=steps)
        return p, s, values

    return run(params)


def _assert_close(a, b, rtol=1e-5, atol=1e-7):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), a, b)


def _max_rel(a, b):
    return max(
        float(jnp.max(jnp.abs(x - y) / jnp.maximum(jnp.abs(y), 1e-12)))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
    )


CASES = {
    "default": {},
    "lr_no_search": dict(learning_rate=0.5, memory_size=3, linesearch=None),
}
STEPS = 30


@pytest.mark.parametrize("case", sorted(CASES))
def test_lbfgs_with_value_and_grad_from_state_is_optax(case):
    kwargs = CASES[case]
    search = kwargs.get("linesearch", 1) is not None
    p_ours, s_ours, v_ours = _run(oc.lbfgs(**kwargs), _params(), STEPS, search)
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-promotion clean
        p_theirs, s_theirs, v_theirs = _run(optax.lbfgs(**kwargs), _params(), STEPS, search)
    print(f"lbfgs[{case}]: max relative difference {_max_rel(p_ours, p_theirs):.2e}")
    _assert_close(p_ours, p_theirs)
    _assert_close(v_ours, v_theirs)
    assert float(v_ours[-1]) < float(v_ours[0])
    fields = FIELDS + (LINESEARCH_FIELDS if search else ())
    for field in fields:
        _assert_close(optax.tree.get(s_ours, field), optax.tree.get(s_theirs, field), atol=1e-6)


def test_lbfgs_default_line_search_is_optaxs_object():
    theirs = inspect.signature(optax.lbfgs).parameters["linesearch"].default
    assert inspect.signature(oc.lbfgs).parameters["linesearch"].default is theirs


@pytest.mark.parametrize("scaled", [True, False])
def test_scale_by_lbfgs_on_complex_params_is_optax(scaled):
    params = {"z": jnp.array([1.0 + 2.0j, -0.5 + 0.1j]), "r": jnp.array([0.3 - 0.2j])}

    def run(tx):
        p, state = params, tx.init(params)
        step = jax.jit(tx.update)
        for _ in range(6):
            grads = jax.tree.map(lambda x: x * (1.5 - 0.5j) - 0.1, p)
            u, state = step(grads, state, p)
            p = optax.apply_updates(p, jax.tree.map(lambda x: -0.5 * x, u))
        return p, state

    p_ours, s_ours = run(oc.scale_by_lbfgs(3, scaled))
    with jax.numpy_dtype_promotion("standard"):
        p_theirs, s_theirs = run(optax.scale_by_lbfgs(3, scaled))
    _assert_close(p_ours, p_theirs, rtol=2e-6)
    for field in FIELDS:
        _assert_close(getattr(s_ours, field), getattr(s_theirs, field), atol=1e-6)


def test_the_two_loop_recursion_satisfies_the_newest_secant_equation():
    """BFGS makes P du = dw for the newest pair, whatever the older pairs and gamma."""
    rng = np.random.default_rng(0)
    size, n = 4, 6
    hessian = rng.normal(size=(n, n))
    hessian = hessian @ hessian.T + n * np.eye(n)  # positive definite: positive curvature
    dw = rng.normal(size=(size, n))
    du = dw @ hessian
    rho = 1.0 / np.sum(dw * du, axis=1)
    newest = 2  # slot of the newest pair; the oldest is the next one
    direction = quasi_newton._two_loop(
        [jnp.asarray(du[newest], jnp.float32)],
        [jnp.asarray(dw, jnp.float32)],
        [jnp.asarray(du, jnp.float32)],
        jnp.asarray(rho, jnp.float32),
        jnp.float32(0.37),
        (newest + 1) % size,
    )
    np.testing.assert_allclose(direction[0], dw[newest], rtol=1e-4, atol=1e-5)


def test_integer_leaves_get_zero_updates_and_stay_out_of_the_products():
    params = {"w": jnp.array([3.0, 4.0]), "n": jnp.array([5, 7], jnp.int32)}
    tx = oc.scale_by_lbfgs(2)
    updates, state = tx.update(params, tx.init(params), params)
    assert updates["n"].dtype == jnp.int32
    np.testing.assert_array_equal(updates["n"], 0)
    np.testing.assert_allclose(updates["w"], [0.6, 0.8], rtol=1e-6)  # |u| = 5 over w only
    assert optax.tree.get(state, "diff_params_memory")["n"].shape == (2, 2)


def test_construction_checks_name_the_argument():
    with pytest.raises(ValueError, match="memory_size"):
        oc.scale_by_lbfgs(0)
    with pytest.raises(ValueError, match="^lbfgs: memory_size"):
        oc.lbfgs(memory_size=2.5)
    with pytest.raises(ValueError, match="scale_init_precond"):
        oc.lbfgs(scale_init_precond=1)
