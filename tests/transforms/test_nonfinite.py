"""skip_nonfinite: fuzzing with NaN/Inf, bit-exact equivalence with the cleaned run, limits."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from named_optimizers import NAMED

import optchain as oc

STEPS = 1000
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
    bad = rng.random(STEPS) < 0.07
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


def _run(tx, batches, poison=None):
    """One jitted step function driven from Python, so every run executes the same code."""
    params = {"w": jnp.zeros(SHAPES["w"]), "b": jnp.zeros(SHAPES["b"])}

    @jax.jit
    def step(p, s, batch, masks, values):
        g = jax.grad(_loss)(p, batch)
        g = jax.tree.map(jnp.where, masks, values, g)
        u, s = tx.update(g, s, p)
        p = optax.apply_updates(p, u)
        return p, s, oc.all_finite(p) & oc.all_finite(s)

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
    assert int(s_fuzz.total_skips) == int(bad.sum()) > 40

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
    # and, to float32 rounding, the unguarded optimizer on the clean data
    p_plain, _, _ = _run(NAMED[name](), clean)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), p_fuzz, p_plain
    )


def test_counters_reset_and_the_limit_raises():
    tx = oc.skip_nonfinite(oc.sgd(0.1), max_consecutive_skips=2)
    w = jnp.ones(2)
    state = tx.init(w)
    update = jax.jit(tx.update)
    nan, good = jnp.array([jnp.nan, 0.0]), jnp.ones(2)
    for g in (nan, nan, good, nan, nan, good):  # never more than 2 in a row
        _, state = update(g, state, w)
    assert int(state.total_skips) == 4 and int(state.consecutive_skips) == 0
    _, state = update(nan, state, w)
    _, state = update(jnp.array([jnp.inf, 1.0]), state, w)
    with pytest.raises(Exception, match="3 consecutive steps had NaN or Inf"):
        jax.block_until_ready(update(nan, state, w))


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


def test_bad_limit():
    with pytest.raises(ValueError, match="max_consecutive_skips"):
        oc.skip_nonfinite(oc.sgd(0.1), max_consecutive_skips=-1)
