"""torch.optim.Adafactor (torch 2.13) as ``optchain.adafactor_torch``, step for step, and its
primitives ``scale_by_factored_rms_torch`` and ``scale_by_relative_step``.

The fixture (tools/make_fixtures_torch_adafactor.py) holds 200 torch steps per case on
tools/make_fixtures.py's problem (``w`` (3, 4), factored; ``b`` (5,); a (2, 3, 4) leaf in
``batched``): torch's parameters before each step and the gradient it was given. Each case
replays the gradients from torch's parameters in one jitted ``lax.scan`` and compares the
parameters after every step (``rtol=1e-5``). ``optchain.adafactor`` stays optax's.
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

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "torch_adafactor_trajectories.npz")
CASES = sorted({key.split("/")[0] for key in FIXTURE.files if "/" in key})


def _config(case):
    config = json.loads(str(FIXTURE[f"{case}/config"]))
    assert config.pop("optimizer") == "Adafactor"
    return config.pop("shapes"), config


def from_torch(lr=None, eps=None, **kwargs):
    """``torch.optim.Adafactor``'s keywords as ``adafactor_torch``'s (the README's row):
    ``lr`` is ``learning_rate``, the pair ``eps`` is ``eps1`` and ``eps2``; the rest keep
    their names. Only the keywords given are passed on, so the defaults are optchain's."""
    if lr is not None:
        kwargs["learning_rate"] = lr
    if eps is not None:
        kwargs["eps1"], kwargs["eps2"] = eps
    return oc.adafactor_torch(**kwargs)


def _split(rows, shapes):
    """The columns of ``rows`` (steps x flat parameters) as a dict of (steps, *shape) arrays."""
    out, offset = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        out[name] = jnp.asarray(rows[:, offset : offset + size].reshape(len(rows), *shape))
        offset += size
    return out


def _replay(tx, params, grads):
    """The parameters after each step from torch's parameters and gradients (one jit)."""

    @jax.jit
    def run(params, grads):
        def step(state, pair):
            w, g = pair
            u, state = tx.update(g, state, w)
            return state, optax.apply_updates(w, u)

        first = jax.tree.map(lambda x: x[0], params)
        return jax.lax.scan(step, tx.init(first), (params, grads))[1]

    return run(params, grads)


@pytest.mark.parametrize("case", CASES)
def test_reproduces_torch_adafactor_step_for_step(case):
    shapes, config = _config(case)
    trajectory, grads = FIXTURE[f"{case}/params"], FIXTURE[f"{case}/grads"]
    new = _replay(from_torch(**config), _split(trajectory[:-1], shapes), _split(grads, shapes))
    mine = np.concatenate([np.asarray(new[k]).reshape(len(grads), -1) for k in shapes], axis=1)
    reference = trajectory[1:]
    np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-6, err_msg=case)
    scale = np.max(np.abs(reference), axis=1, keepdims=True)
    print(case, len(grads), "steps, max diff / max |w|:", np.max(np.abs(mine - reference) / scale))
    assert np.abs(reference[-1] - reference[0]).max() > 0.5  # the run moved


def test_the_fixture_covers_the_cases_and_torch_defaults_are_the_defaults():
    assert {"defaults", "relative_step", "weight_decay", "maximize", "batched"} <= set(CASES)
    assert _config("defaults")[1] == {}  # torch's defaults against adafactor_torch()'s
    torch = json.loads(str(FIXTURE["torch_defaults"]))
    ours = {p.name: p.default for p in inspect.signature(oc.adafactor_torch).parameters.values()}
    assert ours["learning_rate"] == torch["lr"]
    assert [ours["eps1"], ours["eps2"]] == torch["eps"]
    for name in ("beta2_decay", "d", "weight_decay", "maximize"):
        assert ours[name] == torch[name], name


def test_adafactor_keeps_optax_signature_and_values():
    ours = inspect.signature(oc.adafactor).parameters.values()
    theirs = inspect.signature(optax.adafactor).parameters.values()
    assert [(p.name, p.default) for p in ours if p.name != "finite_guard"] == [
        (p.name, p.default) for p in theirs
    ]
    params = {"w": jnp.linspace(-1.0, 2.0, 12).reshape(3, 4), "b": jnp.linspace(0.5, 1.5, 5)}
    grads = jax.tree.map(lambda w: jnp.sin(3.0 * w), params)
    tx, ref = oc.adafactor(0.01, min_dim_size_to_factor=2), optax.adafactor(0.01, 2)
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-clean
        expected, ref_state = jax.jit(ref.update)(grads, ref.init(params), params)
    got, state = jax.jit(tx.update)(grads, tx.init(params), params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), got, expected)
    for field in ("v_row", "v_col", "v"):  # optax's fields, in both optchain variants
        mine, reference = optax.tree.get(state, field), optax.tree.get(ref_state, field)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), mine, reference)
        torch_like = optax.tree.get(oc.adafactor_torch().init(params), field)
        assert jax.tree.map(jnp.shape, torch_like) == jax.tree.map(jnp.shape, mine)
    # the torch variant differs once 1/sqrt(t) < learning_rate (and in its weight decay)
    steps, u = [], None
    for tx in (oc.adafactor(0.5, min_dim_size_to_factor=2), oc.adafactor_torch(0.5)):
        update, state = jax.jit(tx.update), tx.init(params)
        for _ in range(5):
            u, state = update(grads, state, params)
        steps.append(None if u is None else u["b"])
    np.testing.assert_allclose(steps[1], steps[0] / (0.5 * np.sqrt(5)), rtol=1e-5)


