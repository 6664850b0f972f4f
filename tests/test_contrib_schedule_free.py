"""Schedule-free (schedule_free, schedule_free_sgd, schedule_free_adamw, schedule_free_eval_params):
optax's values and state fields over 200 jitted steps, the authors' torch release (committed
fixtures of ``tools/make_fixtures_schedule_free.py``) through the documented keywords, the first
two steps of the averaging in closed form, the evaluation weights inside Flax's optimizers, and
argument checks."""

import inspect
import json
import pathlib
import re
import runpy

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from flax.training import train_state

import optchain as oc
import optchain.contrib as occ

ROOT = pathlib.Path(__file__).resolve().parent.parent
STEPS = 200
FIELDS = ("b1", "weight_sum", "step_count", "max_lr", "z")

# case -> (factory, shared by optchain.contrib and optax.contrib; its arguments)
CASES = {
    "sgd": ("schedule_free_sgd", dict(learning_rate=0.05)),
    "sgd_warmup_wd": (
        "schedule_free_sgd",
        dict(learning_rate=0.05, warmup_steps=10, b1=0.8, weight_decay=0.1, weight_lr_power=1.0),
    ),
    "adamw": ("schedule_free_adamw", dict(learning_rate=0.05)),
    "adamw_warmup_wd": (
        "schedule_free_adamw",
        dict(learning_rate=0.05, warmup_steps=20, b1=0.95, b2=0.99, eps=1e-6, weight_decay=0.1),
    ),
    "adamw_complex": ("schedule_free_adamw", dict(learning_rate=0.05, weight_decay=0.1)),
}


def _params(complex_params=False):
    params = {
        "w": jnp.array([1.0, -0.5, 0.25]),
        "b": jnp.array([0.3, -2.0]),
        "k": jnp.array([[0.1, 0.2], [0.3, -0.4]]),
    }
    if not complex_params:
        return params
    return jax.tree.map(lambda x: x.astype(jnp.complex64) * jnp.complex64(1 + 0.5j), params)


def _abs_sq(x):
    return jnp.real(x * jnp.conj(x))


def _loss(params):
    """A quartic bowl: |x - 0.1|**2 + 0.1 |x|**4 per entry (real for complex leaves)."""
    return sum(jnp.sum(_abs_sq(x - 0.1) + 0.1 * _abs_sq(x) ** 2) for x in jax.tree.leaves(params))


def _run(tx, params, eval_params):
    @jax.jit
    def run(params):
        def step(carry, _):
            p, s = carry
            g = jax.tree.map(jnp.conj, jax.grad(_loss)(p))  # optax's convention for complex
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=STEPS)
        return p, s, eval_params(s, p)

    return run(params)


def _close(mine, theirs, rtol=1e-5):
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-7), mine, theirs)


def _parity(ours, theirs, params, fields):
    p1, s1, x1 = _run(ours, params, occ.schedule_free_eval_params)
    with jax.numpy_dtype_promotion("standard"):  # optax is not strict-promotion clean
        p2, s2, x2 = _run(theirs, params, optax.contrib.schedule_free_eval_params)
    _close(p1, p2)
    _close(x1, x2)
    for field in fields:
        mine, reference = optax.tree.get(s1, field), optax.tree.get(s2, field)
        _close(mine, reference)
        if not jnp.iscomplexobj(jax.tree.leaves(params)[0]):  # optax's scalars turn complex
            assert jax.tree.map(lambda a: a.dtype, mine) == jax.tree.map(
                lambda a: a.dtype, reference
            )


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_optax(case):
    factory, kwargs = CASES[case]
    fields = FIELDS + (("nu",) if "adamw" in factory else ())
    ours, theirs = getattr(occ, factory)(**kwargs), getattr(optax.contrib, factory)(**kwargs)
    _parity(ours, theirs, _params(case.endswith("complex")), fields)


def test_wrapping_a_base_optimizer_matches_optax():
    lr = optax.linear_schedule(0.01, 0.05, 50)  # a schedule: read at step_count from 1
    ours = occ.schedule_free(oc.adam(lr, b1=0.0), lr, b1=0.85, weight_lr_power=1.5)
    theirs = optax.contrib.schedule_free(optax.adam(lr, b1=0.0), lr, b1=0.85, weight_lr_power=1.5)
    _parity(ours, theirs, _params(), FIELDS + ("nu",))


