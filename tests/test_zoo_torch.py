"""torch.optim's ASGD, NAdam and RAdam through optchain's names and torch's keywords, step for
step against committed torch 2.13 trajectories (tools/make_fixtures_torch_zoo.py, 200 steps);
optax's behaviour stays the default of ``nadam`` and ``radam``."""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import reference_cases

import optchain as oc

DATA = np.load(pathlib.Path(__file__).parent / "fixtures" / "torch_zoo_trajectories.npz")

# case -> the optchain call that reproduces the fixture's torch.optim call
CASES = {
    "asgd": lambda: oc.asgd(0.05),
    "asgd_averaging": lambda: oc.asgd(0.05, lambd=0.01, alpha=0.6, t0=50.0),
    "asgd_wd": lambda: oc.asgd(0.03, 1e-3, 1.0, 0, weight_decay=0.01),
    "nadam": lambda: oc.nadam(0.01, momentum_decay=4e-3),
    "nadam_wd": lambda: oc.nadam(0.01, 0.8, 0.99, momentum_decay=0.01, weight_decay=0.01),
    "nadam_decoupled": lambda: oc.nadam(
        0.01, momentum_decay=4e-3, weight_decay=0.05, decoupled_weight_decay=True
    ),
    "radam": lambda: oc.radam(0.01, eps_before_debias=True),
    "radam_wd": lambda: oc.radam(0.01, 0.8, 0.99, weight_decay=0.01, eps_before_debias=True),
    "radam_decoupled": lambda: oc.radam(
        0.01, weight_decay=0.05, decoupled_weight_decay=True, eps_before_debias=True
    ),
    "radam_eps": lambda: oc.radam(0.01, 0.9, 0.99, 0.1, eps_before_debias=True),
}


def _tree(rows):
    """(steps, 17) rows -> a tree of (steps, *shape) leaves (the fixture's two parameters)."""
    out, start = {}, 0
    for key, shape in reference_cases.SHAPES.items():
        size = int(np.prod(shape))
        out[key] = jnp.asarray(rows[:, start : start + size].reshape(-1, *shape))
        start += size
    return out


def _flat(tree):
    return np.concatenate(
        [np.asarray(tree[k]).reshape(tree[k].shape[0], -1) for k in reference_cases.SHAPES], 1
    )


def _replay(tx, case):
    """Feeds torch's parameters and gradients of each step to ``tx`` (one jitted scan):
    the parameters after every step and the final state."""
    params, grads = _tree(DATA[f"{case}/params"][:-1]), _tree(DATA[f"{case}/grads"])

    @jax.jit
    def run(params, grads):
        def step(state, inputs):
            w, g = inputs
            u, state = tx.update(g, state, w)
            return state, (optax.apply_updates(w, u), _averaged(state))

        first = jax.tree.map(lambda x: x[0], params)
        return jax.lax.scan(step, tx.init(first), (params, grads))

    state, (after, averaged) = run(params, grads)
    return _flat(after), (None if averaged is None else _flat(averaged)), state


def _averaged(state):
    try:
        return oc.averaged_params(state)
    except ValueError:  # no averaging transform in this optimizer
        return None


def _close(mine, theirs, what):
    scale = max(1.0, float(np.max(np.abs(theirs))))
    np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6 * scale, err_msg=what)


@pytest.mark.parametrize("case", sorted(CASES))
def test_reproduces_torch_step_for_step(case):
    config = json.loads(str(DATA[f"{case}/config"]))
    assert config["steps"] == 200 and config["torch"].startswith("2.13")
    mine, averaged, state = _replay(CASES[case](), case)
    _close(mine, DATA[f"{case}/params"][1:], case)
    if case.startswith("asgd"):  # torch's state["ax"] after every step
        _close(averaged, DATA[f"{case}/ax"], f"{case} averaged parameters")
        np.testing.assert_array_equal(
            optax.tree.get(state, "average")["w"].ravel(), averaged[-1, :12]
        )
    if case == "asgd_averaging":  # the iterate up to step t0 + 1 = 51, then a lagging mean
        iterates = DATA[f"{case}/params"][1:]
        np.testing.assert_allclose(averaged[:51], iterates[:51], rtol=1e-5, atol=1e-6)
        assert np.max(np.abs(averaged[60:] - iterates[60:])) > 1e-2
    assert int(optax.tree.get(state, "count")) == 200


def test_the_torch_keywords_matter():
    """Without them each torch case drifts away: the keywords are what reproduces torch."""
    for case, tx in (
        ("nadam", oc.nadam(0.01)),
        ("radam_eps", oc.radam(0.01, 0.9, 0.99, 0.1)),
        ("nadam_decoupled", oc.nadam(0.01, momentum_decay=4e-3, weight_decay=0.05)),
    ):
        mine, _, _ = _replay(tx, case)
        assert np.max(np.abs(mine - DATA[f"{case}/params"][1:])) > 1e-4, case


def _layout(tx, params):
    leaves = jax.tree_util.tree_leaves_with_path(tx.init(params))
    return [jax.tree_util.keystr(path) for path, _ in leaves]


