"""Learning-rate-free methods (prodigy, dadapt_adamw, mechanize): optax.contrib's values and state
fields over 200 jitted steps, the authors' releases (prodigyopt 1.1, dadaptation 3.2) through
the documented keywords (committed fixtures, tools/make_fixtures_lr_free.py), complex leaves,
closed forms of the distance estimate and argument checks."""

import inspect
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import reference_cases

import optchain as oc

STEPS = 200
LINEAR = optax.linear_schedule(1.0, 0.0, STEPS)

# case -> a builder taking the module (optchain.contrib or optax.contrib): the same call
CASES = {
    "prodigy_all_arguments": lambda m: m.prodigy(0.5, (0.8, 0.99), 0.9, 1e-6, 1e-5, 2.0, 0.1, True),
    "prodigy_schedule": lambda m: m.prodigy(LINEAR, weight_decay=0.01),
    "dadapt_adamw_all_arguments": lambda m: m.dadapt_adamw(LINEAR, (0.8, 0.99), 1e-6, 1e-5, 0.1),
    "mechanize_adam": lambda m: m.mechanize(optax.adam(LINEAR), 0.1, 1e-7, 1e-5),
}
FIELDS = {
    "prodigy": ("count", "exp_avg", "exp_avg_sq", "grad_sum", "params0", "estim_lr"),
    "dadapt": ("count", "exp_avg", "exp_avg_sq", "grad_sum", "estim_lr", "numerator_weighted"),
    "mechanize": ("r", "m", "v", "s", "x0"),  # optax's own state holds the base's count too
}


def _params(phase=None):
    params = {
        "w": jnp.array([1.0, -0.5, 0.25]),
        "b": jnp.array([0.3, -2.0]),
        "k": jnp.array([[0.1, 0.2], [0.3, -0.4]]),
    }
    if phase is None:
        return params
    return jax.tree.map(lambda x: x.astype(jnp.complex64) * phase, params)


def _loss(params, phase=1.0):
    """A quartic bowl around ``0.1 * phase``: rotating the parameters by a unit ``phase``
    rotates the gradient by it too."""

    def term(x):
        y = x - 0.1 * phase
        return jnp.sum(jnp.real(y * jnp.conj(y)) + 0.1 * jnp.real(x * jnp.conj(x)) ** 2)

    return sum(term(x) for x in jax.tree.leaves(params))


def _run(tx, params, steps=STEPS, phase=1.0):
    @jax.jit
    def run(params):
        def step(carry, _):
            p, s = carry
            g = jax.tree.map(jnp.conj, jax.grad(_loss)(p, phase))  # optax's complex convention
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
        return p, s

    return run(params)


def _close(a, b, rtol=1e-4):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(1e-30, float(np.max(np.abs(b))))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6 * scale)


