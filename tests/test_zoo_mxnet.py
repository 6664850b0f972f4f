"""Zoo: Apache MXNet 1.9.1's Ftrl, DCASGD and SGLD (optchain.ftrl, dcasgd, sgld) and their
primitives ftrl_proximal, delay_compensation and add_langevin_noise.

FTRL and DCASGD reproduce committed MXNet trajectories (tests/fixtures/mxnet_zoo_trajectories.npz,
made by tools/make_fixtures_mxnet_zoo.py: 200 float32 steps, MXNet's parameters fed in at every
step) within ``rtol=1e-5, atol=1e-6``, one ``lax.scan`` per case. SGLD's noise cannot match
MXNet's random stream, so its moments are tested: the drift is ``-lr/2 (g + wd w)`` and the
residual is ``N(0, lr)`` (z-test on the mean, chi-square on the variance, each bound at
``Z`` standard errors: a two-sided failure probability of 1e-7 per check for a random key;
the key is fixed, so the test is deterministic). MXNet's recorded noise moments pass the same
bounds, which pins the convention (variance ``lr``, not ``lr**2``).
"""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import reference_cases

import optchain as oc

DATA = np.load(pathlib.Path(__file__).parent / "fixtures" / "mxnet_zoo_trajectories.npz")
Z = 5.33  # P(|N(0, 1)| > 5.33) = 1e-7

MXNET = {
    "ftrl": lambda: oc.ftrl(0.1),
    "ftrl_custom": lambda: oc.ftrl(0.05, lamda1=0.05, beta=0.5, weight_decay=0.01),
    "ftrl_clip": lambda: oc.ftrl(0.2, lamda1=0.0, beta=2.0, clip_gradient=1.0),
    "dcasgd": lambda: oc.dcasgd(0.05),
    "dcasgd_wd": lambda: oc.dcasgd(0.05, lamda=0.1, weight_decay=0.01, clip_gradient=2.0),
    # MXNet's momentum branch, patched to run (see tools/make_fixtures_mxnet_zoo.py)
    "dcasgd_momentum": lambda: oc.dcasgd(0.02, momentum=0.9),
    "dcasgd_momentum_wd": lambda: oc.dcasgd(0.02, momentum=0.5, lamda=0.2, weight_decay=0.05),
}


def _rows_to_trees(rows):
    """(steps, 17) rows as a tree of (steps, *shape) leaves, in tools/make_fixtures' order."""
    out, start = {}, 0
    for key, shape in reference_cases.SHAPES.items():
        size = int(np.prod(shape))
        out[key] = jnp.asarray(rows[:, start : start + size]).reshape((len(rows), *shape))
        start += size
    return out


def _trees_to_rows(tree):
    return np.concatenate(
        [np.asarray(tree[k]).reshape(len(tree[k]), -1) for k in reference_cases.SHAPES], axis=1
    )


def _replay(tx, params_seq, grads_seq):
    """The parameters after each step, each step fed MXNet's parameters and gradient."""
    params, grads = _rows_to_trees(params_seq[:-1]), _rows_to_trees(grads_seq)

    def body(state, xs):
        w, g = xs
        u, state = tx.update(g, state, w)
        return state, optax.apply_updates(w, u)

    first = jax.tree.map(lambda x: x[0], params)
    _, new = jax.jit(lambda p, g: jax.lax.scan(body, tx.init(first), (p, g)))(params, grads)
    return _trees_to_rows(new)


def test_fixture_cases_are_the_table():
    names = {k.split("/")[0] for k in DATA.files if not k.startswith("sgld/")}
    assert names == set(MXNET)
    assert json.loads(str(DATA["dcasgd_momentum/config"]))["patched"] is True


