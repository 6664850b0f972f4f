"""Reliability at the edges (issue 17), for every named optimizer and every stateful primitive.

* Counters saturate: started at ``2**31 - 3``, five steps leave every step counter at
  ``2**31 - 1`` (no wrap, no stall), the run finite, and what depends on the counter sensible:
  the result equals a run from ``2**20`` (bias corrections ~1, averaging weights ~0) and a
  schedule reads its final value.
* No aliasing: ``init`` returns fresh buffers (never the params, never one buffer for two state
  leaves or for two ``init`` calls), and a step with params and state donated is bit-exact.
* vmap: a batch of injected hyperparameters (and of params) under ``jax.vmap`` equals a Python
  loop over its members.
* float16: FTML stays finite and close to float32. The named optimizers whose default
  :math:`|g|^2` is float16 break there, as optax's do (strict xfails naming the cause); a
  float32 accumulator fixes AdaGrad, RMSprop and AdaDelta, but not yet the Adam family.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lookahead_rows import slow_in_state
from named_optimizers import CALLS, NAMED

import optchain as oc

TOP = 2**31 - 1
NEAR = 2**31 - 3
FAR = 2**20
F16 = jnp.float16
F32 = jnp.float32


def _params(dtype: Any = jnp.float32) -> dict[str, jax.Array]:
    return {
        "w": jnp.array([[0.5, -1.0, 2.0], [1.5, -0.3, 0.8]], dtype),
        "b": jnp.array([0.1, -0.2], dtype),
    }


def _loss(params: Any, curvature: Any = 1.0) -> jax.Array:
    """A quadratic around 0.25, summed in float32 (gradients come back in each leaf's dtype)."""
    return sum(
        0.5 * curvature * jnp.sum(jnp.square(x.astype(jnp.float32) - 0.25))
        for x in jax.tree.leaves(params)
    )


def _value(params: Any) -> dict[str, Any]:
    return {"value": _loss(params)}


def _linesearch(params: Any) -> dict[str, Any]:
    value, grad = jax.value_and_grad(_loss)(params)
    return {"value": value, "grad": grad, "value_fn": _loss}


def _batch(params: Any) -> dict[str, Any]:
    return {"batch": (jnp.float32(2.0),)}


class Case(NamedTuple):
    """One row: how to build the transform and what its update needs."""

    make: Callable[[], optax.GradientTransformation]
    extra: Callable[[Any], dict[str, Any]] | None = None  # params -> update's extra arguments
    axis: str | None = None  # the axis_name its collective needs (run under a vmap)
    counters: tuple[str, ...] = ()  # int32 fields besides ``count`` that step on every update
    far_equal: bool = True  # from 2**31 - 3 it gives what it gives from 2**20
    why: str = ""  # why not (far_equal=False)
    tree: bool = False  # run on two leaves (it combines leaves), else on one (compiles faster)

    def params(self, dtype: Any = jnp.float32) -> dict[str, jax.Array]:
        params = _params(dtype)
        return params if self.tree else {"w": params["w"]}


def _averaging(tx):
    return lambda: optax.chain(oc.sgd(0.1), tx)


_LINEAR = optax.linear_schedule(1.0, 0.1, 1000)

# The two named optimizers whose update is a collective: run here under jax.vmap, whose axis
# name they are given.
AXIS_CALLS = {
    "signum_majority": (oc.signum_majority, {"learning_rate": 0.001, "axis_name": "batch"}),
    "dgc_sgd": (oc.dgc_sgd, {"learning_rate": 0.02, "axis_name": "batch", "density": 0.5}),
}
CALLS_ALL = {**CALLS, **AXIS_CALLS}

# Every named optimizer: tests/named_optimizers.py's table, plus the two collective ones.
NAMED_ALL = {
    **{name: Case(make, tree=True) for name, make in NAMED.items()},
    "noisy_sgd": Case(
        NAMED["noisy_sgd"],
        far_equal=False,
        why="the noise variance anneals as (1 + t)**-gamma",
        tree=True,
    ),
    **{
        name: Case(functools.partial(factory, **kwargs), axis="batch", tree=True)
        for name, (factory, kwargs) in AXIS_CALLS.items()
    },
}

# Every public optchain factory whose state has leaves (one line each; a factory whose state is
# empty for constant arguments is here with a schedule, which gives it a counter).
STATEFUL = {
    "counted_chain": Case(
        lambda: oc.counted_chain(oc.momentum(0.9), oc.scale_by_learning_rate(0.1))
    ),
    "fork": Case(lambda: oc.fork(oc.momentum(0.9), oc.scale_by_rms(0.9), merge=jnp.add)),
    "divide": Case(
        lambda: oc.divide(oc.first_moment(0.9), optax.chain(oc.second_moment(0.99), oc.sqrt()))
    ),
    "momentum": Case(lambda: oc.momentum(0.9, nesterov=True)),
    "first_moment": Case(lambda: oc.first_moment(0.9)),
    "second_moment": Case(lambda: oc.second_moment(0.99)),
    "ema": Case(lambda: oc.ema(0.9)),
    "bias_correction": Case(
        lambda: optax.chain(oc.first_moment(0.9), oc.bias_correction(0.9, step_offset=1))
    ),
    "scale[schedule]": Case(lambda: oc.scale(_LINEAR)),
    "scale_by_learning_rate[schedule]": Case(lambda: oc.scale_by_learning_rate(_LINEAR)),
    "scale_by_schedule": Case(lambda: oc.scale_by_schedule(_LINEAR)),
    "sqrt": Case(lambda: optax.chain(oc.second_moment(0.9), oc.sqrt(1e-8))),
    "scale_by_rms": Case(lambda: oc.scale_by_rms(0.9, bias_correction=True)),
    "scale_by_stddev": Case(lambda: oc.scale_by_stddev(0.9, 1e-4, bias_correction=True)),
    "scale_by_sum_of_squares": Case(lambda: oc.scale_by_sum_of_squares()),
    "scale_by_adadelta": Case(lambda: oc.scale_by_adadelta()),
    "running_max": Case(lambda: oc.running_max()),
    "infinity_norm": Case(lambda: oc.infinity_norm(0.99)),
    "add_noise": Case(
        lambda: oc.add_noise(0.01, 0.55, key=1),
        far_equal=False,
        why="the noise variance anneals as (1 + t)**-gamma",
    ),
    "clip[schedule]": Case(lambda: oc.clip(_LINEAR)),
    "clip_by_global_norm[schedule]": Case(lambda: oc.clip_by_global_norm(_LINEAR), tree=True),
    "clip_by_block_norm": Case(lambda: oc.clip_by_block_norm(0.5)),
    "adaptive_grad_clip[schedule]": Case(lambda: oc.adaptive_grad_clip(_LINEAR)),
    "add_decayed_weights[schedule]": Case(lambda: oc.add_decayed_weights(_LINEAR)),
    "decoupled_weight_decay[schedule]": Case(
        lambda: optax.chain(oc.scale(-0.1), oc.decoupled_weight_decay(_LINEAR))
    ),
    "scale_by_trust_ratio[schedule]": Case(
        lambda: oc.scale_by_trust_ratio(trust_coefficient=_LINEAR)
    ),
    "scale_by_delta_bar_delta": Case(lambda: oc.scale_by_delta_bar_delta(0.01)),
    "scale_by_rprop": Case(lambda: oc.scale_by_rprop(0.01)),
    "scale_by_ftml": Case(lambda: oc.scale_by_ftml(0.01)),
    "tail_average": Case(_averaging(oc.tail_average(2))),
    "polyak_average": Case(_averaging(oc.polyak_average())),
    "ema_params": Case(_averaging(oc.ema_params(0.9))),
    "skip_nonfinite": Case(lambda: oc.skip_nonfinite(oc.adam(0.01)), tree=True),
    "reduce_on_plateau_torch": Case(lambda: oc.reduce_on_plateau_torch(patience=1), _value),
    "error_feedback": Case(lambda: oc.error_feedback(oc.scaled_sign())),
    "dgc_sparsify": Case(lambda: oc.dgc_sparsify(0.5, 0.9)),
    "perturb_near_saddle": Case(
        lambda: oc.perturb_near_saddle(0.1, 10.0, 2, key=3),
        far_equal=False,
        why="it perturbs on steps set by the counter and its key",
        tree=True,
    ),
    "scale_by_safe_step": Case(
        lambda: oc.scale_by_safe_step(0.1, lambda w, c: _loss(w, c), every=2),
        _batch,
        counters=("hvp_evaluations",),
        far_equal=False,
        why="it re-evaluates the curvature on steps set by the counter",
        tree=True,
    ),
    "monitored": Case(
        lambda: oc.monitored(oc.sgd(0.1), explode_threshold=1e-6, vanish_threshold=1e3),
        counters=("exploding_steps", "vanishing_steps"),
        tree=True,
    ),
    "low_precision_state": Case(
        lambda: oc.low_precision_state(oc.adam(0.01)),
        far_equal=False,
        why="the counter salts the stochastic rounding",
        tree=True,
    ),
    "param_groups": Case(
        lambda: oc.param_groups({"b": oc.sgd(0.1)}, default=oc.adam(0.01)), tree=True
    ),
    "scale_by_adam": Case(lambda: oc.scale_by_adam()),
    "scale_by_amsgrad": Case(lambda: oc.scale_by_amsgrad()),
    "scale_by_adamax": Case(lambda: oc.scale_by_adamax()),
    # the Adam-like zoo (named optimizers not yet in tests/named_optimizers.py, and primitives)
    "lion": Case(lambda: oc.lion(0.001, weight_decay=0.01)),
    "adabelief": Case(lambda: oc.adabelief(0.01, nesterov=True)),
    "yogi": Case(lambda: oc.yogi(0.01)),
    "radam": Case(lambda: oc.radam(0.01)),
    "adamaxw": Case(lambda: oc.adamaxw(0.01, weight_decay=0.01)),
    "nadamw": Case(lambda: oc.nadamw(0.01, weight_decay=0.01)),
    "scale_by_yogi": Case(lambda: oc.scale_by_yogi()),
    "scale_by_radam": Case(lambda: oc.scale_by_radam()),
    "scale_by_lion": Case(lambda: oc.scale_by_lion()),
    "scale_by_belief": Case(lambda: oc.scale_by_belief()),
    "yogi_second_moment": Case(lambda: oc.yogi_second_moment(0.99)),
    "radam_rectification": Case(
        lambda: optax.chain(oc.second_moment(0.9), oc.sqrt(), oc.radam_rectification(0.9))
    ),
    "scale_by_rss": Case(lambda: oc.scale_by_rss()),
    # Adafactor's default decay 1 - (t + 1)**-0.8 is 1.0 in float32 from t ~ 2**25 on, which
    # freezes a second moment started at zero there (as in optax): a capped decay, and c = 0
    "scale_by_factored_rms": Case(
        lambda: oc.scale_by_factored_rms(
            min_dim_size_to_factor=2, decay_rate_fn=lambda t, c: jnp.minimum(0.999, 1 - c)
        )
    ),
    "scale_by_sm3": Case(lambda: oc.scale_by_sm3()),
    "clip_by_block_rms[schedule]": Case(lambda: oc.clip_by_block_rms(_LINEAR)),
    "adafactor": Case(
        lambda: oc.adafactor(
            0.01, min_dim_size_to_factor=2, decay_rate=0.0, momentum=0.9, weight_decay_rate=0.1
        ),
        tree=True,
    ),
    "sm3": Case(lambda: oc.sm3(0.01), tree=True),
    # zoo part 2 (tests/test_zoo_extrapolating.py)
    "scale_by_optimistic_gradient": Case(lambda: oc.scale_by_optimistic_gradient(1.0, 0.5)),
    "scale_by_adan": Case(lambda: oc.scale_by_adan(), counters=("t",)),
    "scale_by_novograd": Case(lambda: oc.scale_by_novograd(weight_decay=0.01)),
    "adan": Case(lambda: oc.adan(0.01, weight_decay=0.01), counters=("t",), tree=True),
    "novograd": Case(lambda: oc.novograd(0.01), tree=True),
    "fromage": Case(lambda: oc.fromage(0.01), tree=True),
    "polyak_sgd": Case(lambda: oc.polyak_sgd(0.5, scaling=_LINEAR), _value, tree=True),
    "optimistic_gradient_descent": Case(
        lambda: oc.optimistic_gradient_descent(0.01, beta=0.5), tree=True
    ),
    "optimistic_adam": Case(lambda: oc.optimistic_adam(0.01), tree=True),
    "optimistic_adam_v2": Case(lambda: oc.optimistic_adam_v2(0.01), tree=True),
    "scale_by_lbfgs": Case(lambda: optax.chain(oc.scale_by_lbfgs(3), oc.scale(-0.1)), tree=True),
    "lbfgs": Case(lambda: oc.lbfgs(memory_size=3), _linesearch, tree=True),
    "lookahead": Case(
        lambda: slow_in_state(oc.lookahead(oc.sgd(0.1, momentum=0.9), 3, 0.5)),
        far_equal=False,
        why="steps_since_sync is the phase of the sync period: 2**31 - 3 and 2**20 differ mod 3",
        tree=True,
    ),
}

# Public factories whose state has no leaves (a stateful variant, if any, is in STATEFUL).
STATELESS = {
    "scale": lambda: oc.scale(0.5),
    "scale_by_learning_rate": lambda: oc.scale_by_learning_rate(0.1),
    "sign": oc.sign,
    "scale_by_sign": lambda: oc.scale_by_sign(),
    "scaled_sign": oc.scaled_sign,
    "clip": lambda: oc.clip(0.5),
    "clip_by_block_rms": lambda: oc.clip_by_block_rms(1.0),
    "scale_by_param_block_rms": lambda: oc.scale_by_param_block_rms(),
    "scale_by_param_block_norm": lambda: oc.scale_by_param_block_norm(),
    "clip_by_global_norm": lambda: oc.clip_by_global_norm(1.0),
    "adaptive_grad_clip": lambda: oc.adaptive_grad_clip(0.1),
    "add_decayed_weights": lambda: oc.add_decayed_weights(0.1),
    "decoupled_weight_decay": lambda: oc.decoupled_weight_decay(0.1),
    "scale_by_trust_ratio": lambda: oc.scale_by_trust_ratio(),
    "scale_by_polyak": lambda: oc.scale_by_polyak(),
    "keep_pruned_at_zero": lambda: oc.keep_pruned_at_zero(lambda p: jax.tree.map(jnp.isfinite, p)),
    "mean_across_devices": lambda: oc.mean_across_devices("batch"),
    "majority_vote": lambda: oc.majority_vote("batch"),
    "sparse_mean": lambda: oc.sparse_mean("batch", 0.5),
    "scaled_sign_mean": lambda: oc.scaled_sign_mean("batch"),
}

# Public functions that are not transform factories.
NOT_FACTORIES = {
    "averaged_params",
    "layerwise_mask",
    "all_finite",
    "check_skip_limit",
    "unitwise_norm",
    "inject_hyperparams",  # wraps a factory: the vmap test below injects every named optimizer
    "get_hyperparams",
    "set_hyperparams",
    "state_summary",
    "group_labels",
    "group_summary",
    "path_string",
    "transfer_state",
    "collective_bytes",
}

TABLE = {**{f"named:{k}": v for k, v in NAMED_ALL.items()}, **STATEFUL}

# Rows that differ from one above only in what ``init`` sees (a key given as a key: init must
# copy it), checked by the fresh-buffer test alone.
INIT_VARIANTS = {
    "add_noise[key]": lambda: oc.add_noise(0.01, 0.55, key=jax.random.key(1)),
    "add_noise[raw key]": lambda: oc.add_noise(0.01, 0.55, key=jax.random.PRNGKey(1)),
    "perturb_near_saddle[key]": lambda: oc.perturb_near_saddle(key=jax.random.key(3)),
}


def _factory(name: str) -> str:
    return name.removeprefix("named:").split("[")[0]


def test_the_tables_cover_every_public_factory():
    """A new public optchain factory must get a row: STATEFUL (or NAMED) if its state has
    leaves, STATELESS if not. optax's own objects re-exported by optchain are tested by optax."""
    public = {
        name
        for name in oc.__all__
        if name[0].islower()
        and callable(obj := getattr(oc, name))
        and not inspect.ismodule(obj)
        and getattr(obj, "__module__", "").startswith("optchain")
    }
    rows = {_factory(name) for name in TABLE} | set(STATELESS) | NOT_FACTORIES
    assert public - rows == set(), "add these to STATEFUL or STATELESS"
    assert {_factory(n) for n in TABLE} | set(STATELESS) <= public
    assert all(case.why for case in TABLE.values() if not case.far_equal)


def _tree_leaves(state: Any) -> list[Any]:
    return [x for x in jax.tree.leaves(state) if hasattr(x, "dtype")]


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_stateful_rows_have_state(name):
    assert jax.tree.leaves(STATEFUL[name].make().init(_params()))


@pytest.mark.parametrize("name", sorted(STATELESS))
def test_stateless_rows_have_no_state(name):
    assert not jax.tree.leaves(STATELESS[name]().init(_params()))


# ---- helpers -------------------------------------------------------------------------------


def _lead(tree: Any) -> Any:
    return jax.tree.map(lambda x: x[None], tree)


def _unlead(tree: Any) -> Any:
    return jax.tree.map(lambda x: x[0], tree)


def _one_step(case: Case, tx: optax.GradientTransformationExtraArgs):
    """``(params, state, grads) -> (params, state)``, under a vmap for a collective."""

    def step(params, state, grads):
        extra = case.extra(params) if case.extra else {}
        updates, state = tx.update(grads, state, params, **extra)
        return optax.apply_updates(params, updates), state

    return jax.vmap(step, axis_name=case.axis) if case.axis else step


_grad = jax.jit(jax.grad(_loss))


@functools.cache
def _compiled(name: str):
    """A row's transform, its jitted step and its jitted step with params and state donated
    (built once: the saturation and donation tests share the plain one)."""
    case = TABLE[name]
    tx = optax.with_extra_args_support(case.make())
    step = _one_step(case, tx)
    return tx, jax.jit(step), jax.jit(step, donate_argnums=(0, 1))


def _run(case: Case, tx, steps: int):
    """A jitted run of ``steps`` steps on the quadratic, returning the final params and state
    and the params after every step."""
    step = _one_step(case, tx)

    def run(params, state):
        def body(carry, _):
            p, s = carry
            p, s = step(p, s, jax.grad(_loss)(p))
            return (p, s), p

        (params, state), path = jax.lax.scan(body, (params, state), None, length=steps)
        return params, state, path

    return jax.jit(run)


def _is_counter(x: Any) -> bool:
    return getattr(x, "dtype", None) == jnp.int32 and jnp.ndim(x) == 0


def _field(key: Any) -> str:
    return str(getattr(key, "name", getattr(key, "key", getattr(key, "idx", key))))


def _int_leaves(state: Any) -> list[tuple[str, str, jax.Array]]:
    """``(path, last field name, leaf)`` for every int32 scalar of ``state``."""
    return [
        (jax.tree_util.keystr(path), _field(path[-1]) if path else "", x)
        for path, x in jax.tree_util.tree_leaves_with_path(state)
        if _is_counter(x)
    ]


def _all_finite(tree: Any) -> bool:
    return all(
        bool(np.all(np.isfinite(np.asarray(x, np.float32))))
        for x in _tree_leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.inexact)
    )


