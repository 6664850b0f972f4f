"""skip_nonfinite: fuzzing with NaN/Inf and overflow, bit-exact equivalence with the cleaned run;
the consecutive-skip limit and check_skip_limit are in test_skip_limit."""

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # tests/, run alone too
from named_optimizers import NAMED  # noqa: E402

STEPS = 200
PLAIN_STEPS = 10
SHAPES = {"w": (4, 3), "b": (3,)}


def _loss(p, batch):
    return (
        0.5 * jnp.sum((p["w"] - 1.0) ** 2 * 3.0)
        + jnp.sum((p["b"] + 0.5) ** 2)
        + jnp.sum(p["w"] * batch["w"])
        + jnp.sum(p["b"] * batch["b"])
    )


def _data(seed):
    rng = np.random.default_rng(seed)
    batches = {k: rng.normal(size=(STEPS, *s)).astype(np.float32) * 0.3 for k, s in SHAPES.items()}
    bad = np.zeros(STEPS, bool)
    bad[rng.choice(STEPS, STEPS // 4, replace=False)] = True  # 50 bad steps
    poison = {}
    for k, s in SHAPES.items():
        mask = np.zeros((STEPS, *s), bool)
        values = np.zeros((STEPS, *s), np.float32)
        for t in np.flatnonzero(bad):
            if rng.random() < 0.6:  # this leaf is hit at one random position
                idx = tuple(rng.integers(0, n) for n in s)
                mask[(t, *idx)] = True
                values[(t, *idx)] = rng.choice([np.nan, np.inf, -np.inf])
        poison[k] = (mask, values)
    # make sure every bad step really is bad somewhere
    for t in np.flatnonzero(bad):
        if not any(poison[k][0][t].any() for k in SHAPES):
            poison["b"][0][t, 0] = True
            poison["b"][1][t, 0] = np.nan
    return batches, bad, poison


_STEPS_BY_TX = {}


def _step_fn(tx):
    """One jitted step per transformation, compiled once and shared by its runs."""
    if id(tx) not in _STEPS_BY_TX:

        @jax.jit
        def step(p, s, batch, masks, values):
            g = jax.grad(_loss)(p, batch)
            g = jax.tree.map(jnp.where, masks, values, g)
            u, s = tx.update(g, s, p)
            p = optax.apply_updates(p, u)
            return p, s, oc.all_finite(p) & oc.all_finite(s)

        _STEPS_BY_TX[id(tx)] = (tx, step)  # tx kept alive so its id is not reused
    return _STEPS_BY_TX[id(tx)][1]


def _run(tx, batches, poison=None):
    """One jitted step function driven from Python, so every run executes the same code."""
    params = {"w": jnp.zeros(SHAPES["w"]), "b": jnp.zeros(SHAPES["b"])}
    step = _step_fn(tx)

    n = len(next(iter(batches.values())))
    if poison is None:
        poison = {
            k: (np.zeros((n, *s), bool), np.zeros((n, *s), np.float32)) for k, s in SHAPES.items()
        }
    state = tx.init(params)
    oks = []
    for t in range(n):
        batch = {k: v[t] for k, v in batches.items()}
        masks = {k: m[t] for k, (m, _) in poison.items()}
        values = {k: v[t] for k, (_, v) in poison.items()}
        params, state, ok = step(params, state, batch, masks, values)
        oks.append(ok)
    return params, state, np.asarray(jnp.stack(oks))


def _assert_equal(a, b):
    if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):  # typed PRNG keys (add_noise, as optax)
        a, b = jax.random.key_data(a), jax.random.key_data(b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_fuzz_nonfinite_steps_are_skipped_exactly(name):
    batches, bad, poison = _data(seed=sorted(NAMED).index(name))
    guarded = oc.skip_nonfinite(NAMED[name](), max_consecutive_skips=None)
    p_fuzz, s_fuzz, ok = _run(guarded, batches, poison)
    assert ok.all(), f"non-finite params or state at step {np.argmin(ok)}"
    assert int(s_fuzz.total_skips) == int(bad.sum()) == STEPS // 4

    # The same program on the data with the bad steps removed (same compiled code, so
    # bit-exact equality is meaningful; a different program may fuse and round differently).
    clean = {k: v[~bad] for k, v in batches.items()}
    no_poison = {
        k: (np.zeros_like(m[~bad]), np.zeros_like(v[~bad])) for k, (m, v) in poison.items()
    }
    p_clean, s_clean, _ = _run(guarded, clean, no_poison)
    assert int(s_clean.total_skips) == 0
    jax.tree.map(np.testing.assert_array_equal, p_fuzz, p_clean)
    jax.tree.map(_assert_equal, s_fuzz.inner_state, s_clean.inner_state)
    # and the guard leaves the math alone: to float32 rounding, the unguarded optimizer on the
    # first clean steps (a short horizon: L-BFGS without a line search and Muon's orthogonalized
    # steps amplify a one-ulp difference between the two programs to 2e-3 within 20 steps)
    head = {k: v[:PLAIN_STEPS] for k, v in clean.items()}
    p_guarded, _, _ = _run(guarded, head)
    p_plain, _, _ = _run(NAMED[name](), head)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), p_guarded, p_plain
    )


