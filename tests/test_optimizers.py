"""Named optimizers: parity with optax, torch.optim and MXNet; convergence; jit, dtypes, state."""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import reference_cases
from named_optimizers import NAMED

import optchain as oc

FIXTURES = pathlib.Path(__file__).parent / "fixtures"

# Every named optimizer with moderate hyperparameters, for the generic property tests.
OPTIMIZERS = {
    **NAMED,
    "sgd_plain": lambda: oc.sgd(0.05),
    "sgd_dampening_wd": lambda: oc.sgd(0.05, 0.9, dampening=0.1, weight_decay=1e-3),
    "rmsprop_plain": lambda: oc.rmsprop(0.01),
    "amsgrad_raw": lambda: oc.amsgrad(0.01, max_of="raw"),
}


def _params():
    return {"w": jnp.array([[0.3, -0.5, 2.0], [1.1, -0.2, 0.4]]), "b": jnp.array([0.7, -1.2])}


def _loss(params, step):
    """Ill-conditioned, coupled, with a bounded step-dependent term in the gradient."""
    w, b = params["w"], params["b"]
    h = jnp.array([[1.0, 3.0, 10.0], [0.5, 2.0, 5.0]], w.dtype)
    wobble = jnp.sin(1.7 * step + jnp.arange(6, dtype=w.dtype).reshape(2, 3)).astype(w.dtype)
    return (
        jnp.sum(h * (w - 1) ** 2) / 2
        + jnp.sum((b**2 - 0.5) ** 2)
        + jnp.sum(w[:, :2] * b[None, :] * 0.1)
        + 0.3 * jnp.sum(wobble * w)
    )


def _trajectory(tx, steps, jit=True, params=None):
    params = _params() if params is None else params

    def step(p, s, t):
        g = jax.grad(_loss)(p, t.astype(p["w"].dtype))
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    step = jax.jit(step) if jit else step
    state = tx.init(params)
    out = []
    for t in range(steps):
        params, state = step(params, state, jnp.asarray(t, jnp.int32))
        out.append(
            np.concatenate([np.asarray(x, np.float64).ravel() for x in jax.tree.leaves(params)])
        )
    return np.stack(out)


OPTAX_PAIRS = {
    "sgd": (lambda: oc.sgd(0.05), lambda: optax.sgd(0.05)),
    "sgd_momentum": (lambda: oc.sgd(0.05, 0.9), lambda: optax.sgd(0.05, 0.9)),
    "sgd_nesterov": (lambda: oc.sgd(0.05, 0.9, True), lambda: optax.sgd(0.05, 0.9, True)),
    "adagrad": (lambda: oc.adagrad(0.1), lambda: optax.adagrad(0.1)),
    "rmsprop": (lambda: oc.rmsprop(0.01), lambda: optax.rmsprop(0.01)),
    "rmsprop_centered_momentum": (
        lambda: oc.rmsprop(0.01, centered=True, momentum=0.9),
        lambda: optax.rmsprop(0.01, centered=True, momentum=0.9),
    ),
    "rmsprop_eps_outside_nesterov": (
        lambda: oc.rmsprop(0.01, 0.95, 1e-6, 0.1, False, momentum=0.5, nesterov=True),
        lambda: optax.rmsprop(0.01, 0.95, 1e-6, 0.1, False, momentum=0.5, nesterov=True),
    ),
    "adadelta": (lambda: oc.adadelta(1.0), lambda: optax.adadelta(1.0)),
    "adadelta_wd": (
        lambda: oc.adadelta(0.5, 0.95, 1e-5, weight_decay=0.01),
        lambda: optax.adadelta(0.5, 0.95, 1e-5, weight_decay=0.01),
    ),
    "adam": (lambda: oc.adam(0.01), lambda: optax.adam(0.01)),
    "adam_eps_root": (
        lambda: oc.adam(0.02, 0.8, 0.99, 1e-6, 1e-8),
        lambda: optax.adam(0.02, 0.8, 0.99, 1e-6, 1e-8),
    ),
    "adamw": (lambda: oc.adamw(0.01), lambda: optax.adamw(0.01)),
    "adamw_schedule": (
        lambda: oc.adamw(optax.cosine_decay_schedule(0.02, 200), weight_decay=0.1),
        lambda: optax.adamw(optax.cosine_decay_schedule(0.02, 200), weight_decay=0.1),
    ),
    "amsgrad": (lambda: oc.amsgrad(0.01), lambda: optax.amsgrad(0.01)),
    "nadam": (lambda: oc.nadam(0.01), lambda: optax.nadam(0.01)),
    "adamax": (lambda: oc.adamax(0.01), lambda: optax.adamax(0.01)),
    "sign_sgd": (lambda: oc.sign_sgd(0.01), lambda: optax.sign_sgd(0.01)),
    "signum": (lambda: oc.signum(0.01), lambda: optax.signum(0.01)),
    "noisy_sgd": (lambda: oc.noisy_sgd(0.01, key=3), lambda: optax.noisy_sgd(0.01, key=3)),
    "lars": (lambda: oc.lars(0.5), lambda: optax.lars(0.5)),
    "lars_wd_nesterov_masked": (
        lambda: oc.lars(
            0.1, 1e-3, trust_coefficient=0.01, nesterov=True, trust_ratio_mask=oc.layerwise_mask
        ),
        lambda: optax.lars(
            0.1,
            1e-3,
            trust_coefficient=0.01,
            nesterov=True,
            trust_ratio_mask=lambda p: jax.tree.map(lambda x: x.ndim >= 2, p),
        ),
    ),
    "lamb": (lambda: oc.lamb(0.01), lambda: optax.lamb(0.01)),
    "lamb_wd": (
        lambda: oc.lamb(0.02, weight_decay=0.01),
        lambda: optax.lamb(0.02, weight_decay=0.01),
    ),
}