def _close(a: Any, b: Any, **tol: float) -> None:
    jax.tree.map(
        lambda x, y: np.testing.assert_allclose(
            np.asarray(x, np.float32), np.asarray(y, np.float32), **tol
        ),
        a,
        b,
    )


def _readout(state: Any) -> Any:
    """What a user reads from the state besides the params: the averaged params, if any."""
    try:
        return oc.averaged_params(state)
    except ValueError:
        return None


# ---- 1. counters saturate ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TABLE))
def test_counters_saturate_at_int32_max_and_the_run_stays_sensible(name):
    case = TABLE[name]
    tx, step, _ = _compiled(name)
    params = case.params()
    state = tx.init(params)

    def run(value):
        counters = jax.tree.map(lambda x: jnp.full_like(x, value) if _is_counter(x) else x, state)
        p, s = (_lead(params), _lead(counters)) if case.axis else (params, counters)
        path = []
        for _ in range(5):
            p, s = step(p, s, _grad(p))
            path.append(p)
        return (_unlead(s), _unlead(path)) if case.axis else (s, path)

    s_near, path_near = run(NEAR)
    for where, field, x in _int_leaves(s_near):
        value = int(x)
        assert value >= 0, f"state{where} wrapped around to {value}"
        if field == "count" or field in case.counters:
            assert value == TOP, f"state{where} = {value}, not saturated at 2**31 - 1"
    assert _all_finite(path_near) and _all_finite(s_near), "non-finite params or state"
    if case.far_equal:
        s_far, path_far = run(FAR)
        _close(path_near, path_far, rtol=1e-6, atol=1e-7)
        # an average from 2**20 still moves by (w - average) / 2**20 per step
        _close(_readout(s_near), _readout(s_far), rtol=1e-6, atol=1e-6)