def _close_field(mine, theirs):
    """rtol 1e-4, with an absolute floor of 1e-4 of the field's largest entry (a converged
    momentum is rounding noise around 0)."""
    scale = max(float(np.max(np.abs(np.asarray(x)))) for x in jax.tree.leaves(theirs))
    for a, b in zip(jax.tree.leaves(mine), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_state_fields_are_optax(name):
    base_is_optax = name.startswith("mechanize")  # the base optimizer is optax's own
    with jax.numpy_dtype_promotion("standard" if base_is_optax else "strict"):
        p_ours, s_ours = _run(CASES[name](oc.contrib), _params())
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-promotion clean
        p_theirs, s_theirs = _run(CASES[name](optax.contrib), _params())
    jax.tree.map(_close, p_ours, p_theirs)
    for field in FIELDS[name.split("_")[0]]:
        theirs, mine = optax.tree.get(s_theirs, field), optax.tree.get(s_ours, field)
        assert mine is not None, f"{name}: no {field!r} in optchain's state"
        _close_field(mine, theirs)
        jax.tree.map(lambda a, b: np.testing.assert_equal(a.dtype, b.dtype), mine, theirs)


COMPLEX = {
    "prodigy": lambda m: m.prodigy(),
    "dadapt_adamw": lambda m: m.dadapt_adamw(),
    "mechanize_sgd": lambda m: m.mechanize(optax.sgd(0.1), weight_decay=0.1, num_betas=3),
}


@pytest.mark.parametrize("name", sorted(COMPLEX))
def test_complex_leaves_are_points_of_the_plane(name):
    """Rotating the problem by a unit phase rotates the trajectory: the inner products are
    the real ones, Re(g conj(x0 - x)), and |s| is the modulus (a conj left out would turn the
    phase into phase**2 and fail); d is real."""
    phase = jnp.complex64(np.exp(0.7j))
    steps = 15  # d grows ~10x per 5 steps and float32 rounding with it (float64: 1e-15)
    p_real, _ = _run(COMPLEX[name](oc.contrib), _params(), steps=steps)
    p_complex, state = _run(COMPLEX[name](oc.contrib), _params(phase), steps=steps, phase=phase)
    jax.tree.map(
        lambda a, b: _close(a, np.asarray(b) * np.complex64(phase), rtol=2e-4), p_complex, p_real
    )
    scalar = optax.tree.get(state, "estim_lr" if name != "mechanize_sgd" else "s")
    assert not jnp.iscomplexobj(scalar)


# --- the authors' releases, replayed step for step ------------------------------------------

DATA = np.load(pathlib.Path(__file__).parent / "fixtures" / "lr_free_torch.npz")
AUTHORS = {
    "prodigy": lambda: oc.prodigy(use_bias_correction=False),
    "prodigy_bias_correction": lambda: oc.prodigy(weight_decay=0.05),
    "prodigy_coupled": lambda: oc.prodigy(
        0.5, (0.8, 0.99), 0.9, weight_decay=0.05, use_bias_correction=False, decouple=False
    ),
    "prodigy_growth": lambda: oc.prodigy(
        estim_lr0=1e-5,
        estim_lr_coef=0.5,
        safeguard_warmup=True,
        use_bias_correction=False,
        growth_rate=1.05,
    ),
    "dadapt_adam": lambda: oc.dadapt_adamw(use_bias_correction=False, decouple=False),
    "dadapt_adam_decoupled": lambda: oc.dadapt_adamw(weight_decay=0.05),
    "dadapt_adam_coupled": lambda: oc.dadapt_adamw(
        0.5,
        (0.8, 0.99),
        estim_lr0=1e-5,
        weight_decay=0.05,
        use_bias_correction=False,
        decouple=False,
        growth_rate=1.1,
    ),
}


def _tree(rows):
    out, start = {}, 0
    for key, shape in reference_cases.SHAPES.items():
        size = int(np.prod(shape))
        out[key] = jnp.asarray(rows[:, start : start + size].reshape(-1, *shape), jnp.float32)
        start += size
    return out


def _flat(tree):
    return np.concatenate(
        [np.asarray(tree[k]).reshape(tree[k].shape[0], -1) for k in reference_cases.SHAPES], 1
    )


@pytest.mark.parametrize("case", sorted(AUTHORS))
def test_authors_trajectories_with_their_keywords(case):
    """The authors' parameters and gradients of each step go in; the parameters after it and
    ``d`` must match (torch keeps ``d`` in float64, optchain in float32: rtol 1e-4)."""
    tx = AUTHORS[case]()
    params, grads = _tree(DATA[f"{case}/params"][:-1]), _tree(DATA[f"{case}/grads"])

    @jax.jit
    def run(params, grads):
        def step(state, inputs):
            w, g = inputs
            u, state = tx.update(g, state, w)
            return state, (optax.apply_updates(w, u), optax.tree.get(state, "estim_lr"))

        return jax.lax.scan(step, tx.init(jax.tree.map(lambda x: x[0], params)), (params, grads))

    _, (after, d) = run(params, grads)
    theirs = DATA[f"{case}/params"][1:]
    np.testing.assert_allclose(_flat(after), theirs, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d, DATA[f"{case}/d"], rtol=1e-4)
    assert DATA[f"{case}/d"][-1] > 100 * DATA[f"{case}/d"][0]  # the estimate did grow


# --- closed forms ----------------------------------------------------------------------------


def _two_steps(tx):
    """Two steps on f(x) = x**2 / 2 from x = 1 (g = x): the states after each."""
    x = jnp.array([1.0])
    state = tx.init(x)
    states = []
    for _ in range(2):
        u, state = tx.update(x, state, x)
        x = x + u
        states.append(state)
    return states


def test_prodigy_distance_estimate_closed_form():
    b1, b2, b3, d0, lr = 0.9, 0.999, 0.8, 0.01, 10.0
    first, second = _two_steps(oc.prodigy(lr, (b1, b2), b3, 0.0, d0))
    c1, c2 = math.sqrt(1 - b2) / (1 - b1), math.sqrt(1 - b2**2) / (1 - b1**2)
    x1 = 1 - d0 * lr  # the first step is -dlr * m / sqrt(v) = -d0 lr c1 (1 - b1) / sqrt(1 - b2)
    s1, r1 = d0 * lr * c1, 0.0  # w0 - w = 0 on the first step: d stays d0
    s2 = b3 * s1 + d0 * lr * c2 * x1
    r2 = b3 * r1 + d0 * lr * c2 * x1 * (1 - x1)
    for state, s, r in ((first, s1, r1), (second, s2, r2)):
        np.testing.assert_allclose(optax.tree.get(state, "grad_sum"), [s], rtol=1e-5)
        np.testing.assert_allclose(optax.tree.get(state, "numerator_weighted"), r, rtol=1e-4)
    np.testing.assert_allclose(optax.tree.get(first, "estim_lr"), d0, rtol=1e-6)
    assert r2 / s2 > d0  # the estimate grows on the second step
    np.testing.assert_allclose(optax.tree.get(second, "estim_lr"), r2 / s2, rtol=1e-4)


def test_dadapt_distance_estimate_closed_form():
    b1, b2, d0, eps = 0.9, 0.99, 0.1, 1e-12  # eps > 0: s / (sqrt(v) + eps) is 0 at the start
    sb = math.sqrt(b2)
    first, second = _two_steps(oc.dadapt_adamw(1.0, (b1, b2), eps, d0))
    c1, c2 = math.sqrt(1 - b2) / (1 - b1), math.sqrt(1 - b2**2) / (1 - b1**2)
    x1 = 1 - d0  # -m / sqrt(v) = -(1 - b1) d0 c1 / sqrt(1 - b2)
    s1 = (1 - sb) * d0 * c1
    s2 = sb * s1 + (1 - sb) * d0 * c2 * x1
    r2 = (1 - sb) * d0 * c2 * x1 * s1 / math.sqrt(1 - b2)  # <g, s / sqrt(v)>, v of step 1
    np.testing.assert_allclose(optax.tree.get(first, "grad_sum"), [s1], rtol=1e-5)
    np.testing.assert_allclose(optax.tree.get(first, "numerator_weighted"), 0.0, atol=1e-12)
    np.testing.assert_allclose(optax.tree.get(second, "grad_sum"), [s2], rtol=1e-5)
    np.testing.assert_allclose(optax.tree.get(second, "numerator_weighted"), r2, rtol=1e-4)
    d2 = max(d0, r2 / ((1 - sb) * s2))
    assert d2 > d0
    np.testing.assert_allclose(optax.tree.get(second, "estim_lr"), d2, rtol=1e-4)


def test_zero_gradients_keep_the_estimate():
    """optax divides 0 by 0 here (a NaN estimate); optchain keeps d0 and takes no step."""
    w = {"w": jnp.ones(3), "i": jnp.arange(2)}
    g = {"w": jnp.zeros(3), "i": jnp.zeros(2, jnp.int32)}
    for tx in (oc.prodigy(), oc.dadapt_adamw()):
        u, state = tx.update(g, tx.init(w), w)
        assert float(optax.tree.get(state, "estim_lr")) == pytest.approx(1e-6)
        np.testing.assert_array_equal(u["w"], 0.0)
        assert u["i"].dtype == jnp.int32 and not np.any(u["i"])


# --- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["prodigy", "dadapt_adamw", "mechanize"])
def test_signature_is_optax(name):
    ours = inspect.signature(getattr(oc.contrib, name)).parameters
    theirs = inspect.signature(getattr(optax.contrib, name)).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    for key, parameter in theirs.items():
        assert ours[key].default == parameter.default and ours[key].kind == parameter.kind
    extra = [p for p in list(ours.values())[len(theirs) :]]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extra)