BAD = [
    ("learning_rate", -0.1, "learning_rate must be in [0, inf)"),
    ("beta2_decay", 0.5, "beta2_decay must be in (-inf, 0]"),
    ("beta2_decay", lambda t: -0.8, "beta2_decay must be a number, not a schedule"),
    ("eps1", -1e-3, "eps1 must be in [0, inf)"),
    ("eps2", -1e-3, "eps2 must be in [0, inf)"),
    ("eps2", lambda t: 1e-3, "eps2 must be a number, not a schedule"),
    ("d", 0.0, "d must be in (0, inf)"),
    ("weight_decay", float("nan"), "weight_decay must be in [0, inf)"),
    ("maximize", 1, "maximize must be True or False"),
]


@pytest.mark.parametrize(
    "name,value,message",
    BAD,
    ids=[f"{n}={v!r}" if not callable(v) else f"{n}=schedule" for n, v, _ in BAD],
)
def test_bad_arguments_are_rejected_by_name(name, value, message):
    with pytest.raises(ValueError, match=f"^adafactor_torch: {_escape(message)}"):
        oc.adafactor_torch(**{name: value})


def _escape(text):
    return "".join("\\" + c if c in "[]()" else c for c in text)


def test_primitive_arguments_are_rejected_by_name():
    with pytest.raises(ValueError, match="beta2_decay"):
        oc.scale_by_factored_rms_torch(beta2_decay=0.1)
    with pytest.raises(ValueError, match="eps1"):
        oc.scale_by_factored_rms_torch(eps1=-1.0)
    with pytest.raises(ValueError, match="max_step_size"):
        oc.scale_by_relative_step(-0.1)


def test_relative_step_is_the_smaller_of_its_cap_and_the_inverse_root():
    tx = oc.scale_by_relative_step(lambda t: 0.6 - 0.01 * t)
    update = jax.jit(tx.update)
    state, rates = tx.init(jnp.ones(())), []
    for _ in range(12):
        u, state = update(jnp.ones(()), state)
        rates.append(float(u))
    t = np.arange(1, 13)
    np.testing.assert_allclose(rates, np.minimum(0.6 - 0.01 * (t - 1), 1 / np.sqrt(t)), rtol=1e-6)


def test_factored_torch_is_optax_factored_rms_where_their_epsilons_vanish():
    """beta2_decay = -c is optax's decay_rate = c; without epsilons both estimate the same
    rank-one second moment (for a matrix with fewer rows than columns, where optax's two
    largest axes are torch's last two)."""
    grads = {  # 20 steps of gradients whose size and sign vary
        "w": 2 * jnp.sin(0.37 * jnp.arange(240.0)).reshape(20, 3, 4),
        "b": jnp.cos(0.91 * jnp.arange(100.0)).reshape(20, 5),
    }
    mine = oc.scale_by_factored_rms_torch(-0.6, eps1=0.0)
    theirs = oc.scale_by_factored_rms(decay_rate=0.6, min_dim_size_to_factor=0, epsilon=0.0)

    def run(tx):
        def step(state, g):
            u, state = tx.update(g, state)
            return state, u

        first = jax.tree.map(lambda g: g[0], grads)
        return jax.jit(lambda gs: jax.lax.scan(step, tx.init(first), gs))(grads)

    (s_mine, out_mine), (s_theirs, out_theirs) = run(mine), run(theirs)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), out_mine, out_theirs)
    for field in ("v_row", "v_col", "v"):
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5),
            getattr(s_mine, field),
            getattr(s_theirs, field),
        )


def test_factored_torch_clamps_instead_of_dividing_by_zero_and_factors_the_last_two_axes():
    tx = oc.scale_by_factored_rms_torch()
    params = {"k": jnp.zeros((2, 3, 4)), "z": jnp.zeros(3), "c": jnp.ones(2, jnp.complex64)}
    state = tx.init(params)
    assert state.v_row["k"].shape == (2, 3) and state.v_col["k"].shape == (2, 4)
    assert state.v["c"].dtype == jnp.float32  # the real second moment of a complex leaf
    grads = {**params, "c": jnp.array([3 + 4j, -1j], jnp.complex64)}
    u, state = jax.jit(tx.update)(grads, state)
    np.testing.assert_array_equal(u["k"], 0.0)  # a zero gradient: V = 0 is clamped, no NaN
    np.testing.assert_array_equal(u["z"], 0.0)
    np.testing.assert_allclose(u["c"], [0.6 + 0.8j, -1j], rtol=1e-6)  # g / |g| on step 1
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(state))
    # eps1=None is each leaf's machine epsilon: |g| = 1e-3 is clamped in bfloat16 (eps
    # 2**-7), not in float32; updates and statistics in the leaf's dtype
    small = {"bf16": jnp.full(3, 1e-3, jnp.bfloat16), "f32": jnp.full(3, 1e-3, jnp.float32)}
    u, state = jax.jit(tx.update)(small, tx.init(small))
    assert u["bf16"].dtype == state.v["bf16"].dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(u["bf16"], np.float32), 1e-3 * 2**7, rtol=1e-2)
    np.testing.assert_allclose(u["f32"], 1.0, rtol=1e-6)