SCHEDULES = {
    # optax's
    "optax.linear_schedule": (optax.linear_schedule(1.0, 0.1, 1000), 0.1),
    "optax.cosine_decay_schedule": (optax.cosine_decay_schedule(1.0, 1000, alpha=0.1), 0.1),
    "optax.exponential_decay": (optax.exponential_decay(1.0, 10, 0.5, end_value=0.1), 0.1),
    "optax.polynomial_schedule": (optax.polynomial_schedule(1.0, 0.1, 2.0, 1000), 0.1),
    "optax.warmup_cosine_decay_schedule": (
        optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 1000, end_value=0.1),
        0.1,
    ),
    "optax.piecewise_constant_schedule": (
        optax.piecewise_constant_schedule(1.0, {10: 0.5, 100: 0.2}),
        0.1,
    ),
    # optchain's own
    "linear": (oc.schedules.linear(1.0, 0.1, 1000), 0.1),
    "linear_decay": (oc.schedules.linear_decay(1.0, 1000, end_value=0.1), 0.1),
    "polynomial": (oc.schedules.polynomial(1.0, 0.1, 2.0, 1000), 0.1),
    "exponential": (oc.schedules.exponential(1.0, 0.5, 10, end_value=0.1), 0.1),
    "step_decay": (oc.schedules.step_decay(1.0, 10, 0.5), 0.0),
    "multistep": (oc.schedules.multistep(1.0, [10, 100], 0.1), 0.01),
    "cosine": (oc.schedules.cosine(1.0, 1000, end_value=0.1), 0.1),
    "warmup": (oc.schedules.warmup(oc.schedules.cosine(1.0, 1000, 0.1), 10), 0.1),
    "one_cycle": (oc.schedules.one_cycle(1.0, 1000, final_div_factor=10.0), 1.0 / 25 / 10),
    "linear_scaling_rule": (oc.schedules.linear_scaling_rule(0.1, 256, 512, warmup_steps=10), 0.2),
    "dgc_warmup": (oc.schedules.dgc_warmup(10, final_density=0.01), 0.01),
    "one_cycle_momentum": (oc.schedules.one_cycle_momentum(1000), 0.95),
}
# periodic: no final value, but a value in their range
PERIODIC = {
    "cosine_warm_restarts": (oc.schedules.cosine_warm_restarts(1.0, 100, 2, 0.1), (0.1, 1.0)),
    "cyclical": (oc.schedules.cyclical(0.1, 1.0, 2000), (0.1, 1.0)),
}