def test_signatures_are_optax_plus_keyword_only_extras():
    for name in ("schedule_free", "schedule_free_sgd", "schedule_free_adamw"):
        mine = inspect.signature(getattr(occ, name)).parameters
        theirs = inspect.signature(getattr(optax.contrib, name)).parameters
        assert [(p.name, p.default, p.kind) for p in list(mine.values())[: len(theirs)]] == [
            (p.name, p.default, p.kind) for p in theirs.values()
        ]
        extras = {p.name for p in list(mine.values())[len(theirs) :]}
        assert all(mine[n].kind is inspect.Parameter.KEYWORD_ONLY for n in extras)
    assert list(inspect.signature(occ.schedule_free_eval_params).parameters) == ["state", "params"]
    assert occ.ScheduleFreeState._fields == optax.contrib.ScheduleFreeState._fields


# ---- the authors' release (schedulefree 1.4, torch), step for step -------------------------

FIXTURES = np.load(ROOT / "tests" / "fixtures" / "schedule_free_trajectories.npz")
AUTHOR_CASES = sorted({key.split("/")[0] for key in FIXTURES.files})
SIZES = {"w": 12, "b": 5}


def _tree(flat):
    return {"w": flat[..., :12].reshape(flat.shape[:-1] + (3, 4)), "b": flat[..., 12:]}


def _flat(tree):
    return jnp.concatenate([tree["w"].reshape(-1), tree["b"]])


def _authors_optimizer(config, **overrides):
    """Ours, with the keywords that reproduce ``schedulefree``'s constructor ``config``."""
    shared = dict(
        learning_rate=config["lr"],
        warmup_steps=config.get("warmup_steps") or None,
        weight_lr_power=config.get("weight_lr_power", 2.0),
        r=config.get("r", 0.0),
        torch_warmup=True,
    )
    shared.update(overrides)
    if config["optimizer"].endswith("SGDScheduleFree"):
        wd = config.get("weight_decay") or None
        return occ.schedule_free_sgd(b1=config.get("momentum", 0.9), weight_decay=wd, **shared)
    b1, b2 = config.get("betas", (0.9, 0.999))
    eps, wd = config.get("eps", 1e-8), config.get("weight_decay", 0.0)
    return occ.schedule_free_adamw(b1=b1, b2=b2, eps=eps, weight_decay=wd, **shared)


def _authors_steps(tx, case):
    """Each step from the authors' train point y and iterate z (so no rounding accumulates):
    our (y, x, z) after it."""
    ys, grads = FIXTURES[f"{case}/params"], FIXTURES[f"{case}/grads"]
    zs = np.concatenate([ys[:1], FIXTURES[f"{case}/z"][:-1]])

    @jax.jit
    def run(ys, zs, grads):
        def step(state, inputs):
            y, z, g = (_tree(a) for a in inputs)
            u, state = tx.update(g, state._replace(z=z), y)
            y = optax.apply_updates(y, u)
            x = occ.schedule_free_eval_params(state, y)
            return state, (_flat(y), _flat(x), _flat(state.z))

        return jax.lax.scan(step, tx.init(_tree(ys[0])), (ys[:-1], zs, grads))[1]

    return run(ys, zs, grads)


@pytest.mark.parametrize("case", AUTHOR_CASES)
def test_reproduces_the_authors_release(case):
    config = json.loads(str(FIXTURES[f"{case}/config"]))
    y, x, z = _authors_steps(_authors_optimizer(config), case)
    theirs = (FIXTURES[f"{case}/params"][1:], FIXTURES[f"{case}/eval"][1:], FIXTURES[f"{case}/z"])
    for what, mine, reference in zip(("train point y", "eval point x", "z"), (y, x, z), theirs):
        scale = max(1.0, float(np.max(np.abs(reference))))
        np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-6 * scale, err_msg=what)
    np.testing.assert_array_equal(FIXTURES[f"{case}/eval"][0], FIXTURES[f"{case}/params"][0])
    if case in ("sgd_r", "adamw_warmup_wd"):  # the keywords matter (warmup, r)
        plain = _authors_optimizer(config, torch_warmup=False, r=0.0)
        y_plain = _authors_steps(plain, case)[0]
        assert np.max(np.abs(y_plain - theirs[0])) > 1e-4


# ---- closed forms ----------------------------------------------------------------------------


def _two_steps(tx, y0, g0, g1):
    state = tx.init(y0)
    u, state = tx.update(g0, state, y0)
    y1 = y0 + u
    x1 = occ.schedule_free_eval_params(state, y1)
    u, state = tx.update(g1, state, y1)
    y2 = y1 + u
    return y1, x1, y2, occ.schedule_free_eval_params(state, y2), state