def test_overflowing_updates_are_skipped_too():
    tx = oc.skip_nonfinite(oc.scale(1e30), max_consecutive_skips=None)
    u, state = tx.update(jnp.array([1e10], jnp.float32), tx.init(jnp.zeros(1)))
    np.testing.assert_array_equal(u, [0.0])
    assert int(state.total_skips) == 1


def test_integer_leaves_get_zero_updates_on_a_skipped_step():
    tx = oc.skip_nonfinite(oc.sgd(0.1))
    g = {"f": jnp.array([jnp.nan]), "i": jnp.array([3], jnp.int32)}
    u, _ = tx.update(g, tx.init(g), g)
    np.testing.assert_array_equal(u["f"], [0.0])
    np.testing.assert_array_equal(u["i"], [0])
    assert u["i"].dtype == jnp.int32


@pytest.mark.parametrize("limit", [-1, 2**31 - 1, True, 1.0])
def test_bad_limit(limit):
    with pytest.raises(ValueError, match="max_consecutive_skips"):
        oc.skip_nonfinite(oc.sgd(0.1), max_consecutive_skips=limit)


def test_bad_check_state():
    with pytest.raises(ValueError, match="check_state"):
        oc.skip_nonfinite(oc.sgd(0.1), check_state="yes")


# ---- overflow in the state: a finite but huge gradient -------------------------------------

# the named optimizers whose state a 1e20 gradient leaf overflows (g * g = 1e40 > float32 max)
OVERFLOWING = [
    "adadelta",
    "adagrad",
    "adam",
    "adamw",
    "amsgrad",
    "ftml",
    "lamb",
    "nadam",
    "rmsprop",
]


def _huge(n, steps, value=1e20):
    """No NaN/Inf anywhere: ``value`` (finite in float32) at w[1, 2] on ``steps``."""
    poison = {
        k: (np.zeros((n, *s), bool), np.zeros((n, *s), np.float32)) for k, s in SHAPES.items()
    }
    for t in steps:
        poison["w"][0][t, 1, 2] = True
        poison["w"][1][t, 1, 2] = value if t % 2 else -value
    return poison


@pytest.mark.parametrize("name", OVERFLOWING)
def test_a_huge_finite_gradient_is_skipped_exactly(name):
    n, huge = 60, [3, 20, 41]
    batches = {k: v[:n] for k, v in _data(seed=7)[0].items()}
    poison = _huge(n, huge)

    # without the guard the second moment overflows: the run ends non-finite
    _, _, plain_ok = _run(NAMED[name](), batches, poison)
    assert plain_ok[:3].all() and not plain_ok[-1]

    guarded = oc.skip_nonfinite(NAMED[name](), max_consecutive_skips=None)
    p_fuzz, s_fuzz, ok = _run(guarded, batches, poison)
    assert ok.all(), f"non-finite params or state at step {np.argmin(ok)}"
    assert int(s_fuzz.total_skips) == len(huge)
    assert int(s_fuzz.bad_tree) in (2, 3)  # the update (ftml) or the state overflowed

    keep = np.ones(n, bool)
    keep[huge] = False
    clean = {k: v[keep] for k, v in batches.items()}
    no_poison = {k: (m[keep] & False, v[keep] * 0) for k, (m, v) in poison.items()}
    p_clean, s_clean, _ = _run(guarded, clean, no_poison)
    assert int(s_clean.total_skips) == 0
    jax.tree.map(np.testing.assert_array_equal, p_fuzz, p_clean)
    jax.tree.map(_assert_equal, s_fuzz.inner_state, s_clean.inner_state)