def test_schedules_inside_an_optimizer_at_a_saturated_counter_read_their_final_value():
    """Every schedule drives one sgd of a partition (one compile for all of them)."""
    schedules = {
        **{k: v[0] for k, v in SCHEDULES.items()},
        **{k: v[0] for k, v in PERIODIC.items()},
    }
    tx = optax.partition({k: oc.sgd(v) for k, v in schedules.items()}, {k: k for k in schedules})
    params = {k: jnp.ones(2) for k in schedules}
    state = tx.init(params)
    state = jax.tree.map(lambda x: jnp.full_like(x, NEAR) if _is_counter(x) else x, state)
    update = jax.jit(tx.update)
    for _ in range(3):
        updates, state = update(params, state, params)
    assert all(int(x) == TOP for _, _, x in _int_leaves(state))
    rates = {k: -float(u[0]) for k, u in updates.items()}
    wrong = {
        k: rates[k]
        for k, (_, final) in SCHEDULES.items()
        if not np.isclose(rates[k], final, rtol=1e-5, atol=1e-12)
    }
    wrong |= {
        k: rates[k]
        for k, (_, (lo, hi)) in PERIODIC.items()
        if not lo - 1e-6 <= rates[k] <= hi + 1e-6
    }
    assert not wrong, f"values at 2**31 - 1: {wrong}"


