"""Every numeric argument of every public factory is checked at construction, by its public name.

One row per factory x argument lists the bad values that argument must refuse (NaN, a number
out of range, a string, a schedule whose first value is out of range or not a scalar, a
schedule where only a number makes sense); each value is one test case, which asserts a
``ValueError`` whose message names the argument as the user wrote it. Wrong types raise
``ValueError`` too (as the rest of optchain's construction checks do).

:func:`test_every_numeric_argument_has_a_row` walks ``optchain.__all__`` and
``optchain.schedules.__all__`` (optchain's own objects; optax's re-exports are optax's) and
fails for a numeric parameter (a number default, or an annotation naming ``ScalarOrSchedule``,
``float`` or ``int``) without a row here.
"""

from __future__ import annotations

import inspect
import re

import jax.numpy as jnp
import pytest

import optchain as oc
from optchain import schedules as sch

NAN = float("nan")
INF = float("inf")


def first(value):
    """A schedule whose value at step 0 is ``value``."""

    def schedule(step):
        del step
        return jnp.asarray(value, jnp.float32)

    schedule.__name__ = f"schedule_from_{value}"
    return schedule


def vector_schedule(step):
    """A schedule that returns a vector, not a scalar."""
    del step
    return jnp.ones(2, jnp.float32)


# Bad values by the range an argument allows. ``first(v)`` is a schedule starting at ``v``.
UNIT_OPEN = (1.0, -0.1, NAN, "0.9", first(1.0), vector_schedule)  # [0, 1)
UNIT = (1.5, -0.1, NAN, "0.9", first(1.5), vector_schedule)  # [0, 1]
HALF_OPEN_UNIT = (0.0, 1.5, NAN, "0.5", first(0.0), vector_schedule)  # (0, 1]
NONNEG = (-1.0, NAN, INF, "0.1", first(-1.0), vector_schedule)  # [0, inf)
POSITIVE = (0.0, -1.0, NAN, "1.0", first(0.0), vector_schedule)  # (0, inf)
FINITE = (NAN, INF, "1.0", first(NAN), vector_schedule)  # any finite number
# numbers only: a schedule is refused too
NUMBER = (NAN, INF, "1.0", first(1.0))
NUMBER_NONNEG = (-1.0, NAN, INF, "0.1", first(0.1))
NUMBER_POSITIVE = (0.0, -1.0, NAN, "1.0", first(1.0))
NUMBER_UNIT = (1.5, -0.1, NAN, "0.5", first(0.5))  # [0, 1]
NUMBER_OPEN_UNIT = (0.0, 1.0, NAN, "0.5", first(0.5))  # (0, 1)
NUMBER_HALF_OPEN_UNIT = (0.0, 1.5, NAN, "0.5", first(0.5))  # (0, 1]
NUMBER_UNIT_OPEN = (1.0, -0.1, NAN, "0.9", first(0.5))  # [0, 1)
# integers
INT_NONNEG = (-1, 1.5, "3", NAN, first(1))
INT_POSITIVE = (0, -1, 1.5, "3", NAN, first(1))
SEED = ("0", 1.5, NAN, True, jnp.zeros(3))  # an int seed or a key
SCHEDULE = ("0.1", 0.1, vector_schedule, first(NAN))  # any schedule step -> finite scalar