@pytest.mark.parametrize("case", sorted(MXNET))
def test_reproduces_mxnet_step_for_step(case):
    params_seq, grads_seq = DATA[f"{case}/params"], DATA[f"{case}/grads"]
    assert grads_seq.shape == (200, 17)
    mine, theirs = _replay(MXNET[case](), params_seq, grads_seq), params_seq[1:]
    error = np.abs(mine - theirs)
    big = np.abs(theirs) > 1e-3  # near 0 (FTRL's weights cross it) only atol is meaningful
    relative = (error[big] / np.abs(theirs[big])).max()
    print(f"{case}: max abs {error.max():.2e}, max rel where |w| > 1e-3: {relative:.2e}")
    np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    assert np.abs(theirs - params_seq[:-1]).max() > 1e-3  # the weights do move


def _residuals(tx, params, grads, steps, lr, wd):
    """``u + lr_t / 2 (g + wd w)`` of ``steps`` jitted updates at fixed params and gradient."""

    @jax.jit
    def run(state):
        def body(state, t):
            u, state = tx.update(grads, state, params)
            drift = jax.tree.map(lambda g, w: lr(t) / 2 * (g + wd * w), grads, params)
            return state, jax.tree.map(jnp.add, u, drift)

        return jax.lax.scan(body, state, jnp.arange(steps))[1]

    return run(tx.init(params))


def _assert_normal(r, variance, what):
    """r (real, flat) holds N(0, variance) draws: z-test on the mean, chi-square on the sum."""
    r = np.asarray(r, np.float64).ravel()
    n = r.size
    z_mean = r.mean() / np.sqrt(variance / n)
    z_var = (np.sum(r**2) / variance - n) / np.sqrt(2 * n)  # chi2(n) ~ N(n, 2n)
    assert abs(z_mean) < Z and abs(z_var) < Z, (what, z_mean, z_var)