def test_annealed_noise_at_a_saturated_counter_has_the_variance_of_its_step():
    """One update from 2**31 - 3 and one from 2**20, same key: the same draw, scaled by
    sqrt(eta / (1 + t)**gamma) at each step."""
    eta, gamma = 0.01, 0.55
    tx = oc.add_noise(eta, gamma, key=1)
    grads = _params()
    state = tx.init(grads)
    update = jax.jit(tx.update)
    noise = {}
    for t in (NEAR, FAR):
        u, _ = update(grads, state._replace(count=jnp.asarray(t, jnp.int32)))
        noise[t] = jax.tree.map(lambda a, g: np.asarray(a - g, np.float64), u, grads)
    ratio = ((FAR + 1) / (NEAR + 1)) ** (gamma / 2)
    _close(noise[NEAR], jax.tree.map(lambda n: n * ratio, noise[FAR]), rtol=1e-3, atol=1e-9)
    assert all(np.all(n != 0) for n in jax.tree.leaves(noise[NEAR]))


def test_tail_average_at_a_saturated_counter_is_the_mean_of_the_last_window_iterates():
    window = 3
    case = Case(_averaging(oc.tail_average(window)))
    tx = optax.with_extra_args_support(case.make())
    params = case.params()
    state = tx.init(params)
    state = jax.tree.map(lambda x: jnp.full_like(x, NEAR) if _is_counter(x) else x, state)
    _, state, path = _run(case, tx, 7)(params, state)
    expected = jax.tree.map(lambda p: p[-window:].mean(axis=0), path)
    _close(oc.averaged_params(state), expected, rtol=1e-6, atol=1e-7)