# name -> (factory, the required arguments of a valid call)
FACTORIES = {
    # combinators
    "divide": (oc.divide, {"numerator": oc.identity(), "denominator": oc.identity()}),
    # moments
    "momentum": (oc.momentum, {}),
    "first_moment": (oc.first_moment, {}),
    "second_moment": (oc.second_moment, {}),
    "ema": (oc.ema, {"decay": 0.9}),
    "bias_correction": (oc.bias_correction, {"decay": 0.9}),
    # scaling
    "scale": (oc.scale, {"step_size": 0.1}),
    "scale_by_learning_rate": (oc.scale_by_learning_rate, {}),
    "scale_by_rms": (oc.scale_by_rms, {}),
    "scale_by_stddev": (oc.scale_by_stddev, {}),
    "scale_by_sum_of_squares": (oc.scale_by_sum_of_squares, {}),
    "scale_by_adadelta": (oc.scale_by_adadelta, {}),
    "infinity_norm": (oc.infinity_norm, {}),
    # moments of the Adam-like zoo
    "scale_by_lion": (oc.scale_by_lion, {}),
    "scale_by_belief": (oc.scale_by_belief, {}),
    "yogi_second_moment": (oc.yogi_second_moment, {}),
    "radam_rectification": (oc.radam_rectification, {}),
    "sqrt": (oc.sqrt, {}),
    "scale_by_schedule": (oc.scale_by_schedule, {"step_size_fn": first(0.1)}),
    # noise, clipping, decay
    "add_noise": (oc.add_noise, {"eta": 0.01, "gamma": 0.55}),
    "perturb_near_saddle": (oc.perturb_near_saddle, {}),
    "clip": (oc.clip, {"max_delta": 1.0}),
    "clip_by_global_norm": (oc.clip_by_global_norm, {"max_norm": 1.0}),
    "clip_by_block_norm": (oc.clip_by_block_norm, {"max_norm": 1.0}),
    "clip_by_block_rms": (oc.clip_by_block_rms, {"threshold": 1.0}),
    "scale_by_factored_rms": (oc.scale_by_factored_rms, {}),
    "scale_by_sm3": (oc.scale_by_sm3, {}),
    "scale_by_param_block_rms": (oc.scale_by_param_block_rms, {}),
    "scale_by_param_block_norm": (oc.scale_by_param_block_norm, {}),
    "adafactor": (oc.adafactor, {}),
    "sm3": (oc.sm3, {"learning_rate": 0.1}),
    "adaptive_grad_clip": (oc.adaptive_grad_clip, {"clipping": 0.01}),
    "add_decayed_weights": (oc.add_decayed_weights, {}),
    "decoupled_weight_decay": (oc.decoupled_weight_decay, {}),
    # per-element step sizes
    "scale_by_delta_bar_delta": (oc.scale_by_delta_bar_delta, {"learning_rate": 0.1}),
    "scale_by_rprop": (oc.scale_by_rprop, {"learning_rate": 0.1}),
    "scale_by_ftml": (oc.scale_by_ftml, {"learning_rate": 0.1}),
    # averaging
    "tail_average": (oc.tail_average, {"window": 3}),
    "polyak_average": (oc.polyak_average, {}),
    "ema_params": (oc.ema_params, {}),
    # guards, plateau, diagnostics-driven transforms, precision, layer-wise
    "skip_nonfinite": (oc.skip_nonfinite, {"inner": oc.identity()}),
    "reduce_on_plateau_torch": (oc.reduce_on_plateau_torch, {}),
    "scale_by_safe_step": (
        oc.scale_by_safe_step,
        {"learning_rate": 0.1, "loss_fn": lambda params: 0.0},
    ),
    "monitored": (oc.monitored, {"inner": oc.identity()}),
    "low_precision_state": (oc.low_precision_state, {"inner": oc.identity()}),
    "scale_by_trust_ratio": (oc.scale_by_trust_ratio, {}),
    "scale_by_lbfgs": (oc.scale_by_lbfgs, {}),
    "lbfgs": (oc.lbfgs, {}),
    "lookahead": (
        oc.lookahead,
        {"fast_optimizer": oc.identity(), "sync_period": 2, "slow_step_size": 0.5},
    ),
    # distributed
    "sparse_mean": (oc.sparse_mean, {"axis_name": "batch", "density": 0.1}),
    "dgc_sparsify": (oc.dgc_sparsify, {"density": 0.1}),
    # named optimizers
    "sgd": (oc.sgd, {"learning_rate": 0.1}),
    # zoo part 2 (tests/test_zoo_extrapolating.py)
    "scale_by_optimistic_gradient": (oc.scale_by_optimistic_gradient, {}),
    "scale_by_adan": (oc.scale_by_adan, {}),
    "scale_by_novograd": (oc.scale_by_novograd, {}),
    "scale_by_polyak": (oc.scale_by_polyak, {}),
    "adan": (oc.adan, {"learning_rate": 0.1}),
    "novograd": (oc.novograd, {"learning_rate": 0.1}),
    "fromage": (oc.fromage, {"learning_rate": 0.1}),
    "polyak_sgd": (oc.polyak_sgd, {}),
    "optimistic_gradient_descent": (oc.optimistic_gradient_descent, {"learning_rate": 0.1}),
    "optimistic_adam": (oc.optimistic_adam, {"learning_rate": 0.1}),
    "optimistic_adam_v2": (oc.optimistic_adam_v2, {"learning_rate": 0.1}),
    "noisy_sgd": (oc.noisy_sgd, {"learning_rate": 0.1}),
    "adagrad": (oc.adagrad, {"learning_rate": 0.1}),
    "rmsprop": (oc.rmsprop, {"learning_rate": 0.1}),
    "adadelta": (oc.adadelta, {}),
    "adam": (oc.adam, {"learning_rate": 0.1}),
    "adamw": (oc.adamw, {"learning_rate": 0.1}),
    "amsgrad": (oc.amsgrad, {"learning_rate": 0.1}),
    "nadam": (oc.nadam, {"learning_rate": 0.1}),
    "adamax": (oc.adamax, {"learning_rate": 0.1}),
    "lamb": (oc.lamb, {"learning_rate": 0.1}),
    "ftml": (oc.ftml, {"learning_rate": 0.1}),
    "sign_sgd": (oc.sign_sgd, {"learning_rate": 0.1}),
    "signum": (oc.signum, {"learning_rate": 0.1}),
    "signum_majority": (oc.signum_majority, {"learning_rate": 0.1, "axis_name": "batch"}),
    "dgc_sgd": (oc.dgc_sgd, {"learning_rate": 0.1, "axis_name": "batch"}),
    "delta_bar_delta": (oc.delta_bar_delta, {"learning_rate": 0.1}),
    "rprop": (oc.rprop, {"learning_rate": 0.1}),
    "lars": (oc.lars, {"learning_rate": 0.1}),
    "scale_by_adam": (oc.scale_by_adam, {}),
    "scale_by_amsgrad": (oc.scale_by_amsgrad, {}),
    "scale_by_adamax": (oc.scale_by_adamax, {}),
    "lion": (oc.lion, {"learning_rate": 0.1}),
    "adabelief": (oc.adabelief, {"learning_rate": 0.1}),
    "yogi": (oc.yogi, {"learning_rate": 0.1}),
    "radam": (oc.radam, {"learning_rate": 0.1}),
    "adamaxw": (oc.adamaxw, {"learning_rate": 0.1}),
    "nadamw": (oc.nadamw, {"learning_rate": 0.1}),
    "scale_by_yogi": (oc.scale_by_yogi, {}),
    "scale_by_radam": (oc.scale_by_radam, {}),
    "scale_by_rss": (oc.scale_by_rss, {}),
    # schedules (optchain.schedules' own)
    "schedules.constant": (sch.constant, {"value": 1.0}),
    "schedules.linear": (
        sch.linear,
        {"init_value": 1.0, "end_value": 0.0, "transition_steps": 10},
    ),
    "schedules.linear_decay": (sch.linear_decay, {"init_value": 1.0, "decay_steps": 10}),
    "schedules.polynomial": (
        sch.polynomial,
        {"init_value": 1.0, "end_value": 0.0, "power": 2.0, "transition_steps": 10},
    ),
    "schedules.exponential": (sch.exponential, {"init_value": 1.0, "decay_rate": 0.5}),
    "schedules.step_decay": (sch.step_decay, {"init_value": 1.0, "step_size": 3}),
    "schedules.multistep": (sch.multistep, {"init_value": 1.0, "milestones": [2, 4]}),
    "schedules.cosine": (sch.cosine, {"init_value": 1.0, "decay_steps": 10}),
    "schedules.warmup": (sch.warmup, {"schedule": sch.constant(1.0), "warmup_steps": 4}),
    "schedules.cosine_warm_restarts": (
        sch.cosine_warm_restarts,
        {"init_value": 1.0, "period": 10},
    ),
    "schedules.cyclical": (sch.cyclical, {"base_value": 0.1, "max_value": 1.0}),
    "schedules.one_cycle": (sch.one_cycle, {"max_value": 1.0, "total_steps": 100}),
    "schedules.one_cycle_momentum": (sch.one_cycle_momentum, {"total_steps": 100}),
    "schedules.linear_scaling_rule": (
        sch.linear_scaling_rule,
        {"base_learning_rate": 0.1, "base_batch_size": 256, "batch_size": 1024},
    ),
    "schedules.dgc_warmup": (sch.dgc_warmup, {"steps_per_epoch": 10}),
}

