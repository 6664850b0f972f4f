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


# --- set_hyperparams checks what it sets, as the constructor does ------------------------


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"learning_rate": -0.1},
            r"set_hyperparams: learning_rate must be in \[0, inf\); got -0.1",
        ),
        ({"learning_rate": float("nan")}, r"set_hyperparams: learning_rate must be in .*got nan"),
        ({"b1": 1.5}, r"^set_hyperparams: b1 must be in \[0, 1\); got 1.5$"),
        ({"b2": 1.0}, r"set_hyperparams: b2 must be in \[0, 1\); got 1.0"),
        ({"eps": np.float32(-1e-8)}, r"set_hyperparams: eps must be in \[0, inf\)"),
        ({"b1": jnp.array(1.5)}, r"set_hyperparams: b1 must be in \[0, 1\); got 1.5"),
        (
            {"learning_rate": jnp.ones(3)},
            r"set_hyperparams: learning_rate must be a scalar; got shape \(3,\)",
        ),
        ({"learning_rate": [0.1, 0.2]}, r"learning_rate must be a scalar; got shape \(2,\)"),
        ({"b1": lambda t: 0.9}, r"set_hyperparams: b1 must be a number; a schedule is fixed"),
        ({"b1": "0.9"}, r"set_hyperparams: b1 must be a number; got '0.9'"),
        ({"b1": True}, r"set_hyperparams: b1 must be a number; got True"),
    ],
)
def test_set_hyperparams_applies_the_construction_checks_naming_the_argument(values, message):
    state = oc.inject_hyperparams(oc.adam)(learning_rate=0.1).init(_params())
    with pytest.raises(ValueError, match=message):
        oc.set_hyperparams(state, **values)
    if "must be in" in message and not isinstance(next(iter(values.values())), jax.Array):
        with pytest.raises(ValueError, match=message.replace("set_hyperparams: ", "adam: ")):
            oc.adam(**{"learning_rate": 0.1, **values})  # the same rule at construction


def test_set_hyperparams_keeps_valid_values_and_the_stored_dtype_and_shape():
    state = oc.inject_hyperparams(oc.adam)(learning_rate=0.1).init(_params())
    new = oc.set_hyperparams(state, learning_rate=0, b1=np.float64(0.5), b2=jnp.float32(0.0))
    hp = oc.get_hyperparams(new)
    assert [float(hp[k]) for k in ("learning_rate", "b1", "b2")] == [0.0, 0.5, 0.0]
    assert jax.tree.structure(new) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(state), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
    # a hyperparameter without a range rule is still checked for NaN
    clipped = oc.inject_hyperparams(oc.clip_by_global_norm)(max_norm=1.0).init(_params())
    with pytest.raises(ValueError, match="max_norm must not be NaN"):
        oc.set_hyperparams(clipped, max_norm=float("nan"))
    assert (
        float(oc.get_hyperparams(oc.set_hyperparams(clipped, max_norm=np.inf))["max_norm"])
        == np.inf
    )


def test_traced_values_are_set_inside_jit_without_a_range_check():
    """Inside jit the value is a tracer: only its shape can be checked (documented)."""
    tx = oc.inject_hyperparams(oc.adam)(learning_rate=0.1)
    state = tx.init(_params())

    @jax.jit
    def with_lr(state, lr):
        return oc.set_hyperparams(state, learning_rate=lr)

    assert float(
        oc.get_hyperparams(with_lr(state, jnp.float32(0.02)))["learning_rate"]
    ) == pytest.approx(0.02)
    assert float(oc.get_hyperparams(with_lr(state, jnp.float32(-1.0)))["learning_rate"]) == -1.0
    with pytest.raises(ValueError, match="must be a scalar; got shape"):
        with_lr(state, jnp.ones(2))


def test_a_scalar_is_broadcast_to_a_replicated_state():
    tx = oc.inject_hyperparams(oc.sgd)(learning_rate=0.1)
    state = jax.vmap(tx.init)(jax.tree.map(lambda p: jnp.stack([p, p]), _params()))
    assert state.hyperparams["learning_rate"].shape == (2,)
    new = oc.set_hyperparams(state, learning_rate=0.05)
    np.testing.assert_allclose(new.hyperparams["learning_rate"], [0.05, 0.05])
    new = oc.set_hyperparams(state, learning_rate=np.array([0.05, 0.01]))
    np.testing.assert_allclose(new.hyperparams["learning_rate"], [0.05, 0.01])
    with pytest.raises(
        ValueError, match=r"learning_rate must be a scalar or of shape \(2,\); got shape \(3,\)"
    ):
        oc.set_hyperparams(state, learning_rate=np.ones(3))
    with pytest.raises(ValueError, match=r"learning_rate must be in \[0, inf\); got -0.01"):
        oc.set_hyperparams(state, learning_rate=np.array([0.05, -0.01]))


def test_optax_schedules_run_injected_under_strict_promotion():
    """optax's schedules mix Python floats and int32; optchain runs every schedule under
    standard promotion, injected or not, so the same schedule works both ways."""
    schedule = optax.cosine_decay_schedule(0.1, 10)
    plain, _ = _run(oc.sgd(schedule, momentum=0.9))
    injected, _ = _run(oc.inject_hyperparams(oc.sgd)(schedule, momentum=0.9))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), injected, plain)


# --- dgc_sgd: density injected, the buffer it sizes static --------------------------------

_DEVICES = 2


