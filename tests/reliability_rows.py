"""The tables of the reliability tests (issue 17): every named optimizer and every public
factory, stateful (STATEFUL, NAMED_ALL) or not (STATELESS), with the shared quadratic problem.

Used by tests/test_reliability.py (the tables cover every public factory),
tests/test_counters.py, tests/test_donation.py, tests/test_vmap.py and tests/test_float16.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
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


def _objective(params: Any) -> dict[str, Any]:
    return {"obj_fn": _loss}


def _grad_fn(params: Any) -> dict[str, Any]:
    return {"grad_fn": lambda p, i: jax.grad(_loss)(p)}


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

_ADOPT_WHY = "its clip value t**0.25 depends on the step (v = 0 from init: g / eps is clipped)"
_MADGRAD_WHY = "its dual-averaging weight (lr + eps) sqrt(k + 1), so its step, grows with k"
_SAM = {"far_equal": False, "tree": True, "why": "steps_since_sync: the sync period's phase"}
_GALORE = {"far_equal": False, "tree": True, "why": "refresh when count % update_proj_gap == 0"}
_SOPHIA = {"far_equal": False, "why": "Hessian estimated when count % update_interval == 0"}
# what ADOPT's and MADGRAD's steps depend on the counter by (tests/test_contrib_adam_fixes.py)
# steps on a period of the counter: 2**31 - 3 and 2**20 are at other phases of it

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
    # the table's rows, where a counter test needs another setting or says more
    "adan": Case(NAMED["adan"], counters=("t",), tree=True),
    "adafactor": Case(
        lambda: oc.adafactor(
            0.01, min_dim_size_to_factor=2, decay_rate=0.0, momentum=0.9, weight_decay_rate=0.1
        ),
        tree=True,
    ),
    # rho_t = min(lr, 1/sqrt(t)) is lr from 2**20 on for lr = 1e-5; no second-moment memory
    "adafactor_torch": Case(
        lambda: oc.adafactor_torch(1e-5, beta2_decay=0.0, weight_decay=0.1), tree=True
    ),
    "lookahead": Case(
        NAMED["lookahead"],
        far_equal=False,
        why="steps_since_sync is the phase of the sync period: 2**31 - 3 and 2**20 differ mod 3",
        tree=True,
    ),
    "asgd": Case(
        NAMED["asgd"],
        far_equal=False,
        why="its step size decays as (1 + lambd lr t)**-alpha and its average weighs 1/(t - t0)",
        tree=True,
    ),
    "adopt": Case(NAMED["adopt"], far_equal=False, why=_ADOPT_WHY, tree=True),
    "madgrad": Case(NAMED["madgrad"], far_equal=False, why=_MADGRAD_WHY, tree=True),
    "noisy_sgd": Case(
        NAMED["noisy_sgd"],
        far_equal=False,
        why="the noise variance anneals as (1 + t)**-gamma",
        tree=True,
    ),
    "sam": Case(NAMED["sam"], **_SAM),
    "galore": Case(NAMED["galore"], **_GALORE),
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
    # MXNet's FTRL, DCASGD, SGLD (tests/test_zoo_mxnet.py)
    "ftrl_proximal": Case(lambda: oc.ftrl_proximal(0.1, lamda2=0.01)),
    "delay_compensation": Case(lambda: oc.delay_compensation(0.1)),
    "add_langevin_noise": Case(lambda: oc.add_langevin_noise(0.001, key=1)),
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
    # the Adam-like zoo's primitives
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
    # torch's ASGD rate (tests/test_zoo_torch.py)
    "scale_by_asgd_rate": Case(
        lambda: oc.scale_by_asgd_rate(0.1),
        far_equal=False,
        why="the step size decays as (1 + lambd lr t)**-alpha",
    ),
    # torch's Adafactor (tests/test_zoo_torch_adafactor.py): its decay 1 - t**-0.8 and
    # 1/sqrt(t) are functions of the step
    "scale_by_factored_rms_torch": Case(
        lambda: oc.scale_by_factored_rms_torch(),
        far_equal=False,
        why="the decay 1 - t**beta2_decay depends on the step",
    ),
    "scale_by_relative_step": Case(
        lambda: oc.scale_by_relative_step(0.1),
        far_equal=False,
        why="the relative step min(c, 1/sqrt(t)) anneals with the step",
    ),
    "clip_by_block_rms[schedule]": Case(lambda: oc.clip_by_block_rms(_LINEAR)),
    # zoo part 2 (tests/test_zoo_extrapolating.py)
    "scale_by_optimistic_gradient": Case(lambda: oc.scale_by_optimistic_gradient(1.0, 0.5)),
    "scale_by_adan": Case(lambda: oc.scale_by_adan(), counters=("t",)),
    "scale_by_novograd": Case(lambda: oc.scale_by_novograd(weight_decay=0.01)),
    "polyak_sgd": Case(lambda: oc.polyak_sgd(0.5, scaling=_LINEAR), _value, tree=True),
    "scale_by_lbfgs": Case(lambda: optax.chain(oc.scale_by_lbfgs(3), oc.scale(-0.1)), tree=True),
    "lbfgs": Case(lambda: oc.lbfgs(memory_size=3), _linesearch, tree=True),
    "lbfgs[strong_wolfe]": Case(
        lambda: oc.lbfgs(memory_size=3, linesearch="strong_wolfe"), _linesearch, tree=True
    ),
    "scale_by_strong_wolfe_linesearch": Case(
        lambda: optax.chain(oc.scale(-1.0), oc.scale_by_strong_wolfe_linesearch()),
        _linesearch,
        tree=True,
    ),
    # lookahead on a plain tree, around Adam
    "slow_weights_in_state": Case(
        lambda: oc.slow_weights_in_state(oc.lookahead(oc.adam(0.01), 3, 0.5)),
        far_equal=False,
        why="steps_since_sync is the phase of the sync period: 2**31 - 3 and 2**20 differ mod 3",
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
    "adversarial_perturbation": lambda: oc.adversarial_perturbation(0.05),
    "normalize": oc.normalize,
    "scale_by_shape": lambda: oc.scale_by_shape(),
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
    "newton_schulz",  # a function of one matrix (tests/test_contrib_orthogonalized.py)
    "schedule_free_eval_params",  # reads a state (tests/test_contrib_schedule_free.py)
    # per-example gradients, a leading batch axis (tests/test_contrib_low_rank_private.py)
    "per_example_clip",
    "noisy_aggregate",
    "differentially_private_aggregate",
    "dpsgd",
}

# optax.contrib's primitives and the optimizers that need extra arguments (issue 20)
from reliability_rows_contrib import STATEFUL_CONTRIB  # noqa: E402  (it reads Case from here)

STATEFUL.update(STATEFUL_CONTRIB)

TABLE = {**{f"named:{k}": v for k, v in NAMED_ALL.items()}, **STATEFUL}

# Rows that differ from one above only in what ``init`` sees (a key given as a key: init must
# copy it), checked by the fresh-buffer test alone.
INIT_VARIANTS = {
    "add_noise[key]": lambda: oc.add_noise(0.01, 0.55, key=jax.random.key(1)),
    "add_noise[raw key]": lambda: oc.add_noise(0.01, 0.55, key=jax.random.PRNGKey(1)),
    "perturb_near_saddle[key]": lambda: oc.perturb_near_saddle(key=jax.random.key(3)),
}