# Public functions with numeric parameters that are not factories of transforms or schedules.
NOT_FACTORIES = {
    "unitwise_norm",  # a norm of an array (its axis is checked by adaptive_grad_clip's row)
    "collective_bytes",  # reads compiled HLO text
    "schedules.plot",  # draws a schedule
}

# (factory, argument, bad values): one row per factory x argument.
ROWS = [
    # combinators
    ("divide", "eps", NONNEG),
    # moments
    ("momentum", "decay", UNIT),
    ("momentum", "dampening", UNIT),
    ("first_moment", "decay", UNIT),
    ("first_moment", "initial_value", NUMBER),
    ("second_moment", "decay", UNIT),
    ("ema", "decay", UNIT_OPEN),  # debiased: 1 - decay**t must not vanish
    ("bias_correction", "decay", UNIT_OPEN),
    ("bias_correction", "step_offset", INT_NONNEG),
    # scaling
    ("scale", "step_size", FINITE),
    ("scale_by_learning_rate", "learning_rate", NONNEG),
    ("scale_by_rms", "decay", UNIT),
    ("scale_by_rms", "eps", NONNEG),
    ("scale_by_rms", "initial_scale", NUMBER_NONNEG),
    ("scale_by_stddev", "decay", UNIT),
    ("scale_by_stddev", "eps", NONNEG),
    ("scale_by_stddev", "initial_scale", NUMBER_NONNEG),
    ("scale_by_sum_of_squares", "initial_accumulator_value", NUMBER_NONNEG),
    ("scale_by_sum_of_squares", "eps", NONNEG),
    ("scale_by_adadelta", "rho", UNIT),
    ("scale_by_adadelta", "eps", NONNEG),
    ("infinity_norm", "decay", UNIT),
    ("infinity_norm", "eps", NONNEG),
    ("scale_by_lion", "b1", UNIT),
    ("scale_by_lion", "b2", UNIT),
    ("scale_by_lion", "smooth_beta", FINITE),
    ("scale_by_belief", "b1", UNIT_OPEN),
    ("scale_by_belief", "b2", UNIT_OPEN),
    ("scale_by_belief", "eps", NONNEG),
    ("scale_by_belief", "eps_root", NONNEG),
    ("yogi_second_moment", "decay", UNIT),
    ("yogi_second_moment", "initial_accumulator_value", NUMBER_NONNEG),
    ("radam_rectification", "b2", UNIT_OPEN),
    ("radam_rectification", "eps", NONNEG),
    ("radam_rectification", "threshold", NUMBER),
    ("sqrt", "eps_root", NONNEG),
    ("scale_by_schedule", "step_size_fn", SCHEDULE),
    # noise
    ("add_noise", "eta", NONNEG),
    ("add_noise", "gamma", NONNEG),
    ("add_noise", "key", SEED),
    ("add_noise", "seed", SEED),
    ("perturb_near_saddle", "radius", NONNEG),
    ("perturb_near_saddle", "grad_threshold", NONNEG),
    ("perturb_near_saddle", "interval", INT_NONNEG),
    ("perturb_near_saddle", "key", SEED),
    # clipping
    ("clip", "max_delta", NONNEG),
    ("clip_by_global_norm", "max_norm", POSITIVE),
    ("clip_by_block_norm", "max_norm", POSITIVE),
    ("clip_by_block_rms", "threshold", POSITIVE),
    ("scale_by_factored_rms", "decay_rate", NUMBER_NONNEG),
    ("scale_by_factored_rms", "step_offset", INT_NONNEG),
    ("scale_by_factored_rms", "min_dim_size_to_factor", INT_NONNEG),
    ("scale_by_factored_rms", "epsilon", NONNEG),
    ("scale_by_sm3", "b1", NUMBER_UNIT),
    ("scale_by_sm3", "b2", NUMBER_UNIT),
    ("scale_by_sm3", "eps", NUMBER_NONNEG),
    ("scale_by_param_block_rms", "min_scale", NUMBER_NONNEG),
    ("scale_by_param_block_norm", "min_scale", NUMBER_NONNEG),
    ("adafactor", "learning_rate", NONNEG),
    ("adafactor", "min_dim_size_to_factor", INT_NONNEG),
    ("adafactor", "decay_rate", NUMBER_NONNEG),
    ("adafactor", "decay_offset", INT_NONNEG),
    ("adafactor", "clipping_threshold", POSITIVE),
    ("adafactor", "momentum", UNIT),
    ("adafactor", "weight_decay_rate", NONNEG),
    ("adafactor", "eps", NONNEG),
    ("sm3", "learning_rate", NONNEG),
    ("sm3", "momentum", NUMBER_UNIT),
    ("adaptive_grad_clip", "clipping", POSITIVE),
    ("adaptive_grad_clip", "eps", NUMBER_POSITIVE),
    ("adaptive_grad_clip", "axis", ("0", 1.5, NAN, (0, "1"), True)),
    # weight decay
    ("add_decayed_weights", "weight_decay", NONNEG),
    ("decoupled_weight_decay", "weight_decay", UNIT),
    # per-element step sizes
    ("scale_by_delta_bar_delta", "learning_rate", NUMBER_POSITIVE),
    ("scale_by_delta_bar_delta", "kappa", NONNEG),
    ("scale_by_delta_bar_delta", "phi", UNIT),
    ("scale_by_delta_bar_delta", "theta", UNIT_OPEN),
    ("scale_by_rprop", "learning_rate", NUMBER_POSITIVE),
    ("scale_by_rprop", "eta_minus", HALF_OPEN_UNIT),
    ("scale_by_rprop", "eta_plus", (0.5, NAN, INF, "1.2", first(0.5), vector_schedule)),
    ("scale_by_rprop", "min_step_size", NONNEG),
    ("scale_by_rprop", "max_step_size", (1e-7, NAN, INF, "50", first(1e-7), vector_schedule)),
    ("scale_by_ftml", "learning_rate", POSITIVE),
    ("scale_by_ftml", "b1", UNIT_OPEN),
    ("scale_by_ftml", "b2", UNIT_OPEN),
    ("scale_by_ftml", "eps", POSITIVE),
    # averaging
    ("tail_average", "window", INT_POSITIVE),
    ("polyak_average", "start_step", INT_NONNEG),
    ("ema_params", "decay", UNIT),
    # guards, plateau, diagnostics-driven transforms, precision, layer-wise
    ("skip_nonfinite", "max_consecutive_skips", (*INT_NONNEG, 2**31)),
    ("reduce_on_plateau_torch", "factor", NUMBER_OPEN_UNIT),
    ("reduce_on_plateau_torch", "patience", INT_NONNEG),
    ("reduce_on_plateau_torch", "threshold", NUMBER_NONNEG),
    ("reduce_on_plateau_torch", "cooldown", INT_NONNEG),
    ("reduce_on_plateau_torch", "min_scale", NUMBER_UNIT),
    ("reduce_on_plateau_torch", "eps", NUMBER_NONNEG),
    ("scale_by_safe_step", "learning_rate", POSITIVE),
    ("scale_by_safe_step", "fraction", NUMBER_HALF_OPEN_UNIT),
    ("scale_by_safe_step", "every", INT_POSITIVE),
    ("monitored", "explode_threshold", NUMBER_POSITIVE),
    ("monitored", "vanish_threshold", NUMBER_NONNEG),
    ("low_precision_state", "seed", SEED),
    ("scale_by_trust_ratio", "min_norm", NUMBER_NONNEG),
    ("scale_by_trust_ratio", "trust_coefficient", POSITIVE),
    ("scale_by_trust_ratio", "eps", NUMBER_NONNEG),
    ("lookahead", "sync_period", INT_POSITIVE),
    ("scale_by_lbfgs", "memory_size", INT_POSITIVE),
    ("lbfgs", "learning_rate", NONNEG),
    ("lbfgs", "memory_size", INT_POSITIVE),
    ("lookahead", "slow_step_size", NUMBER_UNIT),
    # distributed
    ("sparse_mean", "density", NUMBER_HALF_OPEN_UNIT),
    ("dgc_sparsify", "density", HALF_OPEN_UNIT),
    ("dgc_sparsify", "momentum", UNIT),
    ("dgc_sparsify", "max_density", NUMBER_HALF_OPEN_UNIT),
    # named optimizers
    ("sgd", "learning_rate", NONNEG),
    ("sgd", "momentum", UNIT),
    ("sgd", "dampening", UNIT),
    ("sgd", "weight_decay", NONNEG),
    ("noisy_sgd", "learning_rate", NONNEG),
    ("noisy_sgd", "eta", NONNEG),
    ("noisy_sgd", "gamma", NONNEG),
    ("noisy_sgd", "key", SEED),
    ("noisy_sgd", "seed", SEED),
    ("adagrad", "learning_rate", NONNEG),
    ("adagrad", "initial_accumulator_value", NUMBER_NONNEG),
    ("adagrad", "eps", NONNEG),
    ("adagrad", "weight_decay", NONNEG),
    ("rmsprop", "learning_rate", NONNEG),
    ("rmsprop", "decay", UNIT),
    ("rmsprop", "eps", NONNEG),
    ("rmsprop", "initial_scale", NUMBER_NONNEG),
    ("rmsprop", "momentum", UNIT),
    ("rmsprop", "weight_decay", NONNEG),
    ("adadelta", "learning_rate", NONNEG),
    ("adadelta", "rho", UNIT),
    ("adadelta", "eps", NONNEG),
    ("adadelta", "weight_decay", NONNEG),
    ("adam", "learning_rate", NONNEG),
    ("adam", "b1", UNIT_OPEN),
    ("adam", "b2", UNIT_OPEN),
    ("adam", "eps", NONNEG),
    ("adam", "eps_root", NONNEG),
    ("adam", "weight_decay", NONNEG),
    ("adamw", "learning_rate", NONNEG),
    ("adamw", "b1", UNIT_OPEN),
    ("adamw", "b2", UNIT_OPEN),
    ("adamw", "eps", NONNEG),
    ("adamw", "eps_root", NONNEG),
    ("adamw", "weight_decay", NONNEG),
    ("amsgrad", "learning_rate", NONNEG),
    ("amsgrad", "b1", UNIT_OPEN),
    ("amsgrad", "b2", UNIT_OPEN),
    ("amsgrad", "eps", NONNEG),
    ("amsgrad", "eps_root", NONNEG),
    ("amsgrad", "weight_decay", NONNEG),
    ("nadam", "learning_rate", NONNEG),
    ("nadam", "b1", UNIT_OPEN),
    ("nadam", "b2", UNIT_OPEN),
    ("nadam", "eps", NONNEG),
    ("nadam", "eps_root", NONNEG),
    ("nadam", "weight_decay", NONNEG),
    ("adamax", "learning_rate", NONNEG),
    ("adamax", "b1", UNIT_OPEN),
    ("adamax", "b2", UNIT_OPEN),
    ("adamax", "eps", NONNEG),
    ("adamax", "weight_decay", NONNEG),
    ("lamb", "learning_rate", NONNEG),
    ("lamb", "b1", UNIT_OPEN),
    ("lamb", "b2", UNIT_OPEN),
    ("lamb", "eps", NONNEG),
    ("lamb", "eps_root", NONNEG),
    ("lamb", "weight_decay", NONNEG),
    ("ftml", "learning_rate", POSITIVE),
    ("ftml", "b1", UNIT_OPEN),
    ("ftml", "b2", UNIT_OPEN),
    ("ftml", "eps", POSITIVE),
    ("ftml", "weight_decay", NONNEG),
    ("ftml", "clip_gradient", POSITIVE),
    ("sign_sgd", "learning_rate", NONNEG),
    ("sign_sgd", "weight_decay", NONNEG),
    ("sign_sgd", "wd_lh", NONNEG),
    ("signum", "learning_rate", NONNEG),
    ("signum", "beta", UNIT_OPEN),
    ("signum", "weight_decay", NONNEG),
    ("signum", "wd_lh", NONNEG),
    ("signum_majority", "learning_rate", NONNEG),
    ("signum_majority", "beta", UNIT_OPEN),
    ("signum_majority", "weight_decay", NONNEG),
    ("dgc_sgd", "learning_rate", NONNEG),
    ("dgc_sgd", "density", HALF_OPEN_UNIT),
    ("dgc_sgd", "momentum", UNIT),
    ("dgc_sgd", "max_density", NUMBER_HALF_OPEN_UNIT),
    ("dgc_sgd", "local_clip_norm", POSITIVE),
    ("dgc_sgd", "weight_decay", NONNEG),
    ("delta_bar_delta", "learning_rate", NUMBER_POSITIVE),
    ("delta_bar_delta", "kappa", NONNEG),
    ("delta_bar_delta", "phi", UNIT),
    ("delta_bar_delta", "theta", UNIT_OPEN),
    ("rprop", "learning_rate", NUMBER_POSITIVE),
    ("rprop", "eta_minus", HALF_OPEN_UNIT),
    ("rprop", "eta_plus", (0.5, NAN, INF, "1.2", first(0.5), vector_schedule)),
    ("rprop", "min_step_size", NONNEG),
    ("rprop", "max_step_size", (1e-7, NAN, INF, "50", first(1e-7), vector_schedule)),
    ("lars", "learning_rate", NONNEG),
    ("lars", "weight_decay", NONNEG),
    ("lars", "trust_coefficient", POSITIVE),
    ("lars", "eps", NUMBER_NONNEG),
    ("lars", "momentum", UNIT),
    ("scale_by_adam", "b1", UNIT_OPEN),
    ("scale_by_adam", "b2", UNIT_OPEN),
    ("scale_by_adam", "eps", NONNEG),
    ("scale_by_adam", "eps_root", NONNEG),
    ("scale_by_amsgrad", "b1", UNIT_OPEN),
    ("scale_by_amsgrad", "b2", UNIT_OPEN),
    ("scale_by_amsgrad", "eps", NONNEG),
    ("scale_by_amsgrad", "eps_root", NONNEG),
    ("scale_by_adamax", "b1", UNIT_OPEN),
    ("scale_by_adamax", "b2", UNIT_OPEN),
    ("scale_by_adamax", "eps", NONNEG),
    ("lion", "learning_rate", NONNEG),
    ("lion", "b1", UNIT_OPEN),
    ("lion", "b2", UNIT_OPEN),
    ("lion", "weight_decay", NONNEG),
    ("adabelief", "learning_rate", NONNEG),
    ("adabelief", "b1", UNIT_OPEN),
    ("adabelief", "b2", UNIT_OPEN),
    ("adabelief", "eps", NONNEG),
    ("adabelief", "eps_root", NONNEG),
    ("adabelief", "weight_decay", NONNEG),
    ("yogi", "learning_rate", NONNEG),
    ("yogi", "b1", UNIT_OPEN),
    ("yogi", "b2", UNIT_OPEN),
    ("yogi", "eps", NONNEG),
    ("radam", "learning_rate", NONNEG),
    ("radam", "b1", UNIT_OPEN),
    ("radam", "b2", UNIT_OPEN),
    ("radam", "eps", NONNEG),
    ("radam", "eps_root", NONNEG),
    ("radam", "threshold", NUMBER),
    ("adamaxw", "learning_rate", NONNEG),
    ("adamaxw", "b1", UNIT_OPEN),
    ("adamaxw", "b2", UNIT_OPEN),
    ("adamaxw", "eps", NONNEG),
    ("adamaxw", "weight_decay", NONNEG),
    ("nadamw", "learning_rate", NONNEG),
    ("nadamw", "b1", UNIT_OPEN),
    ("nadamw", "b2", UNIT_OPEN),
    ("nadamw", "eps", NONNEG),
    ("nadamw", "eps_root", NONNEG),
    ("nadamw", "weight_decay", NONNEG),
    ("scale_by_yogi", "b1", UNIT_OPEN),
    ("scale_by_yogi", "b2", UNIT_OPEN),
    ("scale_by_yogi", "eps", NONNEG),
    ("scale_by_yogi", "eps_root", NONNEG),
    ("scale_by_yogi", "initial_accumulator_value", NUMBER_NONNEG),
    ("scale_by_radam", "b1", UNIT_OPEN),
    ("scale_by_radam", "b2", UNIT_OPEN),
    ("scale_by_radam", "eps", NONNEG),
    ("scale_by_radam", "eps_root", NONNEG),
    ("scale_by_radam", "threshold", NUMBER),
    ("scale_by_rss", "initial_accumulator_value", NUMBER_NONNEG),
    ("scale_by_rss", "eps", NONNEG),
    # schedules
    ("schedules.constant", "value", NUMBER),
    ("schedules.linear", "init_value", NUMBER),
    ("schedules.linear", "end_value", NUMBER),
    ("schedules.linear", "transition_steps", INT_POSITIVE),
    ("schedules.linear_decay", "init_value", NUMBER_NONNEG),
    ("schedules.linear_decay", "decay_steps", INT_POSITIVE),
    ("schedules.linear_decay", "end_value", NUMBER),
    ("schedules.polynomial", "init_value", NUMBER),
    ("schedules.polynomial", "end_value", NUMBER),
    ("schedules.polynomial", "power", NUMBER_NONNEG),
    ("schedules.polynomial", "transition_steps", INT_POSITIVE),
    ("schedules.polynomial", "transition_begin", INT_NONNEG),
    ("schedules.exponential", "init_value", NUMBER),
    ("schedules.exponential", "decay_rate", NUMBER_POSITIVE),
    ("schedules.exponential", "transition_steps", INT_POSITIVE),
    ("schedules.exponential", "end_value", NUMBER),
    ("schedules.step_decay", "init_value", NUMBER),
    ("schedules.step_decay", "step_size", INT_POSITIVE),
    ("schedules.step_decay", "gamma", NUMBER_POSITIVE),
    ("schedules.multistep", "init_value", NUMBER),
    ("schedules.multistep", "milestones", ([-1], [1.5], ["2"], 3, "24")),
    ("schedules.multistep", "gamma", NUMBER_NONNEG),
    ("schedules.cosine", "init_value", NUMBER),
    ("schedules.cosine", "decay_steps", INT_POSITIVE),
    ("schedules.cosine", "end_value", NUMBER),
    ("schedules.warmup", "schedule", SCHEDULE),
    ("schedules.warmup", "warmup_steps", INT_POSITIVE),
    ("schedules.warmup", "init_value", NUMBER),
    ("schedules.cosine_warm_restarts", "init_value", NUMBER),
    ("schedules.cosine_warm_restarts", "period", INT_POSITIVE),
    ("schedules.cosine_warm_restarts", "period_mult", INT_POSITIVE),
    ("schedules.cosine_warm_restarts", "end_value", NUMBER),
    ("schedules.cyclical", "base_value", NUMBER),
    ("schedules.cyclical", "max_value", NUMBER),
    ("schedules.cyclical", "step_size_up", INT_POSITIVE),
    ("schedules.cyclical", "step_size_down", INT_POSITIVE),
    ("schedules.cyclical", "gamma", NUMBER_POSITIVE),
    ("schedules.one_cycle", "max_value", NUMBER_NONNEG),
    ("schedules.one_cycle", "total_steps", (1, *INT_POSITIVE)),
    ("schedules.one_cycle", "pct_start", NUMBER_OPEN_UNIT),
    ("schedules.one_cycle", "div_factor", NUMBER_POSITIVE),
    ("schedules.one_cycle", "final_div_factor", NUMBER_POSITIVE),
    ("schedules.one_cycle_momentum", "total_steps", (1, *INT_POSITIVE)),
    ("schedules.one_cycle_momentum", "base_momentum", NUMBER_UNIT),
    ("schedules.one_cycle_momentum", "max_momentum", NUMBER_UNIT),
    ("schedules.one_cycle_momentum", "pct_start", NUMBER_OPEN_UNIT),
    ("schedules.linear_scaling_rule", "base_learning_rate", NUMBER_NONNEG),
    ("schedules.linear_scaling_rule", "base_batch_size", INT_POSITIVE),
    ("schedules.linear_scaling_rule", "batch_size", INT_POSITIVE),
    ("schedules.linear_scaling_rule", "warmup_steps", INT_NONNEG),
    ("schedules.linear_scaling_rule", "schedule", ("constant", 3, vector_schedule)),
    ("schedules.dgc_warmup", "steps_per_epoch", INT_POSITIVE),
    ("schedules.dgc_warmup", "final_density", NUMBER_HALF_OPEN_UNIT),
    ("schedules.dgc_warmup", "warmup_epochs", INT_NONNEG),
    ("schedules.dgc_warmup", "factor", NUMBER_HALF_OPEN_UNIT),
    # zoo part 2 (tests/test_zoo_extrapolating.py)
    ("scale_by_optimistic_gradient", "alpha", NONNEG),
    ("scale_by_optimistic_gradient", "beta", NONNEG),
    ("scale_by_adan", "b1", NUMBER_UNIT_OPEN),
    ("scale_by_adan", "b2", NUMBER_UNIT_OPEN),
    ("scale_by_adan", "b3", NUMBER_UNIT_OPEN),
    ("scale_by_adan", "eps", NONNEG),
    ("scale_by_adan", "eps_root", NONNEG),
    ("scale_by_novograd", "b1", UNIT_OPEN),
    ("scale_by_novograd", "b2", UNIT_OPEN),
    ("scale_by_novograd", "eps", NONNEG),
    ("scale_by_novograd", "eps_root", NONNEG),
    ("scale_by_novograd", "weight_decay", NONNEG),
    ("scale_by_polyak", "f_min", NUMBER),
    ("scale_by_polyak", "max_learning_rate", NUMBER_NONNEG),
    ("scale_by_polyak", "eps", NUMBER_NONNEG),
    ("adan", "learning_rate", NONNEG),
    ("adan", "b1", NUMBER_UNIT_OPEN),
    ("adan", "b2", NUMBER_UNIT_OPEN),
    ("adan", "b3", NUMBER_UNIT_OPEN),
    ("adan", "eps", NONNEG),
    ("adan", "eps_root", NONNEG),
    ("adan", "weight_decay", NONNEG),
    ("novograd", "learning_rate", NONNEG),
    ("novograd", "b1", UNIT_OPEN),
    ("novograd", "b2", UNIT_OPEN),
    ("novograd", "eps", NONNEG),
    ("novograd", "eps_root", NONNEG),
    ("novograd", "weight_decay", NONNEG),
    ("fromage", "learning_rate", NONNEG),
    ("fromage", "min_norm", NUMBER_NONNEG),
    ("polyak_sgd", "max_learning_rate", NUMBER_NONNEG),
    ("polyak_sgd", "scaling", NONNEG),
    ("polyak_sgd", "f_min", NUMBER),
    ("polyak_sgd", "eps", NUMBER_NONNEG),
    ("optimistic_gradient_descent", "learning_rate", NONNEG),
    ("optimistic_gradient_descent", "alpha", NONNEG),
    ("optimistic_gradient_descent", "beta", NONNEG),
    ("optimistic_adam", "learning_rate", NONNEG),
    ("optimistic_adam", "optimism", NONNEG),
    ("optimistic_adam", "b1", UNIT_OPEN),
    ("optimistic_adam", "b2", UNIT_OPEN),
    ("optimistic_adam", "eps", NONNEG),
    ("optimistic_adam", "eps_root", NONNEG),
    ("optimistic_adam_v2", "learning_rate", NONNEG),
    ("optimistic_adam_v2", "alpha", NONNEG),
    ("optimistic_adam_v2", "beta", NONNEG),
    ("optimistic_adam_v2", "b1", UNIT_OPEN),
    ("optimistic_adam_v2", "b2", UNIT_OPEN),
    ("optimistic_adam_v2", "eps", NONNEG),
    ("optimistic_adam_v2", "eps_root", NONNEG),
]