def _dgc_run(tx, densities=None, steps=6):
    """Jitted DGC steps on _DEVICES vmapped 'devices' (density set between steps)."""
    params = jnp.linspace(-0.9, 1.1, 40).reshape(4, 10)
    replicated = jnp.stack([params] * _DEVICES)
    state = jax.vmap(tx.init)(replicated)

    @jax.jit
    def step(p, state, t):
        def one(p, s, d):
            g = jnp.sin(3.0 * p + d.astype(jnp.float32) + t) * (1.0 + p)
            return tx.update(g, s, p)

        u, state = jax.vmap(one, axis_name="batch")(p, state, jnp.arange(_DEVICES))
        return p + u, state, u

    p, sent = replicated, []
    for t in range(steps):
        if densities is not None:
            state = oc.set_hyperparams(state, density=densities[t])
        p, state, u = step(p, state, jnp.float32(t))
        sent.append(int(jnp.sum(u[0] != 0)))
    return p, state, sent, step


def test_injected_dgc_density_is_set_between_jitted_steps():
    densities = [0.5, 0.5, 0.25, 0.25, 0.1, 0.1]
    injected = oc.inject_hyperparams(oc.dgc_sgd)(learning_rate=0.1, axis_name="batch", density=0.5)
    p, state, sent, step = _dgc_run(injected, densities)
    assert step._cache_size() == 1
    assert "density" in state.hyperparams and "max_density" not in state.hyperparams
    # the same densities as a schedule, given to the plain optimizer
    schedule = lambda t: jnp.asarray(densities, jnp.float32)[t]  # noqa: E731
    plain = oc.dgc_sgd(0.1, "batch", density=schedule, max_density=0.5)
    p_plain, _, sent_plain, _ = _dgc_run(plain)
    np.testing.assert_allclose(p, p_plain, rtol=1e-6, atol=1e-7)
    assert sent == sent_plain
    assert sent[-1] < sent[2] < sent[0]  # fewer entries cross the wire as density drops


def test_injected_dgc_density_one_can_be_lowered():
    """At density 1 everything is sent only while the density is known to be 1."""
    injected = oc.inject_hyperparams(oc.dgc_sgd)(learning_rate=0.1, axis_name="batch", density=1.0)
    _, _, sent, _ = _dgc_run(injected, [1.0, 1.0, 0.1, 0.1, 0.1, 0.1])
    assert sent[:2] == [40, 40] and max(sent[2:]) < 40


def test_injected_dgc_density_above_max_density_sends_max_density():
    injected = oc.inject_hyperparams(oc.dgc_sgd)(
        learning_rate=0.1, axis_name="batch", density=0.1, max_density=0.2
    )
    _, _, over, _ = _dgc_run(injected, [0.9] * 6)
    _, _, at_max, _ = _dgc_run(injected, [0.2] * 6)
    assert over == at_max


def test_injected_dgc_checks_density_at_construction_and_when_set():
    with pytest.raises(ValueError, match=r"dgc_sgd: density must be in \(0, 1\]; got 0.0"):
        oc.inject_hyperparams(oc.dgc_sgd)(learning_rate=0.1, axis_name="batch", density=0.0)
    tx = oc.inject_hyperparams(oc.dgc_sparsify)(density=0.3)
    state = tx.init(_params())
    with pytest.raises(ValueError, match=r"set_hyperparams: density must be in \(0, 1\]; got 1.5"):
        oc.set_hyperparams(state, density=1.5)
    u, _ = jax.jit(tx.update)(_params(), oc.set_hyperparams(state, density=0.2))
    assert int(jnp.sum(u["w"] != 0)) == 1  # ceil(0.2 * 4)


def test_an_injected_key_is_set_as_a_key():
    tx = oc.inject_hyperparams(oc.noisy_sgd)(0.01, key=jax.random.key(1))
    state = tx.init(_params())
    new = oc.set_hyperparams(state, key=jax.random.key(5))
    assert jax.random.key_data(new.hyperparams["key"]).tolist() == [0, 5]
    with pytest.raises(ValueError, match="key must be a PRNG key"):
        oc.set_hyperparams(state, key=5)


def test_set_hyperparams_allows_an_optimizers_own_range():
    """``ftrl``'s ``beta`` is >= 0 (not a decay in [0, 1)): the injected state takes 3.0 and
    the step uses it; a value no rule allows is still rejected."""
    tx = oc.inject_hyperparams(oc.ftrl)(0.1)
    params = {"w": jnp.array([0.5, -1.0])}
    state = oc.set_hyperparams(tx.init(params), beta=3.0)
    assert float(oc.get_hyperparams(state)["beta"]) == 3.0
    grads = {"w": jnp.array([0.2, 0.1])}
    got, _ = tx.update(grads, state, params)
    want, _ = oc.ftrl(0.1, beta=3.0).update(grads, oc.ftrl(0.1, beta=3.0).init(params), params)
    np.testing.assert_allclose(got["w"], want["w"], rtol=1e-6)
    with pytest.raises(ValueError, match="beta"):
        oc.set_hyperparams(state, beta=-1.0)


def test_dtype_and_state_shaping_arguments_stay_static():
    """Injected ``adafactor`` runs under jit (optax's fails in init on ``jnp.float32``) and
    equals the plain one: ``dtype_momentum`` and ``min_dim_size_to_factor`` are not traced."""
    kwargs = {"learning_rate": 0.01, "min_dim_size_to_factor": 2, "momentum": 0.9}
    injected = oc.inject_hyperparams(oc.adafactor)(**kwargs)
    params = {"w": jnp.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.2]])}
    grads = jax.tree.map(lambda p: 0.1 * p, params)
    state = injected.init(params)
    assert {"dtype_momentum", "min_dim_size_to_factor"}.isdisjoint(state.hyperparams)
    got, _ = jax.jit(injected.update)(grads, state, params)
    plain = oc.adafactor(**kwargs)
    want, _ = plain.update(grads, plain.init(params), params)
    np.testing.assert_allclose(got["w"], want["w"], rtol=1e-6)