def test_first_two_steps_of_the_averaging():
    lr, b1 = 0.5, 0.8
    y0, g0, g1 = jnp.array([2.0, -1.0]), jnp.array([1.0, 3.0]), jnp.array([-2.0, 0.5])
    y1, x1, y2, x2, state = _two_steps(occ.schedule_free_sgd(lr, b1=b1), y0, g0, g1)
    z1 = y0 - lr * g0  # c_1 = w_1 / w_1 = 1: x_1 = z_1 = y_1
    np.testing.assert_allclose(y1, z1, rtol=1e-6)
    np.testing.assert_allclose(x1, z1, rtol=1e-6)
    z2 = z1 - lr * g1  # c_2 = lr**2 / (2 lr**2) = 1/2
    np.testing.assert_allclose(x2, (z1 + z2) / 2, rtol=1e-6)
    np.testing.assert_allclose(y2, b1 * (z1 + z2) / 2 + (1 - b1) * z2, rtol=1e-6)
    np.testing.assert_allclose(state.z, z2, rtol=1e-6)
    np.testing.assert_allclose(state.weight_sum, 2 * lr**2, rtol=1e-6)
    assert int(state.step_count) == 3


@pytest.mark.parametrize("torch_warmup", [False, True], ids=["optax", "torch"])
def test_warmup_weights_and_the_base_steps_lag(torch_warmup):
    lr, b1, w = 0.8, 0.9, 4  # the weights read lr/4, lr/2 at step_count 1, 2: c_2 = 4/5
    y0, g0, g1 = jnp.array([1.0, -3.0]), jnp.array([1.0, 2.0]), jnp.array([0.5, -1.0])
    tx = occ.schedule_free_sgd(lr, warmup_steps=w, b1=b1, torch_warmup=torch_warmup)
    y1, x1, y2, x2, state = _two_steps(tx, y0, g0, g1)
    rates = (lr / 4, lr / 2) if torch_warmup else (0.0, lr / 4)  # optax's base step lags
    z1 = y0 - rates[0] * g0
    z2 = z1 - rates[1] * g1
    np.testing.assert_allclose(x1, z1, rtol=1e-6)
    np.testing.assert_allclose(x2, z1 / 5 + 4 * z2 / 5, rtol=1e-6)
    np.testing.assert_allclose(y2, b1 * x2 + (1 - b1) * z2, rtol=1e-6)
    np.testing.assert_allclose(state.max_lr, lr / 2, rtol=1e-6)


def test_polynomial_weights_r():
    lr, b1 = 0.5, 0.5  # weights t**r lr**2: c_2 = 2 / (1 + 2) with r = 1
    y0, g0, g1 = jnp.array([2.0]), jnp.array([1.0]), jnp.array([3.0])
    *_, x2, _ = _two_steps(occ.schedule_free_sgd(lr, b1=b1, r=1.0), y0, g0, g1)
    z1, z2 = y0 - lr * g0, y0 - lr * (g0 + g1)
    np.testing.assert_allclose(x2, z1 / 3 + 2 * z2 / 3, rtol=1e-6)


def test_integer_leaves_get_zero_updates_and_z_is_a_copy():
    params = {"w": jnp.array([1.0, 2.0]), "n": jnp.array([3, 4], jnp.int32)}
    tx = occ.schedule_free_adamw(0.1)
    state = tx.init(params)
    assert state.z["w"].unsafe_buffer_pointer() != params["w"].unsafe_buffer_pointer()
    grads = {"w": jnp.array([0.5, -0.5]), "n": jnp.zeros(2, jnp.int32)}
    updates, state = tx.update(grads, state, params)
    assert updates["n"].dtype == jnp.int32 and not updates["n"].any()
    np.testing.assert_allclose(updates["w"], [-0.1, 0.1], rtol=1e-5)
    assert occ.schedule_free_eval_params(state, params)["n"].dtype == jnp.int32


# ---- the evaluation weights inside other states ----------------------------------------------


def _expected_x(state, params):
    b1 = float(state.b1)
    return jax.tree.map(lambda y, z: (y - (1 - b1) * z) / b1, params, state.z)


def test_eval_params_find_the_state_in_chains_and_injected_hyperparams():
    params = _params()
    grads = jax.grad(_loss)(params)
    for tx, inner in (
        (optax.chain(oc.clip_by_global_norm(1.0), occ.schedule_free_sgd(0.1)), lambda s: s[1]),
        (
            optax.inject_hyperparams(occ.schedule_free_adamw)(learning_rate=0.1),
            lambda s: s.inner_state,
        ),
    ):
        with jax.numpy_dtype_promotion("standard"):  # optax's inject_hyperparams
            updates, state = jax.jit(tx.update)(grads, tx.init(params), params)
        params_1 = optax.apply_updates(params, updates)
        expected = _expected_x(inner(state), params_1)
        _close(occ.schedule_free_eval_params(state, params_1), expected)