def _label(value) -> str:
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    if hasattr(value, "shape"):
        return f"array{tuple(value.shape)}"
    return repr(value)


CASES = [
    pytest.param(factory, argument, bad, id=f"{factory}-{argument}={_label(bad)}")
    for factory, argument, bads in ROWS
    for bad in bads
]


@pytest.mark.parametrize("factory,argument,bad", CASES)
def test_bad_value_is_rejected_naming_the_argument(factory, argument, bad):
    make, required = FACTORIES[factory]
    with pytest.raises(ValueError, match=rf"\b{re.escape(argument)}\b"):
        make(**{**required, argument: bad})


@pytest.mark.parametrize("factory", sorted(FACTORIES))
def test_the_valid_call_of_each_row_is_accepted(factory):
    make, required = FACTORIES[factory]
    make(**required)


_NUMERIC_ANNOTATION = re.compile(r"ScalarOrSchedule|\bfloat\b|\bint\b")


def _is_numeric(parameter: inspect.Parameter) -> bool:
    default = parameter.default
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return True
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        return False
    return bool(_NUMERIC_ANNOTATION.search(str(annotation)))


def _own_functions():
    """``(name, function)`` for optchain's own public functions (optax's re-exports excluded)."""
    for module, prefix in ((oc, ""), (sch, "schedules.")):
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.isfunction(obj) or obj.__module__.startswith("optax"):
                continue
            yield prefix + name, obj