def test_perturb_near_saddle_keeps_its_interval_after_the_counter_saturates():
    """At a flat point it perturbs every ``interval`` steps, before and after saturation."""
    tx = oc.perturb_near_saddle(0.1, 1.0, interval=2, key=3)
    flat = {"w": jnp.zeros(3)}
    update = jax.jit(tx.update)
    fired = {}
    for start in (0, TOP - 2):
        state = tx.init(flat)
        state = state._replace(
            count=jnp.asarray(start, jnp.int32), perturbations=jnp.asarray(NEAR, jnp.int32)
        )
        fired[start] = []
        for _ in range(7):
            u, state = update(flat, state)
            fired[start].append(bool(jnp.any(u["w"] != 0)))
        assert int(state.perturbations) == TOP  # 4 perturbations from 2**31 - 3: saturated
    assert fired[0] == [True, False, True, False, True, False, True]
    assert fired[TOP - 2] == fired[0]


# ---- 2. no aliasing ------------------------------------------------------------------------


def _buffers(tree: Any) -> list[tuple[str, int]]:
    return [
        (jax.tree_util.keystr(path), x.unsafe_buffer_pointer())
        for path, x in jax.tree_util.tree_leaves_with_path(tree)
        if isinstance(x, jax.Array)
    ]


@pytest.mark.parametrize("name", sorted(TABLE) + sorted(INIT_VARIANTS))
def test_init_returns_fresh_buffers(name):
    """Never the params' buffer, never one buffer for two state leaves or for two inits: a
    jitted step may donate params and state."""
    tx = TABLE[name].make() if name in TABLE else INIT_VARIANTS[name]()
    params = _params()
    states = tx.init(params), tx.init(params)  # both alive: a freed buffer may be reused
    first, second = _buffers(states[0]), _buffers(states[1])
    owners: dict[int, str] = {pointer: f"params{path}" for path, pointer in _buffers(params)}
    for label, buffers in (("state", first), ("second init's state", second)):
        for path, pointer in buffers:
            assert pointer not in owners, f"{label}{path} is the buffer of {owners[pointer]}"
            owners[pointer] = f"{label}{path}"