def test_optax_defaults_are_unchanged():
    """``nadam(lr)`` keeps the state it had and optax's values, and so does ``radam(lr)`` but for
    its weight-decay link, a no-op (values against optax: tests/test_zoo_adam_like.py); the
    decoupled NAdam without the momentum schedule is optax's ``nadamw``."""
    params = {"w": jnp.array([1.0, -0.5, 0.25])}
    assert _layout(oc.nadam(0.1), params) == [
        ".count",
        ".links[1].numerator.branches[0][0].mu['w']",
        ".links[1].numerator.branches[0][1].decay_product",
        ".links[1].numerator.branches[1][0].decay_product",
        ".links[1].denominator[0].nu['w']",
        ".links[1].denominator[1].decay_product",
    ]
    assert _layout(oc.radam(0.1), params) == [
        ".count",
        ".links[1].numerator[0].mu['w']",  # links[0]: the weight decay (a no-op by default)
        ".links[1].numerator[1].decay_product",
        ".links[1].denominator[0].nu['w']",
        ".links[1].denominator[1].decay_product",
    ]
    pairs = (
        (oc.nadam(0.05), optax.nadam(0.05)),
        (
            oc.nadam(0.05, weight_decay=0.1, decoupled_weight_decay=True),
            optax.nadamw(0.05, 0.9, 0.999, weight_decay=0.1),
        ),
        (oc.radam(0.05, weight_decay=0.0, decoupled_weight_decay=True), oc.radam(0.05)),
    )
    for ours, theirs in pairs:
        p_ours = p_theirs = params
        s_ours, s_theirs = ours.init(params), theirs.init(params)  # eager: one compile less
        for step in range(6):
            g = jax.tree.map(lambda p, k=step: 1.5 * p - 0.1 * k, p_ours)
            u, s_ours = ours.update(g, s_ours, p_ours)
            with jax.numpy_dtype_promotion("standard"):  # optax is not strict-promotion clean
                v, s_theirs = theirs.update(g, s_theirs, p_theirs)
            p_ours, p_theirs = optax.apply_updates(p_ours, u), optax.apply_updates(p_theirs, v)
        np.testing.assert_allclose(p_ours["w"], p_theirs["w"], rtol=1e-6)


def test_bias_correction_look_ahead_uses_the_next_decay():
    """``look_ahead`` divides by 1 - prod(decays so far) * decay(t + 1)."""
    decays = [0.5, 0.6, 0.7, 0.8]
    schedule = lambda t: jnp.asarray(decays, jnp.float32)[t]  # noqa: E731
    tx = oc.bias_correction(schedule, step_offset=1, look_ahead=schedule)
    state = tx.init(jnp.zeros(1))
    product = 1.0
    for t in range(3):
        u, state = tx.update(jnp.ones(1), state)
        product *= decays[t]
        np.testing.assert_allclose(u, [1 / (1 - product * decays[t + 1])], rtol=1e-6)
    repeat = oc.bias_correction(0.5, step_offset=2, look_ahead=0.5)  # a number: 0.5**(t + 2)
    np.testing.assert_allclose(repeat.update(jnp.ones(1), repeat.init(None))[0], [1 / 0.875])


def test_asgd_rate_closed_form():
    tx = oc.scale_by_asgd_rate(0.2, lambd=0.5, alpha=0.75)
    state = tx.init(jnp.zeros(1))
    for t in range(4):
        u, state = tx.update(jnp.full(1, 2.0), state)
        np.testing.assert_allclose(u, [-2.0 * 0.2 / (1 + 0.5 * 0.2 * t) ** 0.75], rtol=1e-6)


def test_schedules_integer_leaves_and_one_counter():
    lr = optax.linear_schedule(0.1, 0.01, 10)
    params = {"w": jnp.ones(2), "n": jnp.array([1, 2], jnp.int32)}
    for tx in (
        oc.asgd(lr, lambd=lambda t: 1e-3, alpha=optax.constant_schedule(0.5), t0=1),
        oc.nadam(lr, b1=optax.constant_schedule(0.9), momentum_decay=4e-3),
        oc.radam(lr, b2=optax.constant_schedule(0.99), eps_before_debias=True, weight_decay=0.1),
    ):
        state = tx.init(params)
        counts = [p for p, _ in jax.tree_util.tree_leaves_with_path(state) if "count" in str(p)]
        assert len(counts) == 1, counts
        for _ in range(3):
            u, state = jax.jit(tx.update)(params, state, params)
        assert np.all(np.isfinite(u["w"])) and u["n"].dtype == jnp.int32 and not np.any(u["n"])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: oc.asgd(0.1, lambd=-1.0), r"^asgd: lambd must be in \[0, inf\)"),
        (lambda: oc.asgd(0.1, alpha=float("nan")), r"^asgd: alpha must be in \[0, inf\)"),
        (lambda: oc.asgd(0.1, t0=-1.0), r"^asgd: t0 must be in \[0, inf\)"),
        (lambda: oc.asgd(0.1, t0=2.5), r"^asgd: t0 must be a whole number"),
        (lambda: oc.asgd(0.1, t0=lambda t: 5.0), r"^asgd: t0 must be a number, not a schedule"),
        (lambda: oc.asgd(0.1, weight_decay=-0.1), r"^asgd: weight_decay must be"),
        (lambda: oc.nadam(0.1, momentum_decay=-1e-3), r"^nadam: momentum_decay must be in"),
        (lambda: oc.nadam(0.1, momentum_decay=1e-3, nesterov=False), "needs nesterov=True"),
        (lambda: oc.nadam(0.1, decoupled_weight_decay=1), "decoupled_weight_decay must be True"),
        (lambda: oc.radam(0.1, weight_decay=-1.0), r"^radam: weight_decay must be"),
        (lambda: oc.radam(0.1, eps_before_debias="yes"), "eps_before_debias must be True"),
        (lambda: oc.scale_by_asgd_rate(0.1, lambd=-1.0), r"^lambd must be in"),
        (lambda: oc.bias_correction(0.9, look_ahead=1.5), r"^look_ahead must be in \[0, 1\]"),
    ],
)
def test_arguments_are_checked_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()
