"""Property tests over random pytrees, for every transform and named optimizer.

Trees mix nested dicts, lists and tuples (empty ones included), scalars, zero-size arrays,
``None`` leaves, and int32 and bool leaves, with float leaves in float16, bfloat16, float32
(and float64 in a separate x64 test). For every transform:

* ``init`` and ``update`` keep the tree structure, shapes and dtypes of the updates, and the
  state keeps its own structure, shapes and dtypes across an update;
* finite input gives finite output;
* integer and boolean leaves get a zero update of their own dtype;
* chaining with the identity changes nothing;
* ``jax.jit`` gives what eager execution gives.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from linesearch_rows import with_objective
from named_optimizers import NAMED

import optchain as oc

TRANSFORMS = {
    "momentum": lambda: oc.momentum(0.9, dampening=0.1, nesterov=True),
    "ema": lambda: oc.ema(0.9),
    "second_moment_f32": lambda: oc.second_moment(0.99, accumulator_dtype=jnp.float32),
    "first_moment": lambda: oc.first_moment(0.9),
    "second_moment": lambda: oc.second_moment(0.9),
    "scale_by_adam": lambda: oc.scale_by_adam(),
    "scale_by_adamax": lambda: oc.scale_by_adamax(),
    "scale_by_lion": lambda: oc.scale_by_lion(mode="refined"),
    "scale_by_belief": lambda: oc.scale_by_belief(nesterov=True),
    "yogi_second_moment": lambda: oc.yogi_second_moment(0.99),
    "radam_rectification": lambda: optax.chain(
        oc.second_moment(0.9), oc.sqrt(), oc.radam_rectification(0.9)
    ),
    "scale_by_yogi": lambda: oc.scale_by_yogi(),
    "scale_by_radam": lambda: oc.scale_by_radam(),
    "lion": lambda: oc.lion(0.001, weight_decay=0.01),
    "adabelief": lambda: oc.adabelief(0.01),
    "yogi": lambda: oc.yogi(0.01),
    "radam": lambda: oc.radam(0.01),
    "adamaxw": lambda: oc.adamaxw(0.01),
    "nadamw": lambda: oc.nadamw(0.01),
    "scale_by_rss": lambda: oc.scale_by_rss(),
    "scale_by_sign": lambda: oc.scale_by_sign(),
    "counted_chain": lambda: oc.counted_chain(oc.momentum(0.9), oc.scale_by_learning_rate(0.1)),
    "bias_correction": lambda: optax.chain(
        oc.first_moment(0.9), oc.bias_correction(0.9, step_offset=1)
    ),
    "scale": lambda: oc.scale(lambda t: 0.5 / (t + 1).astype(jnp.float32)),
    "scale_by_learning_rate": lambda: oc.scale_by_learning_rate(0.1),
    "scale_by_rms": lambda: oc.scale_by_rms(0.9, 1e-6, eps_in_sqrt=False),
    "scale_by_stddev": lambda: oc.scale_by_stddev(0.9, 1e-6),
    "scale_by_sum_of_squares": lambda: oc.scale_by_sum_of_squares(0.0),
    "scale_by_adadelta": lambda: oc.scale_by_adadelta(),
    "running_max": lambda: optax.chain(oc.second_moment(0.9), oc.running_max()),
    "infinity_norm": lambda: oc.infinity_norm(0.99),
    "sqrt": lambda: optax.chain(oc.second_moment(0.9), oc.sqrt(1e-8)),
    "sign": oc.sign,
    "add_noise": lambda: oc.add_noise(0.1, 0.55, key=1),
    "clip": lambda: oc.clip(0.5),
    "clip_by_global_norm": lambda: oc.clip_by_global_norm(1.0),
    "clip_by_block_norm": lambda: oc.clip_by_block_norm(1.0),
    "clip_by_block_rms": lambda: oc.clip_by_block_rms(0.5),
    "scale_by_factored_rms": lambda: oc.scale_by_factored_rms(min_dim_size_to_factor=2),
    "scale_by_sm3": lambda: oc.scale_by_sm3(),
    "scale_by_param_block_rms": lambda: oc.scale_by_param_block_rms(),
    "scale_by_param_block_norm": lambda: oc.scale_by_param_block_norm(),
    "adafactor": lambda: oc.adafactor(0.01, min_dim_size_to_factor=2, momentum=0.9),
    "scale_by_factored_rms_torch": lambda: oc.scale_by_factored_rms_torch(),
    "scale_by_relative_step": lambda: oc.scale_by_relative_step(0.1),
    "sm3": lambda: oc.sm3(0.01),
    "adaptive_grad_clip": lambda: oc.adaptive_grad_clip(0.05),
    "scale_by_schedule": lambda: oc.scale_by_schedule(lambda t: 0.5 / (1.0 + t)),
    "add_decayed_weights": lambda: oc.add_decayed_weights(0.01),
    "decoupled_weight_decay": lambda: oc.decoupled_weight_decay(0.01),
    "scale_by_delta_bar_delta": lambda: oc.scale_by_delta_bar_delta(0.01),
    "scale_by_rprop": lambda: oc.scale_by_rprop(0.01),
    "scale_by_ftml": lambda: oc.scale_by_ftml(0.01),
    "ftrl_proximal": lambda: oc.ftrl_proximal(0.1, lamda1=0.05, lamda2=0.01),
    "delay_compensation": lambda: oc.delay_compensation(0.1),
    "add_langevin_noise": lambda: oc.add_langevin_noise(0.01, key=3),
    "tail_average": lambda: oc.tail_average(3),
    "polyak_average": lambda: oc.polyak_average(1),
    "ema_params": lambda: oc.ema_params(0.9),
    "fork": lambda: oc.fork(oc.scale(2.0), oc.sign(), merge=lambda a, b: a - b),
    "divide": lambda: oc.divide(
        oc.first_moment(0.9), optax.chain(oc.second_moment(0.9), oc.sqrt()), eps=1e-6
    ),
    "reduce_on_plateau_torch": lambda: oc.reduce_on_plateau_torch(patience=0),
    "skip_nonfinite": lambda: oc.skip_nonfinite(oc.adam(0.01)),
    "scale_by_trust_ratio": lambda: oc.scale_by_trust_ratio(trust_coefficient=0.5, eps=1e-8),
    "scaled_sign": oc.scaled_sign,
    "error_feedback": lambda: oc.error_feedback(oc.scaled_sign()),
    "dgc_sparsify": lambda: oc.dgc_sparsify(0.3, 0.9),
    "dgc_sparsify_warmup": lambda: oc.dgc_sparsify(oc.schedules.dgc_warmup(1), 0.9),
    "perturb_near_saddle": lambda: oc.perturb_near_saddle(0.1, 10.0, 2, key=3),
    "monitored": lambda: oc.monitored(oc.adam(0.01)),
    "low_precision_state": lambda: oc.low_precision_state(oc.adam(0.01)),
    # arbitrary trees have arbitrary paths: every leaf goes to the default group
    "param_groups": lambda: oc.param_groups({}, default=oc.adam(0.01)),
    "scale_by_lbfgs": lambda: optax.chain(oc.scale_by_lbfgs(3), oc.scale(-0.1)),
    "lbfgs": lambda: oc.lbfgs(0.1, memory_size=3, linesearch=None),  # a line search needs value_fn
    # torch's strong-Wolfe search, with a quadratic objective (tests/linesearch_rows.py)
    "scale_by_strong_wolfe_linesearch": lambda: with_objective(
        oc.scale_by_strong_wolfe_linesearch(4)
    ),
    # the slow weights in the state (optchain.slow_weights_in_state): the tree is the fast weights
    "lookahead": lambda: oc.slow_weights_in_state(
        oc.lookahead(oc.adam(0.01), 2, 0.5, reset_state=True)
    ),
    "slow_weights_in_state": lambda: oc.slow_weights_in_state(oc.lookahead(oc.sgd(0.1), 3, 0.5)),
    # zoo part 2 (tests/test_zoo_extrapolating.py)
    "scale_by_optimistic_gradient": lambda: oc.scale_by_optimistic_gradient(1.0, 0.5),
    "scale_by_adan": lambda: oc.scale_by_adan(),
    "scale_by_novograd": lambda: oc.scale_by_novograd(weight_decay=0.01),
    "scale_by_polyak": lambda: oc.scale_by_polyak(),
    "adan": lambda: oc.adan(0.01, weight_decay=0.01),
    "novograd": lambda: oc.novograd(0.01),
    "fromage": lambda: oc.fromage(0.01),
    "polyak_sgd": lambda: oc.polyak_sgd(0.5),
    "optimistic_gradient_descent": lambda: oc.optimistic_gradient_descent(0.01, beta=0.5),
    "optimistic_adam": lambda: oc.optimistic_adam(0.01),
    "optimistic_adam_v2": lambda: oc.optimistic_adam_v2(0.01),
    # torch's ASGD, NAdam and RAdam (tests/test_zoo_torch.py)
    "scale_by_asgd_rate": lambda: oc.scale_by_asgd_rate(0.1, lambd=0.5),
    "nadam_torch": lambda: oc.nadam(
        0.01, momentum_decay=4e-3, weight_decay=0.01, decoupled_weight_decay=True
    ),
    "radam_torch": lambda: oc.radam(0.01, weight_decay=0.01, eps_before_debias=True),
    # optax.contrib (issue 20): the primitives, and the optimizers that need extra arguments
    "normalize_by_previous_rms": lambda: oc.normalize_by_previous_rms(),
    "previous_centered_rms": lambda: oc.previous_centered_rms(),
    "ema_mixture": lambda: oc.ema_mixture(),
    "accumulator_mixture": lambda: oc.accumulator_mixture(0.9, 1.0),
    "squared_gradient_average": lambda: oc.squared_gradient_average(),
    "dual_averaging": lambda: oc.dual_averaging(0.01),
    "scale_by_adopt": lambda: oc.scale_by_adopt(),
    "scale_by_acprop": lambda: oc.scale_by_acprop(),
    "scale_by_ademamix": lambda: oc.scale_by_ademamix(),
    "scale_by_simplified_ademamix": lambda: oc.scale_by_simplified_ademamix(),
    "scale_by_madgrad": lambda: oc.scale_by_madgrad(0.01),
    "exp_avg": lambda: oc.exp_avg(0.9),
    "exp_avg_sq": lambda: oc.exp_avg_sq(0.99),
    "scale_by_distance_estimate": lambda: oc.scale_by_distance_estimate(
        oc.exp_avg(), oc.exp_avg_sq(), rule="dadapt", weight_decay=0.01
    ),
    "scale_by_mechanic": lambda: oc.scale_by_mechanic(oc.sgd(0.1)),
    "scale_by_dog": lambda: oc.scale_by_dog(("distance", 0.1)),
    "scale_by_dowg": lambda: oc.scale_by_dowg(0.01),
    "scale_by_coin_betting": lambda: oc.scale_by_coin_betting(),
    "scale_by_cocob": lambda: oc.scale_by_cocob(),
    "schedule_free": lambda: oc.schedule_free(oc.sgd(0.1), 0.1),
    "adversarial_perturbation": lambda: oc.adversarial_perturbation(0.05),
    "sharpness_aware": lambda: oc.sharpness_aware(oc.sgd(0.1), oc.adversarial_perturbation(0.05)),
    "sharpness_aware_inner_loop": lambda: with_objective(
        oc.sharpness_aware_inner_loop(oc.sgd(0.1), oc.adversarial_perturbation(0.05))
    ),
    "hutchinson_estimator_diag_hessian": lambda: with_objective(
        oc.hutchinson_estimator_diag_hessian()
    ),
    "sophia_preconditioner": lambda: with_objective(oc.sophia_preconditioner(update_interval=1)),
    "sophia": lambda: with_objective(oc.sophia(0.05, update_interval=1)),
    "momo_step": lambda: oc.momo_step(0.5),
    "momo_adam_step": lambda: oc.momo_adam_step(0.05),
    "momo": lambda: oc.momo(0.5),
    "momo_adam": lambda: oc.momo_adam(0.05),
    "normalize": oc.normalize,
    "galore_projection": lambda: oc.galore_projection(oc.adam(0.01), rank=1, update_proj_gap=2),
    "scale_by_galore": lambda: oc.scale_by_galore(rank=1, update_proj_gap=2),
    "split_real_and_imaginary": lambda: oc.split_real_and_imaginary(oc.adam(0.01)),
    **NAMED,
}

FLOATS = ("float16", "bfloat16", "float32")
SHAPES = [(), (0,), (3,), (2, 3), (1, 0, 2), (2, 2, 2)]
TOLERANCE = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-5, "float64": 1e-10}


def _leaf_specs(dtypes):
    kinds = st.sampled_from(["float", "float", "float", "int", "bool", "none"])
    return st.tuples(kinds, st.sampled_from(dtypes), st.sampled_from(SHAPES))


def _tree_specs(dtypes):
    return st.recursive(
        _leaf_specs(dtypes),
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from("abcd"), children, max_size=3),
            st.tuples(children, children),
        ),
        max_leaves=6,
    )


def _is_spec(x):
    return isinstance(x, tuple) and len(x) == 3 and isinstance(x[0], str)


def _materialise(specs, seed, scale=2.0):
    rng = np.random.default_rng(seed)

    def make(spec):
        kind, dtype, shape = spec
        if kind == "none":
            return None
        if kind == "int":
            return jnp.asarray(rng.integers(-5, 5, size=shape), jnp.int32)
        if kind == "bool":
            return jnp.asarray(rng.random(shape) > 0.5)
        return jnp.asarray(rng.uniform(-scale, scale, size=shape), dtype)

    return jax.tree.map(make, specs, is_leaf=_is_spec)


def _signature(tree):
    leaves = jax.tree.leaves(tree)
    return jax.tree.structure(tree), [(jnp.shape(x), jnp.asarray(x).dtype) for x in leaves]


def _float_leaves(tree):
    return [x for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]


def _run(tx, params, grads_seq, jit):
    update = jax.jit(tx.update) if jit else tx.update
    state = tx.init(params)
    outs = []
    for grads in grads_seq:
        updates, state = update(grads, state, params, value=jnp.float32(1.0))
        outs.append(updates)
    return outs, state


def _check(name, specs, seed):
    tx = optax.with_extra_args_support(TRANSFORMS[name]())
    params = _materialise(specs, seed)
    grads_seq = [_materialise(specs, seed + 1 + k) for k in range(2)]
    state0 = tx.init(params)
    eager, state = _run(tx, params, grads_seq, jit=False)
    jitted, _ = _run(tx, params, grads_seq, jit=True)
    for grads, updates in zip(grads_seq, eager):
        assert _signature(updates) == _signature(grads), name
        for g, u in zip(jax.tree.leaves(grads), jax.tree.leaves(updates)):
            if not jnp.issubdtype(g.dtype, jnp.floating):
                np.testing.assert_array_equal(u, np.zeros_like(g))  # int and bool: zero update
            else:
                assert np.all(np.isfinite(np.asarray(u, np.float64))), (name, u)
    assert _signature(state) == _signature(state0), name
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        dtype = jnp.asarray(a).dtype
        if jnp.issubdtype(dtype, jnp.floating):
            tol = TOLERANCE[dtype.name]
            np.testing.assert_allclose(
                np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=tol, atol=tol
            )
        else:
            np.testing.assert_array_equal(a, b)


# every kind of leaf at once, whatever hypothesis draws: the three float widths, int, bool and
# None leaves, scalars, empty and 3-d shapes, in dicts, lists and tuples
EVERY_KIND = {
    "a": ("float", "float32", (2, 3)),
    "b": [("float", "bfloat16", (3,)), ("int", "float32", (2, 2, 2)), ("bool", "float32", ())],
    "c": (("float", "float16", (1, 0, 2)), ("none", "float32", (3,))),
    "d": ("float", "float16", ()),
}

SMALL = {
    "a": ("float", "float32", (2, 3)),
    "b": [("float", "bfloat16", (3,)), ("int", "float32", ())],
}

PROPERTY_SETTINGS = settings(
    max_examples=2,  # and EVERY_KIND
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is not flaky
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@PROPERTY_SETTINGS
@given(specs=_tree_specs(FLOATS), seed=st.integers(0, 2**20))
@example(specs=EVERY_KIND, seed=7)
def test_transform_properties(name, specs, seed):
    _check(name, specs, seed)


@pytest.mark.filterwarnings("ignore:Some donated buffers were not usable")
@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_state_can_be_donated_and_chaining_with_the_identity_changes_nothing(name):
    params = _materialise(SMALL, 7)  # a small tree: two compiles per transform
    grads_seq = [_materialise(SMALL, 8 + k) for k in range(2)]
    tx = optax.with_extra_args_support(TRANSFORMS[name]())
    state = tx.init(params)
    arrays = [x for x in jax.tree.leaves(state) if isinstance(x, jax.Array)]
    pointers = [x.unsafe_buffer_pointer() for x in arrays if x.size]
    assert len(set(pointers)) == len(pointers), "two state leaves share a buffer"
    # a donated state: donation raises "donate the same buffer twice" otherwise
    update = jax.jit(tx.update, donate_argnums=1)
    alone = []
    for grads in grads_seq:
        updates, state = update(grads, state, params, value=jnp.float32(1.0))
        alone.append(updates)
    with_identity = optax.chain(optax.identity(), TRANSFORMS[name](), optax.identity())
    chained, _ = _run(optax.with_extra_args_support(with_identity), params, grads_seq, jit=True)
    for a, b in zip(jax.tree.leaves(alone), jax.tree.leaves(chained), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    "name", ["adam", "sgd", "add_noise", "clip_by_global_norm", "tail_average"]
)
@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=_tree_specs(("float64", "float32")), seed=st.integers(0, 2**20))
def test_transform_properties_float64(name, specs, seed):
    with jax.enable_x64(True):
        _check(name, specs, seed)


def test_every_exported_transform_and_optimizer_is_covered():
    factories = {
        name
        for name in oc.__all__
        if name[0].islower()
        and callable(getattr(oc, name))
        and name not in oc.schedules.__all__  # schedules, and optax's schedule helpers
        and name not in oc._from_optax.__all__  # optax's own objects, tested by optax
        and name
        not in {
            "averaged_params",
            "layerwise_mask",
            "all_finite",
            "unitwise_norm",
            "inject_hyperparams",
            "get_hyperparams",
            "set_hyperparams",
            "group_labels",
            "group_summary",
            "state_summary",
            "check_skip_limit",
            "path_string",
            "transfer_state",
            # these need a device axis: tests/test_distributed.py runs them on 8 devices
            "mean_across_devices",
            "majority_vote",
            "sparse_mean",
            "scaled_sign_mean",
            "signum_majority",
            "dgc_sgd",
            "collective_bytes",
            # float16: the links pass |g|**2 on in the update's dtype, where a gradient below
            # 2.4e-4 squares to 0 and m / (sqrt(0) + eps) overflows (the reliability issue's
            # float16 case; optax's scale_by_amsgrad overflows there too). Its values are
            # checked against optax in tests/test_optax_parity.py.
            "scale_by_amsgrad",
            # need a loss function and batch, or a mask shaped like the tree: own tests
            "scale_by_safe_step",
            "keep_pruned_at_zero",
            # optax's own object (optax.contrib); its update mixes int32 and float32, which
            # strict promotion rejects: tests/transforms/test_plateau.py
            "reduce_on_plateau",
            # a tree of matrices only (non-matrix leaves raise, as in optax):
            # tests/test_contrib_orthogonalized.py
            "scale_by_muon",
            "scale_by_shape",
            "orthogonalize_matrices",
            "newton_schulz",  # a function of one matrix
            "schedule_free_eval_params",  # reads a state
            # per-example gradients: tests/test_contrib_low_rank_private.py
            "per_example_clip",
            "noisy_aggregate",
            "differentially_private_aggregate",
            "dpsgd",
        }
    }
    assert factories <= set(TRANSFORMS), factories - set(TRANSFORMS)