def test_adam_overflow_is_skipped_and_named():
    params = {"b": jnp.zeros(3), "w": jnp.zeros((4, 3))}
    tx = oc.skip_nonfinite(oc.adam(0.1), max_consecutive_skips=0)
    state = tx.init(params)
    g = {"b": jnp.ones(3), "w": jnp.ones((4, 3)).at[1, 2].set(1e20)}
    u, new = tx.update(g, state, params)
    jax.tree.map(lambda x: np.testing.assert_array_equal(x, np.zeros_like(x)), u)
    jax.tree.map(np.testing.assert_array_equal, new.inner_state, state.inner_state)
    assert int(new.total_skips) == 1 and not bool(new.last_step_finite)
    assert int(new.bad_tree) == 3
    paths = [
        jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(new.inner_state)
    ]
    assert paths[int(new.bad_leaf)].endswith(".nu['w']")
    with pytest.raises(
        FloatingPointError,
        match=r"inner state would have become non-finite at "
        r"opt_state\.inner_state\..*\.nu\['w'\]",
    ):
        oc.check_skip_limit(new, params)

    # the old behaviour, on request: the step is applied and nu holds inf
    tx = oc.skip_nonfinite(oc.adam(0.1), check_state=False)
    u, new = tx.update(g, tx.init(params), params)
    assert int(new.total_skips) == 0 and bool(oc.all_finite(u))
    assert np.isinf(np.asarray(optax.tree.get(new, "nu")["w"][1, 2]))


@pytest.mark.parametrize(
    "plateau",
    [
        lambda: oc.reduce_on_plateau_torch(patience=1, factor=0.5),
        lambda: oc.reduce_on_plateau(patience=1, factor=0.5),
    ],
    ids=["torch", "optax"],
)
@pytest.mark.usefixtures("standard_promotion")
def test_a_state_leaf_that_starts_infinite_does_not_cause_skipping(plateau):
    tx = oc.skip_nonfinite(optax.chain(oc.sgd(0.1), plateau()), max_consecutive_skips=0)
    w = jnp.ones(2)
    state = tx.init(w)
    assert not bool(oc.all_finite(state.inner_state))  # best = +inf
    update = jax.jit(tx.update)
    for loss in (3.0, 2.0, 2.0, 2.0, 2.0):
        _, state = update(w, state, w, value=jnp.float32(loss))
        assert bool(state.last_step_finite)
        oc.check_skip_limit(state, w)
    assert int(state.total_skips) == 0
    assert bool(oc.all_finite(state.inner_state))  # best is 2 now
    assert 0.0 < float(optax.tree.get(state, "scale")) < 1.0  # the plateau rule did act


def test_the_state_rule_is_element_wise():
    """One element infinite from the start, another that overflows: only the overflow skips."""

    def init(params):
        del params
        return jnp.array([jnp.inf, 1.0])

    def update(updates, state, params=None):
        del params
        return updates, state * updates

    tx = oc.skip_nonfinite(optax.GradientTransformation(init, update))
    state = tx.init(None)
    _, state = tx.update(jnp.array([1.0, 2.0]), state)
    np.testing.assert_array_equal(state.inner_state, [np.inf, 2.0])
    _, state = tx.update(jnp.array([1.0, 3e38]), state)  # 2 * 3e38 overflows float32
    assert int(state.total_skips) == 1 and int(state.bad_tree) == 3 and int(state.bad_leaf) == 0
    np.testing.assert_array_equal(state.inner_state, [np.inf, 2.0])


@pytest.mark.parametrize("name", sorted(NAMED))
def test_finite_guard_keeps_every_named_optimizer_finite_under_a_1e20_gradient(name):
    """``finite_guard=True`` is ``skip_nonfinite`` around the optimizer: after a finite but huge
    gradient the state stays finite and equals the state of the run without that step."""
    guarded, plain = NAMED[name](finite_guard=True), NAMED[name]()
    params = {"w": jnp.array([0.5, -1.0, 2.0])}
    grads = [{"w": jnp.array([0.1, -0.2, 0.3])}, {"w": jnp.array([1e20, 0.0, -1.0])}]
    grads.append({"w": jnp.array([-0.3, 0.2, 0.1])})
    state, reference = guarded.init(params), plain.init(params)
    p, q = params, params
    for k, g in enumerate(grads):
        u, state = guarded.update(g, state, p)
        p = optax.apply_updates(p, u)
        if k != 1 or not _would_skip(plain, g, reference, q):
            v, reference = plain.update(g, reference, q)
            q = optax.apply_updates(q, v)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(state.inner_state))
    for a, b in zip(jax.tree.leaves(state.inner_state), jax.tree.leaves(reference)):
        np.testing.assert_array_equal(_key_free(a), _key_free(b))
    np.testing.assert_array_equal(p["w"], q["w"])


def _would_skip(tx, grads, state, params):
    updates, new_state = tx.update(grads, state, params)
    leaves = jax.tree.leaves((updates, new_state))
    floats = [x for x in leaves if jnp.issubdtype(x.dtype, jnp.inexact)]
    return not all(bool(jnp.all(jnp.isfinite(x))) for x in floats)


def _key_free(leaf):
    return jax.random.key_data(leaf) if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key) else leaf