def _host(x: Any) -> np.ndarray:
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    return np.asarray(x)


def _copy(tree: Any) -> Any:
    return jax.tree.map(lambda x: jnp.array(x, copy=True), tree)


@pytest.mark.filterwarnings("ignore:Some donated buffers were not usable")
@pytest.mark.parametrize("name", sorted(TABLE))
def test_a_donated_step_gives_the_undonated_result_bit_for_bit(name):
    tx, plain, donated = _compiled(name)
    params = TABLE[name].params()
    state = tx.init(params)
    if TABLE[name].axis:
        params, state = _lead(params), _lead(state)
    runs = []
    for jitted in (plain, donated):
        p, s = _copy(params), _copy(state)
        for _ in range(3):
            p, s = jitted(p, s, _grad(p))  # the gradient is read before p is donated
        runs.append((p, s))
    (p_plain, s_plain), (p_donated, s_donated) = runs
    for a, b in zip(jax.tree.leaves((p_plain, s_plain)), jax.tree.leaves((p_donated, s_donated))):
        np.testing.assert_array_equal(_host(a), _host(b))


# ---- 3. vmap over hyperparameters and params -----------------------------------------------

DEVICES = 2  # the inner axis of the collective optimizers


def _stack(trees: list[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


@pytest.mark.parametrize("name", sorted(CALLS_ALL))
def test_vmap_over_hyperparameters_and_params_equals_a_loop(name):
    """Three members, each with its own learning rate and its own params: one vmapped step of
    the injected optimizer equals each member's own step. The collective optimizers run each
    member data-parallel, on an inner vmap over their axis name."""
    factory, kwargs = CALLS_ALL[name]
    axis = kwargs.get("axis_name")
    lr = kwargs["learning_rate"]
    members = [
        oc.inject_hyperparams(factory)(**{**kwargs, "learning_rate": lr * f})
        for f in (0.5, 1.0, 2.0)
    ]
    one = {"w": _params()["w"]}  # one leaf: the batching is per leaf
    params = [jax.tree.map(lambda p, i=i: p * (1.0 + 0.5 * i), one) for i in range(3)]
    states = [tx.init(p) for tx, p in zip(members, params)]
    case = Case(lambda: members[0], axis=axis)
    step = _one_step(case, members[0])  # reads every hyperparameter from the state

    def grads(p):
        g = jax.grad(_loss)(p)
        if not axis:
            return g
        # each device its own gradient; params and state replicated on the device axis
        scale = jnp.arange(1.0, DEVICES + 1.0)
        return jax.tree.map(lambda x: x * scale.reshape((DEVICES,) + (1,) * (x.ndim - 1)), g)

    if axis:
        spread = lambda t: jax.tree.map(lambda x: jnp.stack([x] * DEVICES), t)  # noqa: E731
        params, states = [spread(p) for p in params], [spread(s) for s in states]

    looped = jax.jit(lambda p, s: step(p, s, grads(p)))
    expected = []
    for p, s in zip(params, states):
        for _ in range(3):
            p, s = looped(p, s)
        expected.append((p, s))

    batched = jax.jit(jax.vmap(lambda p, s: step(p, s, grads(p))))
    p, s = _stack(params), _stack(states)
    for _ in range(3):
        p, s = batched(p, s)
    for i, (p_i, s_i) in enumerate(expected):
        got = jax.tree.map(lambda x, i=i: x[i], (p, s))
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves((p_i, s_i))):
            np.testing.assert_allclose(_host(a), _host(b), rtol=1e-6, atol=1e-7)


# ---- 4. float16 ----------------------------------------------------------------------------


def _f16_problem(dtype: Any) -> dict[str, jax.Array]:
    """The quadratic's params with a large gradient (300: |g|**2 = 9e4 > float16's 65504) and a
    tiny one (1e-3: (1 - b2) |g|**2 = 1e-9 underflows float16) next to ordinary ones."""
    return {**_params(dtype), "b": jnp.array([0.1, -0.2, 300.0, -200.0, 0.251, 0.0], dtype)}


def _train16(tx, params, steps=20, axis=None):
    case = Case(lambda: tx, axis=axis)
    tx = optax.with_extra_args_support(tx)
    state = tx.init(params)
    if axis:
        params, state = _lead(params), _lead(state)
    params, state, _ = _run(case, tx, steps)(params, state)
    return (_unlead(params), _unlead(state)) if axis else (params, state)


# The named optimizers that break in float16 only because their |g|**2 (or its maximum) is
# float16 by default, as optax's: a float32 accumulator (the dtype knob) fixes the first three.
F16_SECOND_MOMENT = {
    "adagrad": "the sum of |g|**2 of g = 300 overflows at the first step",
    "rmsprop": "the EMA of |g|**2 of g = 300 overflows by step 13",
    "adadelta": "the EMA of |g|**2 of g = 300 overflows by step 13",
    "adam": "nu of g = 1e-3 underflows to 0, so m / (sqrt(0) + eps) overflows the update",
    "adamw": "nu of g = 1e-3 underflows to 0, so m / (sqrt(0) + eps) overflows the update",
    "nadam": "nu of g = 1e-3 underflows to 0, so m / (sqrt(0) + eps) overflows the update",
    "amsgrad": "nu of g = 1e-3 underflows, and the maximum of the debiased nu of g = 300 overflows",
}
F32_ACCUMULATOR = {
    "adagrad": lambda: oc.adagrad(0.1, accumulator_dtype=F32),
    "rmsprop": lambda: oc.rmsprop(0.01, centered=True, momentum=0.5, accumulator_dtype=F32),
    "adadelta": lambda: oc.adadelta(1.0, accumulator_dtype=F32),
}
# nu_dtype=float32 does not rescue the Adam family: second_moment hands nu on to
# bias_correction and sqrt in the gradient's dtype (every link keeps the update's dtype), so
# the debiased nu underflows (and overflows) float16 all the same.
F32_NU = {
    "adam": lambda: oc.adam(0.01, nu_dtype=F32),
    "adamw": lambda: oc.adamw(0.01, weight_decay=0.01, nu_dtype=F32),
    "nadam": lambda: oc.nadam(0.01, nu_dtype=F32),
    "amsgrad": lambda: oc.amsgrad(0.01, nu_dtype=F32),
}
assert set(F32_ACCUMULATOR) | set(F32_NU) == set(F16_SECOND_MOMENT)


def _xfail_where(names: dict[str, str], all_names) -> list[Any]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(reason=names[name], strict=True))
        if name in names
        else name
        for name in sorted(all_names)
    ]


