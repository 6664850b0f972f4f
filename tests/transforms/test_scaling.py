"""Scaling transforms: closed forms, schedules at step 0 (scale, scale_by_schedule,
scale_by_learning_rate, sqrt); and the tables that run many transforms: optax twins, complex
leaves, integer, boolean and Python-scalar leaves, one counter in a counted chain."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _scaling_tables import _DECAY, _SCHEDULE, _TWIN_CASES, GRADS, OPTAX_TWINS, _run, _three_steps

import optchain as oc


def test_learning_rate_schedule_first_update_sees_step_zero():
    tx = oc.scale_by_learning_rate(lambda t: (t + 1).astype(jnp.float32) * 0.5)
    outs, _ = _run(tx)
    for t, (g, out) in enumerate(zip(GRADS, outs)):
        np.testing.assert_allclose(out, -(t + 1) * 0.5 * g)


def test_scale_multiplies():
    outs, _ = _run(oc.scale(-3.0))
    np.testing.assert_allclose(outs[1], -3.0 * GRADS[1])


def test_sqrt_with_eps_root():
    tx = oc.sqrt(eps_root=1.0)
    u, _ = tx.update(jnp.array([3.0, 8.0]), tx.init(None))
    np.testing.assert_allclose(u, [2.0, 3.0])


def test_constant_scales_keep_no_state_and_schedules_count():
    assert oc.scale(2.0).init(jnp.zeros(1)) == optax.EmptyState()
    assert oc.scale_by_learning_rate(0.1).init(jnp.zeros(1)) == optax.EmptyState()
    state = oc.scale_by_learning_rate(_SCHEDULE).init(jnp.zeros(1))
    assert isinstance(state, oc.ScaleByScheduleState) and int(state.count) == 0
    assert isinstance(oc.scale(_SCHEDULE).init(jnp.zeros(1)), oc.ScaleByScheduleState)
    u, _ = oc.scale_by_learning_rate(None).update(jnp.ones(1), optax.EmptyState())
    np.testing.assert_array_equal(u, [1.0])
    with pytest.raises(ValueError, match="learning_rate"):
        oc.scale_by_learning_rate(-0.1)
    with pytest.raises(ValueError, match="step_size_fn"):
        oc.scale_by_schedule(0.1)
    assert set(oc.ScaleByRmsWithCountState._fields) == set(
        optax._src.transform.ScaleByRmsWithCountState._fields
    )
    assert oc.ScaleByRStdDevWithCountState._fields == (
        optax._src.transform.ScaleByRStdDevWithCountState._fields
    )


# --- optax's names, optax's values: complex64 (and float32) over three steps ---------------

_RNG = np.random.default_rng(42)


def _tree(dtype, scale=1.0):
    def draw(shape):
        x = _RNG.normal(size=shape) * scale
        if np.dtype(dtype).kind == "c":
            x = x + 1j * _RNG.normal(size=shape) * scale
        return jnp.asarray(x, dtype)

    return {"w": draw((3, 2)), "b": draw((2,))}


def _comparable(x):
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(x))
    return np.asarray(x)


@pytest.mark.parametrize("name, dtype", _TWIN_CASES)
def test_optax_names_give_optax_values(name, dtype):
    ours, theirs, fields, _ = OPTAX_TWINS[name]
    params = _tree(dtype)
    grads = [_tree(dtype, scale) for scale in (0.3, 3.0, 0.5)]
    mine, my_state = _three_steps(ours(), params, grads)
    with jax.numpy_dtype_promotion("standard"):
        ref, ref_state = _three_steps(theirs(), params, grads)
    for step, (a, b) in enumerate(zip(mine, ref, strict=True)):
        assert jax.tree.structure(a) == jax.tree.structure(b)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            assert x.dtype == y.dtype, step
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7, err_msg=f"step {step}")
    for field in fields:
        x, y = optax.tree.get(my_state, field), optax.tree.get(ref_state, field)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(
                _comparable(a), _comparable(b), rtol=1e-6, atol=1e-7, err_msg=field
            ),
            x,
            y,
        )
    if not fields:  # optax keeps no state here, and neither does optchain
        assert jax.tree.leaves(my_state) == []


# --- complex leaves without an optax twin: phase equivariance ------------------------------


def _phase_run(tx, params, grads):
    outs, _ = _three_steps(tx, params, grads)
    return [np.asarray(u) for u in outs]


@pytest.mark.parametrize(
    "factory",
    [
        lambda: oc.scale_by_sum_of_squares(0.1, 1e-7, eps_in_sqrt=False),
        lambda: optax.chain(oc.scale_by_rms(0.8, 1e-3), oc.scale_by_stddev(0.5, 1e-3)),
    ],
)
def test_complex_moduli_methods_are_phase_equivariant(factory):
    """Methods built on |g|**2 give, for e^{i theta} times real inputs, e^{i theta} times the
    real result: the complex extension is the real method applied to the modulus."""
    phase = np.exp(0.7j).astype(np.complex64)
    params = jnp.asarray(_RNG.normal(size=4), jnp.float32)
    grads = [jnp.asarray(_RNG.normal(size=4) * s, jnp.float32) for s in (0.3, 2.0, 1.0)]
    real = _phase_run(factory(), params, grads)
    rot = lambda x: x.astype(jnp.complex64) * phase  # noqa: E731
    rotated = _phase_run(factory(), rot(params), [rot(g) for g in grads])
    for r, c in zip(real, rotated, strict=True):
        assert c.dtype == np.complex64
        np.testing.assert_allclose(c, phase * r, rtol=2e-6, atol=1e-7)


# --- complex parameters rejected where the method has no complex meaning ------------------

COMPLEX_REJECTED = {
    "clip": lambda: oc.clip(1.0),
    "scale_by_rprop": lambda: oc.scale_by_rprop(0.1),
    "scale_by_delta_bar_delta": lambda: oc.scale_by_delta_bar_delta(0.1),
    "scale_by_safe_step": lambda: oc.scale_by_safe_step(0.1, lambda w: 0.0),
    "low_precision_state": lambda: oc.low_precision_state(oc.sgd(0.1)),
    "majority_vote": lambda: oc.majority_vote("d"),
    "scaled_sign_mean": lambda: oc.scaled_sign_mean("d"),
    "sparse_mean": lambda: oc.sparse_mean("d", 0.5),
    "dgc_sparsify": lambda: oc.dgc_sparsify(0.5),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_REJECTED))
def test_complex_rejections(name):
    params = {"real": jnp.zeros(2), "layer": {"z": jnp.zeros(3, jnp.complex64)}}
    with pytest.raises(ValueError) as info:
        COMPLEX_REJECTED[name]().init(params)
    message = str(info.value)
    assert name in message and "params['layer']['z']" in message and "complex64" in message
    COMPLEX_REJECTED[name]().init({"real": jnp.zeros(2), "n": jnp.zeros(1, jnp.int32)})


# --- integer, boolean and Python-scalar leaves: one table for every transform -------------


def _quadratic(params, *batch):
    del batch
    return jnp.sum(params["f"] ** 2) + params["s"] ** 2


def _every_transform():
    from optchain import flat  # noqa: PLC0415

    del flat
    return {
        "scale": lambda: oc.scale(0.5),
        "scale_by_schedule": lambda: oc.scale_by_schedule(_SCHEDULE),
        "scale_by_learning_rate": lambda: oc.scale_by_learning_rate(_SCHEDULE),
        "scale_by_rms": lambda: oc.scale_by_rms(bias_correction=True),
        "scale_by_stddev": lambda: oc.scale_by_stddev(0.9, 1e-3),
        "scale_by_sum_of_squares": lambda: oc.scale_by_sum_of_squares(),
        "scale_by_adadelta": lambda: oc.scale_by_adadelta(),
        "running_max": lambda: oc.running_max(),
        "infinity_norm": lambda: oc.infinity_norm(),
        "sqrt": lambda: optax.chain(oc.scale_by_rms(), oc.sqrt(1e-8)),
        "clip": lambda: oc.clip(0.3),
        "clip_schedule": lambda: oc.clip(_SCHEDULE),
        "clip_by_global_norm": lambda: oc.clip_by_global_norm(0.5),
        "clip_by_block_norm": lambda: oc.clip_by_block_norm(0.5),
        "adaptive_grad_clip": lambda: oc.adaptive_grad_clip(0.05),
        "add_noise": lambda: oc.add_noise(0.1, 0.55, 3),
        "perturb_near_saddle": lambda: oc.perturb_near_saddle(0.1, 10.0, 2, key=3),
        "add_decayed_weights": lambda: oc.add_decayed_weights(0.1),
        "add_decayed_weights_zero": lambda: oc.add_decayed_weights(),
        "decoupled_weight_decay": lambda: oc.decoupled_weight_decay(_DECAY),
        "scale_by_trust_ratio": lambda: oc.scale_by_trust_ratio(0.0, 0.5),
        "monitored": lambda: oc.monitored(oc.adam(0.1)),
        "keep_pruned_at_zero": lambda: oc.keep_pruned_at_zero(
            lambda p: jax.tree.map(lambda _: True, p)
        ),
        "sign": oc.sign,
        "scaled_sign": oc.scaled_sign,
        "error_feedback": lambda: oc.error_feedback(oc.scaled_sign()),
        "scale_by_delta_bar_delta": lambda: oc.scale_by_delta_bar_delta(0.1),
        "scale_by_rprop": lambda: oc.scale_by_rprop(0.1),
        "scale_by_rprop_torch": lambda: oc.scale_by_rprop(0.1, torch_compatible=True),
        "scale_by_ftml": lambda: oc.scale_by_ftml(0.1),
        "tail_average": lambda: oc.tail_average(2),
        "polyak_average": lambda: oc.polyak_average(),
        "ema_params": lambda: oc.ema_params(0.5),
        "scale_by_safe_step": lambda: oc.scale_by_safe_step(0.1, _quadratic),
        "skip_nonfinite": lambda: oc.skip_nonfinite(oc.sgd(0.1)),
        "low_precision_state": lambda: oc.low_precision_state(oc.adam(0.1)),
        "dgc_sparsify": lambda: oc.dgc_sparsify(0.5),
    }


EVERY_TRANSFORM = _every_transform()


@pytest.mark.parametrize("name", sorted(EVERY_TRANSFORM))
def test_integer_bool_and_python_scalar_leaves(name):
    params = {
        "f": jnp.array([0.5, -1.0, 2.0]),
        "i": jnp.array([1, 2], jnp.int32),
        "b": jnp.array([True, False]),
        "s": 1.5,
    }
    grads = [
        {"f": jnp.array([0.3, 0.2, -0.1]), "i": jnp.array([3, -4], jnp.int32),
         "b": jnp.array([True, True]), "s": 0.25},
        {"f": jnp.array([-0.2, 0.4, 0.1]), "i": jnp.array([5, 6], jnp.int32),
         "b": jnp.array([False, True]), "s": -0.5},
    ]  # fmt: skip
    tx = EVERY_TRANSFORM[name]()

    def run(update):
        state, outs = tx.init(params), []
        for g in grads:
            u, state = update(g, state, params)
            outs.append(u)
        return outs

    eager = run(tx.update)
    jitted = run(jax.jit(tx.update))
    for u, v in zip(eager, jitted, strict=True):
        for key in ("i", "b"):
            assert u[key].dtype == params[key].dtype and not np.any(np.asarray(u[key])), key
        assert jnp.shape(u["s"]) == () and jnp.asarray(u["s"]).dtype == jnp.float32
        for key in ("f", "s"):
            # eager and jit may round differently (FTML's output is a difference of iterates)
            np.testing.assert_allclose(u[key], v[key], rtol=1e-6, atol=1e-6, err_msg=key)


# --- one step counter inside a counted chain -----------------------------------------------


def test_counted_chain_shares_one_counter_with_these_links():
    links = lambda: (  # noqa: E731
        oc.add_noise(0.01, 0.55, 0),
        oc.clip(_SCHEDULE),
        oc.scale_by_rms(0.9, bias_correction=True),
        oc.scale_by_stddev(_SCHEDULE),
        oc.scale_by_adadelta(),
        oc.infinity_norm(),
        oc.add_decayed_weights(_DECAY),
        oc.error_feedback(oc.scaled_sign()),
        oc.monitored(oc.scale_by_learning_rate(_SCHEDULE)),
        oc.ema_params(0.9),
    )
    counted, plain = oc.counted_chain(*links()), optax.chain(*links())
    w = jnp.array([1.0, -2.0])
    s_counted, s_plain = counted.init(w), plain.init(w)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(s_counted)]
    assert [p for p in paths if p.endswith("count")] == [".count"], paths
    for g in ([0.3, -0.1], [1.0, 2.0], [-0.5, 0.2]):
        g = jnp.array(g)
        a, s_counted = counted.update(g, s_counted, w)
        b, s_plain = plain.update(g, s_plain, w)
        np.testing.assert_allclose(a, b, rtol=1e-6)