def test_every_numeric_argument_has_a_row():
    covered = {(factory, argument) for factory, argument, _ in ROWS}
    missing = []
    for name, function in _own_functions():
        if name in NOT_FACTORIES:
            continue
        for parameter in inspect.signature(function).parameters.values():
            if _is_numeric(parameter) and (name, parameter.name) not in covered:
                missing.append(f"{name}({parameter.name})")
    assert not missing, f"numeric arguments without a row in ROWS: {missing}"


def test_the_table_names_the_public_objects():
    own = dict(_own_functions())
    for name, (make, _) in FACTORIES.items():
        assert own.get(name) is make, name
    for factory, argument, bads in ROWS:
        assert argument in inspect.signature(FACTORIES[factory][0]).parameters, (factory, argument)
        assert bads, (factory, argument)


def test_coverage_counts():
    arguments = {(factory, argument) for factory, argument, _ in ROWS}
    assert len(arguments) == len(ROWS)  # one row per factory x argument
    factories = {factory for factory, _ in arguments}
    print(f"{len(factories)} factories, {len(arguments)} arguments, {len(CASES)} bad-value cases")
    assert factories == set(FACTORIES)


# Values that references accept (optax, torch.optim, MXNet) and that must stay accepted.
ACCEPTED = [
    ("sgd", {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0}),
    ("sgd", {"learning_rate": 0.0, "momentum": 1.0}),
    ("adam", {"b1": 0.0, "b2": 0.0, "eps": 0.0, "eps_root": 0.0, "learning_rate": 0.0}),
    ("adamw", {"weight_decay": 0.0}),
    ("rmsprop", {"decay": 1.0, "eps": 0.0, "momentum": 0.0}),
    ("rprop", {"eta_minus": 0.5, "eta_plus": 1.2, "min_step_size": 1e-6, "max_step_size": 50.0}),
    ("rprop", {"eta_minus": 1.0, "eta_plus": 1.0, "min_step_size": 0.0}),
    ("ftml", {"b1": 0.6, "b2": 0.999, "eps": 1e-8}),
    ("ftml", {"b1": 0.0}),
    ("ema", {"decay": 1.0, "debias": False}),
    ("ema", {"decay": 0.0}),
    ("bias_correction", {"decay": 0.0, "step_offset": 3}),
    ("scale_by_rms", {"decay": 1.0}),
    ("momentum", {"decay": 1.0, "dampening": 1.0}),
    ("scale", {"step_size": -1.0}),
    ("scale", {"step_size": first(-0.5)}),
    ("decoupled_weight_decay", {"weight_decay": 1.0}),
    ("perturb_near_saddle", {"interval": 0}),
    ("scale_by_safe_step", {"every": jnp.int32(3)}),
    ("adaptive_grad_clip", {"axis": (0, -1)}),
    ("adaptive_grad_clip", {"axis": -1}),
    ("low_precision_state", {"seed": -7}),
    ("dgc_sgd", {"local_clip_norm": first(1.0), "density": first(0.25)}),
    ("delta_bar_delta", {"learning_rate": 1e-3, "phi": 0.0, "theta": 0.0}),
    ("schedules.multistep", {"milestones": (0, 3, 3)}),
    ("schedules.exponential", {"end_value": 0.0}),
    ("schedules.step_decay", {"step_size": 1, "gamma": 1.0}),
    ("schedules.linear_scaling_rule", {"warmup_steps": 0, "schedule": sch.constant}),
    ("schedules.warmup", {"schedule": lambda step: jnp.float32(-1.0)}),
]