# Centered RMSprop divides by sqrt(nu - mu^2): the cancellation amplifies rounding, and
# optax's own jitted and eager runs of this case differ by 8.9e-5 (relative) on this
# problem. Every other pair agrees to 1e-6.
RTOL = {"rmsprop_centered_momentum": 1e-4}


@pytest.mark.parametrize("name", sorted(OPTAX_PAIRS))
def test_matches_optax_for_200_steps(name):
    ours, theirs = OPTAX_PAIRS[name]
    mine = _trajectory(ours(), 200)
    with jax.numpy_dtype_promotion("standard"):
        ref = _trajectory(theirs(), 200)
    assert np.all(np.isfinite(ref)) and np.all(np.isfinite(mine))
    np.testing.assert_allclose(mine, ref, rtol=RTOL.get(name, 1e-6), atol=1e-7)
    assert np.abs(ref[-1] - ref[0]).max() > 1e-2  # the run actually moved


def test_rprop_is_optax_rprop_and_torch_compatible_drops_its_one_step_lag():
    """optax 0.2.8's scale_by_rprop emits the previous step's update (optax PR #1725): the
    default is optax's values, ``torch_compatible=True`` torch's (one step earlier)."""
    rng = np.random.default_rng(0)
    signs = np.array([1.0, -1.0, 1.0, 1.0, -1.0])  # fixed signs: step sizes grow, no resets
    grads = [jnp.asarray(signs * rng.uniform(0.5, 2.0, 5), jnp.float32) for _ in range(12)]
    params = jnp.zeros(5)

    def updates(tx):
        state, out = tx.init(params), []
        for g in grads:
            u, state = tx.update(g, state, params)
            out.append(np.asarray(u))
        return np.stack(out)

    mine = updates(oc.rprop(0.1, torch_compatible=True))
    with jax.numpy_dtype_promotion("standard"):
        theirs = updates(optax.rprop(0.1))
    np.testing.assert_allclose(updates(oc.rprop(0.1)), theirs, rtol=1e-6)
    np.testing.assert_array_equal(theirs[0], 0.0)
    np.testing.assert_allclose(theirs[1:], mine[:-1], rtol=1e-6)
    np.testing.assert_allclose(mine[:3, 0], [-0.1, -0.12, -0.144], rtol=1e-6)


def _reference_cases():
    for system, cases in (("torch", reference_cases.TORCH), ("mxnet", reference_cases.MXNET)):
        for case in cases:
            yield pytest.param(system, case, id=f"{system}-{case}")