def _named_f16_params():
    reasons = {k: v + " (float16 default, as optax)" for k, v in F16_SECOND_MOMENT.items()}
    return _xfail_where(reasons, NAMED_ALL)


@pytest.mark.parametrize("name", _named_f16_params())
def test_named_optimizers_stay_finite_with_float16_params(name):
    params, state = _train16(NAMED_ALL[name].make(), _f16_problem(F16), axis=NAMED_ALL[name].axis)
    assert _all_finite(params) and _all_finite(state), "non-finite params or state"


@pytest.mark.parametrize("name", sorted(F32_ACCUMULATOR))
def test_a_float32_accumulator_keeps_float16_training_finite(name):
    params, state = _train16(F32_ACCUMULATOR[name](), _f16_problem(F16))
    assert _all_finite(params) and _all_finite(state)
    want, _ = _train16(F32_ACCUMULATOR[name](), _f16_problem(F32))
    _close(params, want, rtol=2e-2, atol=2e-2)


_NU_REASON = "second_moment passes nu on in the gradient's dtype, where it underflows again"


@pytest.mark.parametrize("name", _xfail_where(dict.fromkeys(F32_NU, _NU_REASON), F32_NU))
def test_a_float32_nu_does_not_yet_keep_the_adam_family_finite_in_float16(name):
    params, state = _train16(F32_NU[name](), _f16_problem(F16))
    assert _all_finite(params) and _all_finite(state)


@pytest.mark.parametrize("lr", [0.01, 0.1])
def test_ftml_with_float16_params_stays_finite_and_close_to_float32(lr):
    """FTML's d ~ |g| / lr and z ~ d w leave float16's range (a parameter of 300 overflowed z
    at the first step), and d's eps / lr underflows it (a parameter at the minimum, gradient
    0, jumped to 0 or became NaN): its state is float32 for float16 params."""
    start = _params(F16)
    edges = {"big": jnp.array([300.0, -200.0], F16), "at_minimum": jnp.full(2, 0.25, F16)}
    params, state = _train16(oc.ftml(lr), {**start, **edges})
    assert _all_finite(params) and _all_finite(state)
    assert {x.dtype for x in jax.tree.leaves(params)} == {jnp.dtype(F16)}
    np.testing.assert_array_equal(np.asarray(params["at_minimum"], np.float32), 0.25)
    want, _ = _train16(oc.ftml(lr), jax.tree.map(lambda x: x.astype(F32), start))
    _close({k: params[k] for k in start}, want, rtol=1e-2, atol=2e-3)
    # a float16 state on request
    tx = oc.ftml(lr, accumulator_dtype=F16)
    assert {x.dtype for x in jax.tree.leaves(tx.init(start))} == {
        jnp.dtype(F16),
        jnp.dtype("int32"),
    }