def test_sgld_drift_is_half_the_rate_and_noise_variance_is_the_rate():
    lr, wd, n = 0.04, 0.1, 100_000
    k1, k2, k3 = jax.random.split(jax.random.key(5), 3)
    params = {
        "w": jax.random.normal(k1, (n,)),
        "c": jax.random.normal(k2, (n // 2,), jnp.complex64),
    }
    grads = {"w": 0.5 * params["w"] + 0.1, "c": jax.random.normal(k3, (n // 2,), jnp.complex64)}
    tx = oc.sgld(lr, key=11, weight_decay=wd)
    r = _residuals(tx, params, grads, 3, lambda t: lr, wd)
    for t in range(3):
        _assert_normal(r["w"][t], lr, f"real, step {t}")
        c = r["c"][t]  # two real coordinates, each with variance lr
        _assert_normal(jnp.concatenate([c.real, c.imag]), lr, f"complex, step {t}")
    # each step draws afresh: consecutive residuals are uncorrelated
    corr = np.corrcoef(np.asarray(r["w"][0]), np.asarray(r["w"][1]))[0, 1]
    assert abs(corr) * np.sqrt(n) < Z


def test_sgld_noise_follows_a_scheduled_rate():
    schedule = optax.exponential_decay(0.05, 1, 0.5)  # 0.05, 0.025, 0.0125: step t sees lr(t)
    params = {"w": jnp.linspace(-1.0, 1.0, 50_000)}
    grads = {"w": jnp.cos(params["w"])}
    tx = oc.sgld(schedule, key=jax.random.key(2), weight_decay=0.2)
    r = _residuals(tx, params, grads, 3, schedule, 0.2)
    for t in range(3):
        _assert_normal(r["w"][t], float(schedule(t)), f"step {t}")


@pytest.mark.parametrize("case", ["default", "wd"])
def test_mxnets_sgld_noise_moments_pass_the_same_bounds(case):
    config = json.loads(str(DATA[f"sgld/{case}/config"]))
    n, lr = config["size"], config["learning_rate"]
    for mean, var in zip(DATA[f"sgld/{case}/noise_mean"], DATA[f"sgld/{case}/noise_var"]):
        assert abs(mean / np.sqrt(lr / n)) < Z
        assert abs((var / lr - 1) * np.sqrt(n / 2)) < Z  # the sample variance, as chi2 / n


def _trajectory(tx, steps=3, jit=True):
    params = {"w": jnp.array([[0.5, -1.0, 2.0], [1.5, -0.3, 0.8]]), "b": jnp.array([0.1, -0.2])}
    update = jax.jit(tx.update) if jit else tx.update
    state, out = tx.init(params), []
    for t in range(steps):
        grads = jax.tree.map(lambda w: w**3 / 4 + jnp.sin(3.0 * w + t), params)
        u, state = update(grads, state, params)
        params = optax.apply_updates(params, u)
        out.append(np.concatenate([np.ravel(x) for x in jax.tree.leaves(params)]))
    return np.stack(out)


def test_same_key_same_trajectory_and_key_forms_agree():
    params = {"w": jnp.array([[0.5, -1.0, 2.0], [1.5, -0.3, 0.8]]), "b": jnp.array([0.1, -0.2])}
    step = oc.sgld(0.01).update  # the key is in the state: one update serves every key

    @jax.jit
    def run(state):
        def body(carry, t):
            p, s = carry
            u, s = step(jax.tree.map(lambda w: w**3 / 4 + jnp.sin(w + t), p), s, p)
            p = optax.apply_updates(p, u)
            return (p, s), jnp.concatenate([jnp.ravel(x) for x in jax.tree.leaves(p)])

        return jax.lax.scan(body, (params, state), jnp.arange(4.0))[1]

    def path(key):
        return np.asarray(run(oc.sgld(0.01, key=key).init(params)))

    seed = path(3)
    np.testing.assert_array_equal(seed, path(3))
    np.testing.assert_array_equal(seed, path(jax.random.key(3)))
    np.testing.assert_array_equal(seed, path(jax.random.PRNGKey(3)))
    assert not np.allclose(seed, path(4))
    np.testing.assert_array_equal(path(None), path(0))
    # the same tx run twice from its init: the same trajectory
    tx = oc.sgld(0.01, key=5)
    np.testing.assert_array_equal(_trajectory(tx, steps=2), _trajectory(tx, steps=2))


@pytest.mark.parametrize(
    "make",
    [
        lambda: oc.ftrl(0.1, lamda1=0.05, weight_decay=0.01),
        lambda: oc.dcasgd(0.05, momentum=0.5, weight_decay=0.01),
        lambda: oc.sgld(0.01, key=1, clip_gradient=1.0),
    ],
    ids=["ftrl", "dcasgd", "sgld"],
)
def test_jit_equals_eager(make):
    np.testing.assert_allclose(
        _trajectory(make(), jit=False), _trajectory(make(), jit=True), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: oc.ftrl(0.0), "ftrl: learning_rate must be in (0, inf)"),
        (lambda: oc.ftrl(0.1, lamda1=-0.1), "ftrl: lamda1 must be in [0, inf)"),
        (lambda: oc.ftrl(0.1, beta=-1.0), "ftrl: beta must be in [0, inf)"),
        (lambda: oc.ftrl(0.1, weight_decay=float("nan")), "ftrl: weight_decay"),
        (lambda: oc.ftrl(0.1, clip_gradient=0.0), "ftrl: clip_gradient must be in (0, inf)"),
        (lambda: oc.dcasgd(0.1, momentum=1.0), "dcasgd: momentum must be in [0, 1)"),
        (lambda: oc.dcasgd(0.1, lamda=-0.04), "dcasgd: lamda must be in [0, inf)"),
        (lambda: oc.dcasgd(-0.1), "dcasgd: learning_rate must be in [0, inf)"),
        (lambda: oc.sgld(-0.01), "sgld: learning_rate must be in [0, inf)"),
        (lambda: oc.sgld(0.01, key=1.5), "sgld: key must be a jax.random key or an int seed"),
        (lambda: oc.ftrl_proximal(0.1, lamda2=-1.0), "lamda2 must be in [0, inf)"),
        (lambda: oc.delay_compensation(float("inf")), "lamda"),
        (lambda: oc.add_langevin_noise(0.1, key="0"), "key must be a jax.random key"),
    ],
)
def test_bad_arguments_are_rejected_by_name(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)


def test_ftrl_proximal_closed_form_and_complex_shrink():
    tx = oc.ftrl_proximal(0.5, lamda1=0.2, beta=1.0, lamda2=0.3)
    w = {"r": jnp.array([0.3, -0.1]), "c": jnp.array([3.0 + 4.0j])}
    g = {"r": jnp.array([1.0, 0.1]), "c": jnp.array([0.6 - 0.8j])}
    u, state = tx.update(g, tx.init(w), w)
    z = 1.0 - (1.0 - 0.0) / 0.5 * 0.3  # g - (sqrt(n + g^2) - sqrt(n)) w / lr
    np.testing.assert_allclose(state.z["r"], [z, 0.1 - 0.1 / 0.5 * -0.1], rtol=1e-6)
    np.testing.assert_allclose(state.n["r"], [1.0, 0.01], rtol=1e-6)
    new = optax.apply_updates(w, u)
    np.testing.assert_allclose(new["r"][0], (0.2 - z) / ((1 + 1) / 0.5 + 0.3), rtol=1e-6)
    assert float(new["r"][1]) == 0.0  # |z| = 0.12 <= lamda1
    zc = (0.6 - 0.8j) - 1.0 / 0.5 * (3.0 + 4.0j)  # |g| = 1
    shrunk = -(zc - 0.2 * zc / abs(zc)) / ((1 + 1) / 0.5 + 0.3)
    np.testing.assert_allclose(new["c"], [shrunk], rtol=1e-6)
    assert state.n["c"].dtype == jnp.complex64 and float(state.n["c"][0].imag) == 0.0


def test_delay_compensation_remembers_the_previous_parameters():
    tx = oc.delay_compensation(0.5)
    w0, w1 = jnp.array([1.0, 2.0]), jnp.array([1.5, 1.0])
    state = tx.init(w0)
    assert state.previous_params is not w0
    u, state = tx.update(jnp.array([2.0, -1.0]), state, w0)  # w - w_prev = 0: g passes
    np.testing.assert_array_equal(u, [2.0, -1.0])
    u, state = tx.update(jnp.array([2.0, -1.0]), state, w1)
    np.testing.assert_allclose(u, [2.0 + 0.5 * 4 * 0.5, -1.0 + 0.5 * 1 * -1.0])
    np.testing.assert_array_equal(state.previous_params, w1)
    ints = {"i": jnp.array([1, 2]), "f": jnp.ones(2)}  # integer leaves: zero update
    u, _ = tx.update(ints, tx.init(ints), ints)
    assert u["i"].dtype == jnp.int32 and not np.any(np.asarray(u["i"]))


def test_state_fields_are_named_for_what_they_hold():
    params = {"w": jnp.ones(3)}
    ftrl = oc.ftrl(0.1).init(params)
    assert set(optax.tree.get(ftrl, "z")) == {"w"} and set(optax.tree.get(ftrl, "n")) == {"w"}
    dc = oc.dcasgd(0.1, momentum=0.9).init(params)
    np.testing.assert_array_equal(optax.tree.get(dc, "previous_params")["w"], params["w"])
    assert set(optax.tree.get(dc, "trace")) == {"w"}
    sgld = oc.sgld(0.1, key=1).init(params)
    assert jnp.issubdtype(optax.tree.get(sgld, "key").dtype, jax.dtypes.prng_key)
    for state in (ftrl, dc, sgld):  # one step counter per named optimizer
        assert int(optax.tree.get(state, "count")) == 0