def test_estim_lr_and_starting_point():
    w = {"a": jnp.array([1.0, 2.0])}
    state = oc.prodigy().init(w)
    assert optax.tree.get(state, "estim_lr").dtype == jnp.float32
    params0 = optax.tree.get(state, "params0")["a"]
    assert params0.unsafe_buffer_pointer() != w["a"].unsafe_buffer_pointer()
    x0 = optax.tree.get(oc.mechanize(optax.sgd(1.0)).init(w), "x0")["a"]
    assert x0.unsafe_buffer_pointer() != w["a"].unsafe_buffer_pointer()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: oc.prodigy(betas=(0.9, 1.0)), "prodigy: betas[1] must be in [0, 1)"),
        (lambda: oc.prodigy(beta3=1.5), "prodigy: beta3 must be in [0, 1)"),
        (lambda: oc.prodigy(estim_lr0=0.0), "prodigy: estim_lr0 must be in (0, inf)"),
        (lambda: oc.prodigy(growth_rate=0.0), "prodigy: growth_rate must be a number > 0"),
        (lambda: oc.prodigy(decouple=1), "prodigy: decouple must be True or False"),
        (lambda: oc.dadapt_adamw(-1.0), "dadapt_adamw: learning_rate must be in [0, inf)"),
        (lambda: oc.dadapt_adamw(betas=0.9), "dadapt_adamw: betas must be a pair"),
        (lambda: oc.dadapt_adamw(weight_decay=-0.1), "dadapt_adamw: weight_decay must be in"),
        (lambda: oc.mechanize(optax.sgd(1.0), num_betas=0), "mechanize: num_betas must be"),
        (lambda: oc.mechanize(optax.sgd(1.0), s_init=0.0), "mechanize: s_init must be in (0"),
    ],
    ids=[
        "prodigy-b2",
        "prodigy-beta3",
        "prodigy-estim_lr0",
        "prodigy-growth_rate",
        "prodigy-decouple",
        "dadapt-learning_rate",
        "dadapt-betas",
        "dadapt-weight_decay",
        "mechanize-num_betas",
        "mechanize-s_init",
    ],
)
def test_arguments_are_checked_by_public_name(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value).startswith(message), str(error.value)


def test_dadapt_rule_needs_its_second_moment():
    tx = oc.scale_by_distance_estimate(oc.exp_avg(), oc.second_moment(), rule="dadapt")
    with pytest.raises(ValueError, match="reads the denominator's second moment 'exp_avg_sq'"):
        tx.init(jnp.zeros(2))
    with pytest.raises(ValueError, match="rule must be one of"):
        oc.scale_by_distance_estimate(oc.exp_avg(), oc.exp_avg_sq(), rule="adam")