def test_eval_params_inside_flax_optimizers():
    x, y = jnp.linspace(-1, 1, 8)[:, None], jnp.linspace(0, 1, 8)[:, None]
    model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, occ.schedule_free_adamw(0.1), wrt=nnx.Param)
    for _ in range(3):
        optimizer.update(model, nnx.grad(lambda m: jnp.mean((m(x) - y) ** 2))(model))
    params = nnx.state(model, nnx.Param)
    got = occ.schedule_free_eval_params(optimizer.opt_state, params)
    assert isinstance(got, nnx.State)
    b1, z = optimizer.opt_state.b1.get_value(), nnx.to_pure_dict(optimizer.opt_state.z)
    want = _expected_x(
        occ.ScheduleFreeState(b1, None, None, None, None, z), nnx.to_pure_dict(params)
    )
    got = nnx.to_pure_dict(got)
    _close(got, want)
    assert not np.allclose(got["kernel"], nnx.to_pure_dict(params)["kernel"])

    linen = train_state.TrainState.create(
        apply_fn=None, params={"w": jnp.array([1.0, -2.0])}, tx=occ.schedule_free_sgd(0.1)
    )
    for _ in range(2):
        linen = linen.apply_gradients(grads={"w": linen.params["w"]})
    _close(
        occ.schedule_free_eval_params(linen.opt_state, linen.params),
        _expected_x(linen.opt_state, linen.params),
    )


def test_eval_params_say_when_there_is_no_schedule_free_state():
    params = _params()
    with pytest.raises(ValueError, match="holds no ScheduleFreeState"):
        occ.schedule_free_eval_params(oc.adam(0.1).init(params), params)
    theirs = optax.contrib.schedule_free_sgd(0.1).init(params)  # optax's state is found too
    _close(occ.schedule_free_eval_params(theirs, params), params)
    two = optax.chain(occ.schedule_free_sgd(0.1), occ.schedule_free_sgd(0.1)).init(params)
    with pytest.raises(ValueError, match="holds 2 ScheduleFreeState"):
        occ.schedule_free_eval_params(two, params)


# ---- argument checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: occ.schedule_free_adamw(b1=0.0), "schedule_free_adamw: b1 must be in (0, 1]"),
        (lambda: occ.schedule_free_sgd(b1=1.5), "schedule_free_sgd: b1 must be in (0, 1]"),
        (
            lambda: occ.schedule_free_sgd(warmup_steps=0),
            "schedule_free_sgd: warmup_steps must be in [1, inf)",
        ),
        (lambda: occ.schedule_free_adamw(warmup_steps=2.5), "warmup_steps must be an int"),
        (lambda: occ.schedule_free_adamw(b2=1.0), "schedule_free_adamw: b2 must be in [0, 1)"),
        (lambda: occ.schedule_free_sgd(weight_lr_power=-1.0), "weight_lr_power must be in"),
        (lambda: occ.schedule_free_adamw(r=-1.0), "schedule_free_adamw: r must be in [0, inf)"),
        (lambda: occ.schedule_free_sgd(learning_rate=-1.0), "learning_rate must be in [0, inf)"),
        (lambda: occ.schedule_free_sgd(torch_warmup=1), "torch_warmup must be True or False"),
        (lambda: occ.schedule_free(oc.sgd(0.1), 0.1, b1=0.0), "b1 must be in (0, 1]"),
    ],
    ids=[
        "adamw-b1-zero",
        "sgd-b1-large",
        "warmup-zero",
        "warmup-float",
        "b2-one",
        "power-negative",
        "r-negative",
        "lr-negative",
        "torch-warmup-flag",
        "wrapper-b1-zero",
    ],
)
def test_argument_checks(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


# ---- the example ------------------------------------------------------------------------------


@pytest.mark.usefixtures("standard_promotion")
def test_example_eval_weights_beat_the_train_point():
    example = runpy.run_path(str(ROOT / "examples" / "schedule_free_flax.py"), run_name="example")
    results = example["main"](["--steps", "200", "--width", "16"])
    assert set(results) == {"nnx.Optimizer", "linen TrainState"}
    for name, (train_loss, eval_loss) in results.items():
        assert eval_loss < 0.8 * train_loss, (name, train_loss, eval_loss)
        assert eval_loss < 0.03, (name, eval_loss)  # the targets' variance is ~0.5