@pytest.mark.parametrize("system,case", list(_reference_cases()))
def test_reproduces_reference_system_step_for_step(system, case):
    table = reference_cases.TORCH if system == "torch" else reference_cases.MXNET
    data = np.load(FIXTURES / f"{system}_trajectories.npz")
    params_seq, grads_seq = data[f"{case}/params"], data[f"{case}/grads"]
    tx = table[case]()
    state = tx.init(jax.tree.map(jnp.asarray, reference_cases.unflatten(params_seq[0])))
    update = jax.jit(tx.update)
    for t in range(len(grads_seq)):
        w = jax.tree.map(jnp.asarray, reference_cases.unflatten(params_seq[t]))
        g = jax.tree.map(jnp.asarray, reference_cases.unflatten(grads_seq[t]))
        u, state = update(g, state, w)
        new = optax.apply_updates(w, u)
        mine = np.concatenate([np.asarray(new[k]).ravel() for k in reference_cases.SHAPES])
        np.testing.assert_allclose(
            mine, params_seq[t + 1], rtol=1e-5, atol=1e-6, err_msg=f"{case} step {t}"
        )


def _decay(lr, every=1000):
    return optax.exponential_decay(lr, every, 0.5)


CONVERGENCE = {
    # name: (optimizer for the parabola, optimizer for Rosenbrock)
    "sgd": (lambda: oc.sgd(0.05), lambda: oc.sgd(2e-3)),
    "sgd_momentum": (lambda: oc.sgd(0.05, 0.9), lambda: oc.sgd(1e-3, 0.9)),
    "sgd_nesterov": (lambda: oc.sgd(0.05, 0.9, True), lambda: oc.sgd(1e-3, 0.9, True)),
    "adagrad": (lambda: oc.adagrad(0.5), lambda: oc.adagrad(1.0)),
    "rmsprop": (lambda: oc.rmsprop(_decay(0.05)), lambda: oc.rmsprop(_decay(0.01))),
    "adadelta": (
        lambda: oc.adadelta(_decay(1.0), rho=0.95),
        lambda: oc.adadelta(_decay(1.0), rho=0.95),
    ),
    "adam": (lambda: oc.adam(0.05), lambda: oc.adam(0.02)),
    "adamw": (lambda: oc.adamw(0.05, weight_decay=1e-5), lambda: oc.adamw(0.02, weight_decay=1e-5)),
    "amsgrad": (lambda: oc.amsgrad(0.05), lambda: oc.amsgrad(0.05)),
    "nadam": (lambda: oc.nadam(0.05), lambda: oc.nadam(0.02)),
    "adamax": (lambda: oc.adamax(0.1), lambda: oc.adamax(0.02)),
    "ftml": (lambda: oc.ftml(0.05), lambda: oc.ftml(_decay(0.1))),
    "sign_sgd": (lambda: oc.sign_sgd(_decay(0.02, 500)), lambda: oc.sign_sgd(_decay(0.01))),
    "signum": (lambda: oc.signum(_decay(0.02, 500)), lambda: oc.signum(_decay(0.01))),
    "noisy_sgd": (lambda: oc.noisy_sgd(0.05), lambda: oc.noisy_sgd(2e-3, eta=1e-3)),
    "delta_bar_delta": (
        lambda: oc.delta_bar_delta(0.01),
        lambda: oc.delta_bar_delta(1e-4, kappa=1e-5, phi=0.5),
    ),
    "rprop": (lambda: oc.rprop(0.01), lambda: oc.rprop(0.01)),
    "lars": (
        lambda: oc.lars(_decay(1.0, 500), trust_coefficient=0.01),
        lambda: oc.lars(_decay(1.0), trust_coefficient=0.01),
    ),
    "lamb": (lambda: oc.lamb(0.05), lambda: oc.lamb(_decay(0.1))),
}

PROBLEMS = {
    # name: (loss, start, minimiser, steps, tolerance on the final loss)
    "parabola": (lambda p: 0.5 * (p[0] ** 2 + 10 * p[1] ** 2), [1.5, -1.0], [0.0, 0.0], 1000, 1e-3),
    "rosenbrock": (
        lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2,
        [-0.5, 0.5],
        [1.0, 1.0],
        5000,
        2e-2,
    ),
}


def _minimise(tx, loss, start, steps):
    def body(carry, _):
        p, s = carry
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, u), s), None

    p0 = jnp.asarray(start, jnp.float32)
    (p, _), _ = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), None, steps))(p0)
    return p


