"""The factories of tests/test_arguments.py and the bad values their arguments must refuse.

``FACTORIES`` maps a public name to its factory and the required arguments of a valid call;
the tuples below are bad values by the range an argument allows (used by the rows of
tests/argument_rows.py, tests/argument_rows_more.py and tests/argument_rows_contrib.py).
"""

from __future__ import annotations

import jax.numpy as jnp

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
NUMBER_NONPOS = (0.5, NAN, -INF, "-0.8", first(-0.8))  # (-inf, 0]
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
# a pair (b1, b2) of numbers in [0, 1) (Prodigy's, D-Adaptation's betas)
BETAS = ((1.0, 0.999), (0.9, 1.0), (-0.1, 0.9), (NAN, 0.9), (0.9, INF), ("0.9", 0.999))
BETAS += ((first(0.5), 0.999), 0.9, "0.9", (0.9,), (0.9, 0.999, 0.5))

_SGD = oc.sgd(0.1)  # the base optimizer of the wrappers below
_SAM = {"optimizer": _SGD, "adv_optimizer": oc.adversarial_perturbation(0.05)}

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
    "scale_by_factored_rms_torch": (oc.scale_by_factored_rms_torch, {}),
    "scale_by_relative_step": (oc.scale_by_relative_step, {}),
    "adafactor_torch": (oc.adafactor_torch, {}),
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
    "scale_by_strong_wolfe_linesearch": (oc.scale_by_strong_wolfe_linesearch, {}),
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
    # torch's ASGD (tests/test_zoo_torch.py)
    "asgd": (oc.asgd, {"learning_rate": 0.1}),
    "scale_by_asgd_rate": (oc.scale_by_asgd_rate, {"learning_rate": 0.1}),
    "scale_by_rss": (oc.scale_by_rss, {}),
    # MXNet's FTRL, DCASGD, SGLD (tests/test_zoo_mxnet.py)
    "ftrl_proximal": (oc.ftrl_proximal, {"learning_rate": 0.1}),
    "delay_compensation": (oc.delay_compensation, {}),
    "add_langevin_noise": (oc.add_langevin_noise, {"learning_rate": 0.1}),
    "ftrl": (oc.ftrl, {"learning_rate": 0.1}),
    "dcasgd": (oc.dcasgd, {"learning_rate": 0.1}),
    "sgld": (oc.sgld, {"learning_rate": 0.1}),
    # optax.contrib rebuilds (tests/argument_rows_contrib.py)
    "normalize_by_previous_rms": (oc.normalize_by_previous_rms, {}),
    "previous_centered_rms": (oc.previous_centered_rms, {}),
    "dual_averaging": (oc.dual_averaging, {"learning_rate": 0.1}),
    "adopt": (oc.adopt, {"learning_rate": 0.1}),
    "scale_by_adopt": (oc.scale_by_adopt, {}),
    "acprop": (oc.acprop, {"learning_rate": 0.1}),
    "scale_by_acprop": (oc.scale_by_acprop, {}),
    "madgrad": (oc.madgrad, {"learning_rate": 0.1}),
    "scale_by_madgrad": (oc.scale_by_madgrad, {"learning_rate": 0.1}),
    "ema_mixture": (oc.ema_mixture, {}),
    "accumulator_mixture": (oc.accumulator_mixture, {}),
    "squared_gradient_average": (oc.squared_gradient_average, {}),
    "ademamix": (oc.ademamix, {"learning_rate": 0.1}),
    "scale_by_ademamix": (oc.scale_by_ademamix, {}),
    "simplified_ademamix": (oc.simplified_ademamix, {"learning_rate": 0.1}),
    "scale_by_simplified_ademamix": (oc.scale_by_simplified_ademamix, {}),
    "scale_by_dog": (oc.scale_by_dog, {"init_step": ("heuristic", 1e-6)}),
    "scale_by_dowg": (oc.scale_by_dowg, {}),
    "scale_by_coin_betting": (oc.scale_by_coin_betting, {}),
    "dog": (oc.dog, {}),
    "dowg": (oc.dowg, {}),
    "cocob": (oc.cocob, {}),
    "scale_by_cocob": (oc.scale_by_cocob, {}),
    "orthogonalize_matrices": (oc.orthogonalize_matrices, {}),
    "scale_by_shape": (oc.scale_by_shape, {}),
    "muon": (oc.muon, {"learning_rate": 0.1}),
    "scale_by_muon": (oc.scale_by_muon, {}),
    "galore_projection": (oc.galore_projection, {"base_optimizer": _SGD}),
    "galore": (oc.galore, {"learning_rate": 0.1}),
    "scale_by_galore": (oc.scale_by_galore, {}),
    "differentially_private_aggregate": (
        oc.differentially_private_aggregate,
        {"l2_norm_clip": 1.0, "noise_multiplier": 0.1},
    ),
    "dpsgd": (
        oc.dpsgd,
        {"learning_rate": 0.1, "l2_norm_clip": 1.0, "noise_multiplier": 0.1, "seed": 0},
    ),
    "adversarial_perturbation": (oc.adversarial_perturbation, {}),
    "sharpness_aware": (oc.sharpness_aware, _SAM),
    "sharpness_aware_inner_loop": (oc.sharpness_aware_inner_loop, _SAM),
    "sam": (oc.sam, _SAM),
    "sophia_preconditioner": (oc.sophia_preconditioner, {}),
    "sophia": (oc.sophia, {"learning_rate": 0.1}),
    "momo_step": (oc.momo_step, {}),
    "momo": (oc.momo, {}),
    "momo_adam_step": (oc.momo_adam_step, {}),
    "momo_adam": (oc.momo_adam, {}),
    "exp_avg": (oc.exp_avg, {}),
    "exp_avg_sq": (oc.exp_avg_sq, {}),
    "scale_by_distance_estimate": (
        oc.scale_by_distance_estimate,
        {"numerator": oc.exp_avg(), "denominator": oc.exp_avg_sq()},
    ),
    "prodigy": (oc.prodigy, {}),
    "dadapt_adamw": (oc.dadapt_adamw, {}),
    "scale_by_mechanic": (oc.scale_by_mechanic, {"base_optimizer": _SGD}),
    "mechanize": (oc.mechanize, {"base_optimizer": _SGD}),
    "schedule_free": (oc.schedule_free, {"base_optimizer": _SGD, "learning_rate": 0.1}),
    "schedule_free_sgd": (oc.schedule_free_sgd, {}),
    "schedule_free_adamw": (oc.schedule_free_adamw, {}),
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
    # a function of an array (often traced): its ns_steps and eps are checked by the rows of
    # orthogonalize_matrices, scale_by_muon and muon, which call it
    "newton_schulz",
}
