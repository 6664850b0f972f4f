"""Injected hyperparameters: optax's inject_hyperparams, readable for logging, settable between steps."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

NAMED = {
    "sgd": (oc.sgd, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    "adagrad": (oc.adagrad, {"learning_rate": 0.1}),
    "rmsprop": (oc.rmsprop, {"learning_rate": 0.01, "centered": True, "momentum": 0.5}),
    "adadelta": (oc.adadelta, {"learning_rate": 1.0}),
    "adam": (oc.adam, {"learning_rate": 0.01}),
    "adamw": (oc.adamw, {"learning_rate": 0.01, "weight_decay": 0.01}),
    "amsgrad": (oc.amsgrad, {"learning_rate": 0.01, "max_of": "raw"}),
    "nadam": (oc.nadam, {"learning_rate": 0.01}),
    "adamax": (oc.adamax, {"learning_rate": 0.01}),
    "ftml": (oc.ftml, {"learning_rate": 0.01}),
    "sign_sgd": (oc.sign_sgd, {"learning_rate": 0.01}),
    "signum": (oc.signum, {"learning_rate": 0.01, "beta": 0.8}),
    "noisy_sgd": (oc.noisy_sgd, {"learning_rate": 0.01, "key": 4}),
    "delta_bar_delta": (oc.delta_bar_delta, {"learning_rate": 0.01}),
    "rprop": (oc.rprop, {"learning_rate": 0.01}),
}


def _params(dtype=jnp.float32):
    return {"w": jnp.array([[0.5, -1.0], [2.0, 0.3]], dtype), "b": jnp.array([1.0, -0.5], dtype)}


def _grads(params, t):
    return jax.tree.map(lambda p: (p * 1.5 + jnp.sin(t + p)).astype(p.dtype), params)


def _run(tx, steps=6, dtype=jnp.float32):
    params = _params(dtype)
    state = tx.init(params)
    update = jax.jit(tx.update)
    for t in range(steps):
        u, state = update(_grads(params, jnp.asarray(t, dtype)), state, params)
        params = optax.apply_updates(params, u)
    return params, state


@pytest.mark.parametrize("name", sorted(NAMED))
def test_injected_optimizer_equals_the_plain_one_and_exposes_its_hyperparameters(name):
    ctor, kwargs = NAMED[name]
    plain, _ = _run(ctor(**kwargs))
    injected, state = _run(oc.inject_hyperparams(ctor)(**kwargs))
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), injected, plain
    )
    hp = oc.get_hyperparams(state)
    assert "learning_rate" in hp
    np.testing.assert_allclose(hp["learning_rate"], kwargs["learning_rate"], rtol=1e-7)
    assert all(v.dtype == jnp.float32 for v in hp.values())


@pytest.mark.parametrize("name", sorted(NAMED))
def test_bf16_params_keep_float32_hyperparameters_when_asked(name):
    ctor, kwargs = NAMED[name]
    injected = oc.inject_hyperparams(ctor, hyperparam_dtype=jnp.float32)
    params, state = _run(injected(**kwargs), steps=2, dtype=jnp.bfloat16)
    assert all(p.dtype == jnp.bfloat16 for p in jax.tree.leaves(params))
    hp = oc.get_hyperparams(state)
    assert all(v.dtype == jnp.float32 for v in hp.values()), hp
    if "b2" in hp:
        assert float(hp["b2"]) == float(np.float32(0.999))  # bf16 would round it to 1.0


def test_changing_the_learning_rate_ten_times_does_not_recompile():
    tx = oc.inject_hyperparams(oc.adam)(learning_rate=0.1)
    params = _params()
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        u, state = tx.update(_grads(params, 0.0), state, params)
        return optax.apply_updates(params, u), state, u

    previous = None
    for k in range(10):
        lr = 0.1 / (k + 1)
        state = oc.set_hyperparams(state, learning_rate=lr)
        params, state, u = step(params, state)
        size = float(jnp.max(jnp.abs(u["b"])))
        assert size <= lr * 1.0001
        if previous is not None:
            assert size < previous
        previous = size
    assert step._cache_size() == 1


def test_schedules_are_evaluated_into_the_state():
    schedule = oc.schedules.linear(1.0, 0.0, 4)
    tx = oc.inject_hyperparams(oc.sgd)(learning_rate=schedule, momentum=oc.schedules.constant(0.5))
    params = _params()
    state = tx.init(params)
    seen = []
    for t in range(3):
        _, state = tx.update(_grads(params, float(t)), state, params)
        seen.append(float(oc.get_hyperparams(state)["learning_rate"]))
    np.testing.assert_allclose(seen, [1.0, 0.75, 0.5])


def test_set_hyperparams_errors_and_nesting():
    tx = optax.chain(oc.clip(1.0), oc.inject_hyperparams(oc.sgd)(learning_rate=0.1))
    state = tx.init(_params())
    with pytest.raises(ValueError, match="not injected"):
        oc.set_hyperparams(state, learning_rat=0.2)
    state = oc.set_hyperparams(state, learning_rate=0.2)
    np.testing.assert_allclose(oc.get_hyperparams(state)["learning_rate"], 0.2)
    with pytest.raises(ValueError, match="no inject_hyperparams"):
        oc.get_hyperparams(oc.sgd(0.1).init(_params()))


# --- optax's inject_hyperparams: same signature, same state, same values ------------------


def test_signature_is_optaxs():
    ours = inspect.signature(oc.inject_hyperparams).parameters
    theirs = inspect.signature(optax.inject_hyperparams).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]
    assert oc.schedules.inject_hyperparams is oc.inject_hyperparams


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
@pytest.mark.parametrize("hyperparam_dtype", [None, jnp.float32, jnp.bfloat16])
def test_state_and_values_equal_optaxs(dtype, hyperparam_dtype):
    kwargs = {"learning_rate": oc.schedules.linear(0.1, 0.0, 4), "momentum": 0.9}
    ours = oc.inject_hyperparams(oc.sgd, hyperparam_dtype=hyperparam_dtype)(**kwargs)
    theirs = optax.inject_hyperparams(oc.sgd, hyperparam_dtype=hyperparam_dtype)(**kwargs)
    with jax.numpy_dtype_promotion("standard"):  # bf16 hyperparameters with f32 literals
        p_ours, s_ours = _run(ours, steps=3, dtype=dtype)
        p_theirs, s_theirs = _run(theirs, steps=3, dtype=dtype)
    assert type(s_ours) is optax.InjectStatefulHyperparamsState
    assert s_ours._fields == ("count", "hyperparams", "hyperparams_states", "inner_state")
    assert jax.tree.structure(s_ours) == jax.tree.structure(s_theirs)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), s_ours, s_theirs)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), p_ours, p_theirs)
    want = hyperparam_dtype or dtype  # optax's default: the parameters' highest float dtype
    assert s_ours.hyperparams["momentum"].dtype == want
    # optax casts only weakly typed values: a schedule's float32 array stays float32
    assert s_ours.hyperparams["learning_rate"].dtype == jnp.float32


def test_an_int_seed_stays_static_and_a_key_array_is_injected_as_optax_does():
    seeded, _ = _run(oc.noisy_sgd(0.01, key=4), steps=2)
    injected, state = _run(oc.inject_hyperparams(oc.noisy_sgd)(0.01, key=4), steps=2)
    assert "key" not in state.hyperparams  # optax would trace it: a 0-d int is no PRNG key
    jax.tree.map(np.testing.assert_array_equal, injected, seeded)
    key = jax.random.key(4)
    _, ours = _run(oc.inject_hyperparams(oc.noisy_sgd)(0.01, key=key), steps=2)
    _, theirs = _run(optax.inject_hyperparams(oc.noisy_sgd)(0.01, key=key), steps=2)
    assert "key" in ours.hyperparams
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)


def test_static_args_error_names_the_argument():
    with pytest.raises(ValueError, match="static_args"):
        oc.inject_hyperparams(oc.sgd, static_args="lr")
    tx = oc.inject_hyperparams(oc.sgd, static_args=["momentum"])(learning_rate=0.1, momentum=0.9)
    assert "momentum" not in tx.init(_params()).hyperparams


def test_optax_state_classes_and_deprecated_alias_are_reexported():
    assert oc.InjectStatefulHyperparamsState is optax.InjectStatefulHyperparamsState
    assert oc.InjectHyperparamsState is optax.InjectHyperparamsState
    assert oc.WrappedSchedule is optax.WrappedSchedule
    with pytest.warns(DeprecationWarning):
        tx = oc.inject_stateful_hyperparams(oc.sgd)(learning_rate=0.1)
    np.testing.assert_allclose(oc.get_hyperparams(tx.init(_params()))["learning_rate"], 0.1)