@pytest.mark.parametrize(
    "factory,kwargs", [pytest.param(f, k, id=f"{f}-{sorted(k)}") for f, k in ACCEPTED]
)
def test_values_references_accept_stay_accepted(factory, kwargs):
    make, required = FACTORIES[factory]
    make(**{**required, **kwargs})


@pytest.mark.parametrize(
    "make,message",
    [
        # debiasing divides by 1 - decay**t: decay = 1 is refused only there
        (lambda: oc.ema(1.0), r"decay must be in \[0, 1\); got 1.0"),
        (lambda: oc.scale_by_rms(1.0, bias_correction=True), r"decay must be in \[0, 1\)"),
        (lambda: oc.scale_by_stddev(1.0, bias_correction=True), r"decay must be in \[0, 1\)"),
        (lambda: oc.rmsprop(0.1, decay=1.0, bias_correction=True), r"decay must be in \[0, 1\)"),
        # named optimizers speak the user's words, schedules at their first value
        (lambda: oc.adam(0.1, b1=1.5), r"^adam: b1 must be in \[0, 1\); got 1.5$"),
        (
            lambda: oc.sgd(0.1, momentum=lambda step: jnp.float32(2.0)),
            r"^sgd: momentum must be in \[0, 1\]; got 2.0 \(the schedule's value at step 0\)$",
        ),
        (lambda: oc.signum(0.1, beta=vector_schedule), r"^signum: beta schedule must return"),
        (lambda: oc.delta_bar_delta(0.0), r"^delta_bar_delta: learning_rate must be in \(0, inf\)"),
        # primitives check a schedule's first value against the number's range
        (lambda: oc.clip(first(-1.0)), r"max_delta must be in \[0, inf\); got -1.0 \(the sch"),
        (lambda: oc.scale_by_safe_step(0.1, lambda p: 0.0, every=2.0), r"every must be an int"),
    ],
)
def test_error_messages(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_schedule_that_cannot_run_eagerly_is_left_to_the_trace():
    def traced_only(step):
        return jnp.float32(0.9) if isinstance(step, int) else step.not_an_attribute

    oc.momentum(traced_only)
    oc.adam(0.1, b1=traced_only)
