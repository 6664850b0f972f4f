"""Zoo part 3: Adafactor and SM3 (memory-efficient second moments) and their primitives
against optax 0.2.8.

200 float32 steps on a quadratic with a dict of a 2-D leaf big enough to be factored at
optax's default ``min_dim_size_to_factor=128``, a small 1-D leaf and a 3-D leaf, one ``jit``
(a ``lax.scan``) per case; parameters and optax's named state fields agree to ``rtol=1e-5``.
One closed-form or invariant check per new primitive.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

STEPS = 200
_KEYS = jax.random.split(jax.random.key(0), 3)
CENTER = {
    "kernel": jax.random.normal(_KEYS[0], (128, 130)),
    "bias": jnp.array([1.0, -2.0, 0.5, 0.0, 3.0]),
    "conv": jax.random.normal(_KEYS[1], (3, 4, 5)),
}
CURVATURE = jax.tree.map(lambda c: 0.5 + jnp.abs(jnp.sin(3.0 * c)), CENTER)
START = jax.tree.map(lambda c: 0.1 * jnp.cos(c) + 0.5, CENTER)


# the same problem with a small kernel, for the cases that factor small axes
SMALL = {**START, "kernel": START["kernel"][:6, :7]}


def _loss(params):
    """A quadratic around CENTER (cut to each leaf's shape) for any subset of its leaves."""

    def term(name):
        w = params[name]
        cut = tuple(slice(0, n) for n in w.shape)
        return jnp.sum(0.5 * CURVATURE[name][cut] * (w - CENTER[name][cut]) ** 2)

    return sum(term(name) for name in sorted(params))


def _run(tx, params=START, steps=STEPS):
    """Every step's parameters and the final state, one jit for the whole run."""

    @jax.jit
    def run(params):
        def step(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(_loss)(p), s, p)
            p = optax.apply_updates(p, u)
            return (p, s), p

        with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-clean
            (_, state), trajectory = jax.lax.scan(step, (params, tx.init(params)), None, steps)
        return trajectory, state

    return run(params)


def _max_rel(a, b):
    """The largest difference relative to the leaf's scale (its largest entry)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def _assert_close(a, b, rtol=1e-5, atol=1e-6):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), a, b)


def _linear(step):
    return 0.01 + 1e-5 * step


ADAFACTOR = {
    "defaults": dict(learning_rate=0.01),
    # no learning rate: steps of the size of the weights, which overshoot and grow (unstable,
    # so one-ulp differences between two XLA fusions double every few steps): 6 steps
    "no_learning_rate": dict(min_dim_size_to_factor=4),
    "momentum_decay_schedule": dict(
        learning_rate=_linear,
        min_dim_size_to_factor=4,
        decay_rate=0.7,
        momentum=0.9,
        weight_decay_rate=1e-3,
        weight_decay_mask={"kernel": True, "bias": False, "conv": True},
        eps=1e-20,
    ),
    "unclipped_unscaled": dict(
        learning_rate=0.02,
        multiply_by_parameter_scale=False,
        clipping_threshold=None,
        min_dim_size_to_factor=2,
    ),
    "not_factored": dict(learning_rate=0.01, factored=False, clipping_threshold=0.5),
}


@pytest.mark.parametrize("case", sorted(ADAFACTOR))
def test_adafactor_is_optax(case):
    kwargs = ADAFACTOR[case]
    steps = 6 if kwargs.get("learning_rate") is None else STEPS
    params = START if case == "defaults" else SMALL  # defaults: the kernel is factored at 128
    (ours, s_ours), (theirs, s_theirs) = (
        _run(oc.adafactor(**kwargs), params, steps),
        _run(optax.adafactor(**kwargs), params, steps),
    )
    _assert_close(ours, theirs)
    fields = ("v_row", "v_col", "v") + (("ema",) if kwargs.get("momentum") else ())
    for field in fields:
        mine, reference = optax.tree.get(s_ours, field), optax.tree.get(s_theirs, field)
        _assert_close(mine, reference)
        jax.tree.map(lambda x, y: np.testing.assert_equal(x.dtype, y.dtype), mine, reference)
    assert int(optax.tree.get(s_ours, "count")) == int(s_theirs[0].count) == steps
    print(case, "max rel diff", max(map(_max_rel, jax.tree.leaves(ours), jax.tree.leaves(theirs))))


def test_sm3_is_optax(momentum=0.9):
    (ours, s_ours), (theirs, s_theirs) = (
        _run(oc.sm3(0.05, momentum), SMALL),
        _run(optax.sm3(0.05, momentum), SMALL),
    )
    _assert_close(ours, theirs)
    for field in ("mu", "nu"):
        _assert_close(optax.tree.get(s_ours, field), optax.tree.get(s_theirs, field))
    print("sm3 max rel diff", max(map(_max_rel, jax.tree.leaves(ours), jax.tree.leaves(theirs))))


PRIMITIVES = {
    "scale_by_factored_rms": (dict(min_dim_size_to_factor=3, decay_rate=0.6), ("v_row", "v")),
    "scale_by_sm3": (dict(b1=0.5, b2=0.99, eps=1e-6), ("mu", "nu")),
    "scale_by_param_block_rms": (dict(min_scale=1e-2), ()),
    "scale_by_param_block_norm": (dict(), ()),
    "clip_by_block_rms": (dict(threshold=0.3), ()),
}


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitives_are_optax(name):
    kwargs, fields = PRIMITIVES[name]
    small = {"bias": START["bias"], "conv": START["conv"]}

    def chained(module):
        return optax.chain(getattr(module, name)(**kwargs), optax.scale(-1e-2))

    (ours, s_ours), (theirs, s_theirs) = (
        _run(chained(oc), small, 50),
        _run(chained(optax), small, 50),
    )
    _assert_close(ours, theirs)
    for field in fields:
        _assert_close(optax.tree.get(s_ours, field), optax.tree.get(s_theirs, field))


def test_adafactor_state_fields_and_complex_leaves():
    params = {"z": jnp.array([1.0 + 2.0j, -0.5j, 0.25]), "w": jnp.ones((3, 4))}
    kwargs = dict(learning_rate=0.1, min_dim_size_to_factor=3, momentum=0.5)
    ours, theirs = oc.adafactor(**kwargs), optax.adafactor(**kwargs)
    s_ours = ours.init(params)
    with jax.numpy_dtype_promotion("standard"):
        s_theirs = theirs.init(params)
    mine, reference = jax.jit(ours.update), jax.jit(theirs.update)
    for k in range(3):
        grads = jax.tree.map(
            lambda p, k=k: p * (1.5 - 0.5j if jnp.iscomplexobj(p) else 1.5) - 0.1 * k, params
        )
        u, s_ours = mine(grads, s_ours, params)
        with jax.numpy_dtype_promotion("standard"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optax's float32 momentum of a complex leaf
            v, s_theirs = reference(grads, s_theirs, params)
        # optax's real momentum buffer drops the imaginary part; optchain's is complex: compare
        # the factored (real) leaf's steps, and the complex leaf's first step
        _assert_close(u["w"], v["w"])
        if k == 0:
            _assert_close(u["z"], v["z"])
    assert optax.tree.get(s_ours, "v")["z"].dtype == jnp.complex64


def test_sm3_rejects_complex_and_zeroes_integer_leaves():
    with pytest.raises(ValueError, match=r"\['z'\].*complex64"):
        oc.sm3(0.1).init({"z": jnp.ones(2, jnp.complex64)})
    params = {"w": jnp.ones((2, 3)), "n": jnp.array([1, 2]), "s": 0.5}
    for tx in (oc.sm3(0.1), oc.adafactor(0.1, min_dim_size_to_factor=2)):
        u, _ = jax.jit(tx.update)(params, tx.init(params), params)
        assert u["n"].dtype == jnp.int32 and not np.any(np.asarray(u["n"]))
        assert float(u["s"]) != 0.0


def test_factored_rms_closed_form_is_rank_one():
    """After one step (beta_0 = 0) the factored estimate is R C / mean(R) with R, C the row and
    column means of g**2: the update is g / sqrt of that rank-one matrix."""
    g = jnp.array([[1.0, 2.0, -1.0], [3.0, 4.0, 0.5]])
    tx = oc.scale_by_factored_rms(min_dim_size_to_factor=2, epsilon=0.0)
    u, state = tx.update(g, tx.init(g))
    rows, cols = jnp.mean(g**2, axis=1), jnp.mean(g**2, axis=0)
    np.testing.assert_allclose(state.v_row, rows, rtol=1e-6)
    np.testing.assert_allclose(state.v_col, cols, rtol=1e-6)
    estimate = jnp.outer(rows, cols) / jnp.mean(rows)
    np.testing.assert_allclose(u, g / jnp.sqrt(estimate), rtol=1e-6)
    assert state.v.shape == (1,)  # a placeholder: the full moment is not kept


def test_sm3_accumulator_bounds_the_full_sum():
    """SM3's estimate nu_i = min over covers of accumulated maxima is at least the full
    AdaGrad sum of g_i**2 (the paper's Claim 2), and equals it for a 1-D leaf."""
    grads = jax.random.normal(jax.random.key(3), (6, 4, 5))
    tx = oc.scale_by_sm3(b1=0.0, eps=0.0)
    matrix = jnp.zeros((4, 5))
    state = tx.init({"m": matrix, "v": jnp.zeros(5)})
    total = jnp.zeros((4, 5))
    update = jax.jit(tx.update)
    for g in grads:
        u, state = update({"m": g, "v": g[0]}, state)
        total = total + g**2
        nu = jnp.minimum(state.mu["m"][0][:, None], state.mu["m"][1][None, :])
        assert np.all(np.asarray(nu) >= np.asarray(total) * (1 - 1e-6))
    np.testing.assert_allclose(state.mu["v"][0], jnp.sum(grads[:, 0] ** 2, axis=0), rtol=1e-5)


def test_block_scales_closed_form():
    w = {"a": jnp.array([3.0, -4.0]), "tiny": jnp.zeros(3)}
    ones = jax.tree.map(jnp.ones_like, w)
    rms = oc.scale_by_param_block_rms(min_scale=0.01)
    norm = oc.scale_by_param_block_norm(min_scale=0.01)
    u, _ = rms.update(ones, rms.init(w), w)
    np.testing.assert_allclose(u["a"], np.sqrt(12.5), rtol=1e-6)
    np.testing.assert_allclose(u["tiny"], 0.01)  # the floor for weights at zero
    u, _ = norm.update(ones, norm.init(w), w)
    np.testing.assert_allclose(u["a"], 5.0, rtol=1e-6)
    clip = oc.clip_by_block_rms(1.0)
    out, _ = clip.update({"a": jnp.array([3.0, -4.0]), "b": jnp.array([0.5])}, clip.init(None))
    np.testing.assert_allclose(jnp.sqrt(jnp.mean(out["a"] ** 2)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out["b"], 0.5)  # under the threshold: unchanged


def test_named_arguments_are_checked_by_their_names():
    with pytest.raises(ValueError, match="adafactor: decay_rate"):
        oc.adafactor(decay_rate=-1.0)
    with pytest.raises(ValueError, match="adafactor: min_dim_size_to_factor"):
        oc.adafactor(min_dim_size_to_factor=2.5)
    with pytest.raises(ValueError, match="sm3: momentum"):
        oc.sm3(0.1, momentum=lambda t: 0.9)
    assert jax.tree.leaves(oc.sm3(0.1, momentum=None).init(jnp.ones(2)))