def test_every_named_optimizer_has_a_convergence_case():
    named = {"sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "amsgrad", "nadam"}
    named |= {"adamax", "ftml", "sign_sgd", "signum", "noisy_sgd", "delta_bar_delta", "rprop"}
    named |= {"lars", "lamb"}
    assert named <= set(CONVERGENCE)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_converges(name, problem):
    loss, start, minimiser, steps, tol = PROBLEMS[problem]
    make = CONVERGENCE[name][0 if problem == "parabola" else 1]
    p = _minimise(make(), loss, start, steps)
    final = float(loss(p))
    assert final < tol * float(loss(jnp.asarray(start))), (name, problem, final, p)
    assert np.linalg.norm(np.asarray(p) - np.asarray(minimiser)) < 0.3


# L-BFGS's two-loop recursion sums inner products, which XLA reassociates under jit: the
# difference is one float32 ulp of the parameters (|w| <= 2: 2.4e-7), not 1e-7
JIT_ATOL = {"lbfgs": 5e-7}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_jit_equals_eager(name):
    eager = _trajectory(OPTIMIZERS[name](), 5, jit=False)
    jitted = _trajectory(OPTIMIZERS[name](), 5, jit=True)
    np.testing.assert_allclose(eager, jitted, rtol=1e-6, atol=JIT_ATOL.get(name, 1e-7))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_no_recompilation_on_second_call(name):
    tx = OPTIMIZERS[name]()
    params = _params()

    @jax.jit
    def step(p, s, t):
        g = jax.grad(_loss)(p, t)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, u, g

    state = tx.init(params)
    for t in range(3):
        params, state, updates, grads = step(params, state, jnp.float32(t))
        _check_updates(updates, grads)  # float32 here; bfloat16 below
    assert step._cache_size() == 1
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(params))


def _check_updates(updates, grads):
    for u, g in zip(jax.tree.leaves(updates), jax.tree.leaves(grads), strict=True):
        assert u.dtype == g.dtype and u.shape == g.shape
        assert np.all(np.isfinite(np.asarray(u, np.float32)))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_updates_keep_the_gradient_dtype_in_bfloat16(name):
    dtype = jnp.bfloat16  # float32: test_no_recompilation_on_second_call
    tx = OPTIMIZERS[name]()
    params = jax.tree.map(lambda x: x.astype(dtype), _params())
    state = tx.init(params)
    update = jax.jit(tx.update)
    for t in range(3):
        grads = jax.grad(_loss)(params, jnp.asarray(t, dtype))
        updates, state = update(grads, state, params)
        _check_updates(updates, grads)
        params = optax.apply_updates(params, updates)
    assert all(x.dtype == dtype for x in jax.tree.leaves(params))


def _signature(tree):
    return jax.tree.structure(tree), [(x.shape, x.dtype) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_keeps_tree_shapes_and_dtypes_so_it_works_in_lax_cond(name):
    tx = OPTIMIZERS[name]()
    params = _params()
    state = tx.init(params)
    grads = jax.grad(_loss)(params, 0.0)
    _, new_state = tx.update(grads, state, params)
    assert _signature(new_state) == _signature(state)

    @jax.jit
    def maybe_step(pred, s):
        return jax.lax.cond(pred, lambda s: tx.update(grads, s, params)[1], lambda s: s, s)

    skipped = maybe_step(False, state)
    taken = maybe_step(True, state)
    chex_equal = jax.tree.map(lambda a, b: np.array_equal(_host(a), _host(b)), skipped, state)
    assert all(jax.tree.leaves(chex_equal))
    assert _signature(taken) == _signature(state)


def _host(x):
    """A leaf as NumPy (a typed PRNG key as its key data)."""
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    return np.asarray(x)


def test_bf16_params_with_f32_moments():
    params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), _params())
    tx = oc.adam(0.01, mu_dtype=jnp.float32, nu_dtype=jnp.float32)
    state = tx.init(params)
    moments = [x for x in jax.tree.leaves(state) if x.ndim > 0]
    assert moments and all(x.dtype == jnp.float32 for x in moments)
    grads = jax.grad(_loss)(params, jnp.bfloat16(0))
    updates, state = tx.update(grads, state, params)
    assert all(u.dtype == jnp.bfloat16 for u in jax.tree.leaves(updates))
    # First Adam step is -lr * sign(g) (up to eps), to bf16 precision.
    for u, g in zip(jax.tree.leaves(updates), jax.tree.leaves(grads)):
        np.testing.assert_allclose(
            np.asarray(u, np.float32), -0.01 * np.sign(np.asarray(g, np.float32)), rtol=1e-2
        )
