"""The rows of tests/test_arguments.py for optchain's rebuilds of optax.contrib (the rest of ROWS).

Each row is ``(factory, argument, bad values)``; tests/argument_rows.py appends these to ROWS.
A transform checks its own arguments (``_core.check_hyperparameter``), a named optimizer its
public names through ``RULES`` (optchain/_checks.py); both ranges are the same where a recipe
passes an argument through.
"""

from __future__ import annotations

from argument_factories import (
    BETAS,
    FINITE,
    INT_NONNEG,
    INT_POSITIVE,
    NONNEG,
    NUMBER,
    NUMBER_HALF_OPEN_UNIT,
    NUMBER_NONNEG,
    NUMBER_POSITIVE,
    NUMBER_UNIT_OPEN,
    POSITIVE,
    SEED,
    UNIT,
    UNIT_OPEN,
)

# The Adam fixes (ADOPT, AcProp, MADGRAD) and their moments (tests/test_contrib_adam_fixes.py)
_ADAM_FIXES = [
    ("normalize_by_previous_rms", "b2", UNIT_OPEN),
    ("normalize_by_previous_rms", "eps", NONNEG),
    ("previous_centered_rms", "b1", UNIT_OPEN),
    ("previous_centered_rms", "b2", NUMBER_UNIT_OPEN),
    ("previous_centered_rms", "eps_root", NONNEG),
    ("dual_averaging", "learning_rate", NONNEG),
    ("dual_averaging", "momentum", UNIT),
    ("dual_averaging", "eps", NONNEG),
    ("adopt", "learning_rate", NONNEG),
    ("adopt", "b1", UNIT_OPEN),
    ("adopt", "b2", UNIT_OPEN),
    ("adopt", "eps", NONNEG),
    ("scale_by_adopt", "b1", UNIT_OPEN),
    ("scale_by_adopt", "b2", UNIT_OPEN),
    ("scale_by_adopt", "eps", NONNEG),
    ("acprop", "learning_rate", NONNEG),
    ("acprop", "b1", UNIT_OPEN),
    ("acprop", "b2", NUMBER_UNIT_OPEN),
    ("acprop", "eps", NONNEG),
    ("acprop", "eps_root", NONNEG),
    ("acprop", "weight_decay", NONNEG),
    ("scale_by_acprop", "b1", UNIT_OPEN),
    ("scale_by_acprop", "b2", NUMBER_UNIT_OPEN),
    ("scale_by_acprop", "eps", NONNEG),
    ("scale_by_acprop", "eps_root", NONNEG),
    ("madgrad", "learning_rate", NONNEG),
    ("madgrad", "momentum", UNIT),
    ("madgrad", "weight_decay", NONNEG),
    ("madgrad", "eps", NONNEG),
    ("scale_by_madgrad", "learning_rate", NONNEG),
    ("scale_by_madgrad", "momentum", UNIT),
    ("scale_by_madgrad", "eps", NONNEG),
]

# AdEMAMix and its slow moments (optchain/optimizers/ademamix.py)
_ADEMAMIX = [
    ("ema_mixture", "b1", NUMBER_UNIT_OPEN),
    ("ema_mixture", "b3", UNIT_OPEN),
    ("ema_mixture", "alpha", NONNEG),
    ("accumulator_mixture", "b1", UNIT_OPEN),
    ("accumulator_mixture", "alpha", NONNEG),
    ("squared_gradient_average", "b2", UNIT),
    ("ademamix", "learning_rate", NONNEG),
    ("ademamix", "b1", NUMBER_UNIT_OPEN),
    ("ademamix", "b2", UNIT_OPEN),
    ("ademamix", "b3", UNIT_OPEN),
    ("ademamix", "alpha", NONNEG),
    ("ademamix", "eps", NONNEG),
    ("ademamix", "eps_root", NONNEG),
    ("ademamix", "weight_decay", NONNEG),
    ("scale_by_ademamix", "b1", NUMBER_UNIT_OPEN),
    ("scale_by_ademamix", "b2", UNIT_OPEN),
    ("scale_by_ademamix", "b3", UNIT_OPEN),
    ("scale_by_ademamix", "alpha", NONNEG),
    ("scale_by_ademamix", "eps", NONNEG),
    ("scale_by_ademamix", "eps_root", NONNEG),
    ("simplified_ademamix", "learning_rate", NONNEG),
    ("simplified_ademamix", "b1", UNIT_OPEN),
    ("simplified_ademamix", "b2", UNIT_OPEN),
    ("simplified_ademamix", "alpha", NONNEG),
    ("simplified_ademamix", "eps", NONNEG),
    ("simplified_ademamix", "eps_root", NONNEG),
    ("simplified_ademamix", "weight_decay", NONNEG),
    ("scale_by_simplified_ademamix", "b1", UNIT_OPEN),
    ("scale_by_simplified_ademamix", "b2", UNIT_OPEN),
    ("scale_by_simplified_ademamix", "alpha", NONNEG),
    ("scale_by_simplified_ademamix", "eps", NONNEG),
    ("scale_by_simplified_ademamix", "eps_root", NONNEG),
]

# Parameter-free: DoG, DoWG, COCOB (tests/test_contrib_parameter_free.py)
_PARAMETER_FREE = [
    ("scale_by_dog", "eps", NUMBER_NONNEG),
    ("scale_by_dowg", "init_estim_sq_dist", NUMBER_POSITIVE),
    ("scale_by_dowg", "eps", NUMBER_NONNEG),
    ("scale_by_coin_betting", "alpha", NUMBER_NONNEG),
    ("scale_by_coin_betting", "eps", NUMBER_NONNEG),
    ("dog", "learning_rate", NONNEG),
    ("dog", "eps", NUMBER_NONNEG),
    ("dowg", "learning_rate", NONNEG),
    ("dowg", "init_estim_sq_dist", NUMBER_POSITIVE),
    ("dowg", "eps", NUMBER_NONNEG),
    ("cocob", "learning_rate", NONNEG),
    ("cocob", "alpha", NUMBER_NONNEG),
    ("cocob", "eps", NUMBER_NONNEG),
    ("cocob", "weight_decay", NONNEG),
    ("scale_by_cocob", "alpha", NUMBER_NONNEG),
    ("scale_by_cocob", "eps", NUMBER_NONNEG),
]

# Muon and its orthogonalization (tests/test_contrib_orthogonalized.py)
_ORTHOGONALIZED = [
    ("orthogonalize_matrices", "ns_steps", INT_NONNEG),
    ("orthogonalize_matrices", "eps", NUMBER_NONNEG),
    ("scale_by_shape", "consistent_rms", NUMBER_NONNEG),
    ("muon", "learning_rate", NONNEG),
    ("muon", "ns_steps", INT_NONNEG),
    ("muon", "beta", UNIT_OPEN),
    ("muon", "eps", NUMBER_NONNEG),
    ("muon", "weight_decay", NONNEG),
    ("muon", "adam_b1", UNIT_OPEN),
    ("muon", "adam_b2", UNIT_OPEN),
    ("muon", "adam_eps_root", NONNEG),
    ("muon", "adam_weight_decay", NONNEG),
    ("muon", "adam_learning_rate", NONNEG),
    ("muon", "consistent_rms", NUMBER_NONNEG),
    ("scale_by_muon", "ns_steps", INT_NONNEG),
    ("scale_by_muon", "beta", UNIT_OPEN),
    ("scale_by_muon", "eps", NUMBER_NONNEG),
]

# GaLore and DP-SGD (tests/test_contrib_low_rank_private.py)
_LOW_RANK_PRIVATE = [
    ("galore_projection", "rank", INT_POSITIVE),
    ("galore_projection", "update_proj_gap", INT_POSITIVE),
    ("galore_projection", "scale", FINITE),
    ("galore", "learning_rate", NONNEG),
    ("galore", "rank", INT_POSITIVE),
    ("galore", "update_proj_gap", INT_POSITIVE),
    ("galore", "scale", FINITE),
    ("galore", "weight_decay", NONNEG),
    ("scale_by_galore", "rank", INT_POSITIVE),
    ("scale_by_galore", "update_proj_gap", INT_POSITIVE),
    ("scale_by_galore", "scale", FINITE),
    ("differentially_private_aggregate", "l2_norm_clip", NUMBER_NONNEG),
    ("differentially_private_aggregate", "noise_multiplier", NUMBER_NONNEG),
    ("differentially_private_aggregate", "seed", SEED),
    ("dpsgd", "learning_rate", NONNEG),
    ("dpsgd", "l2_norm_clip", NUMBER_NONNEG),
    ("dpsgd", "noise_multiplier", NUMBER_NONNEG),
    ("dpsgd", "seed", SEED),
    ("dpsgd", "momentum", UNIT),
]

# Loss-aware: SAM, Sophia, MoMo (tests/test_contrib_loss_aware.py)
_LOSS_AWARE = [
    ("adversarial_perturbation", "rho", NUMBER_NONNEG),
    ("sharpness_aware", "sync_period", INT_POSITIVE),
    ("sharpness_aware_inner_loop", "sync_period", INT_POSITIVE),
    ("sam", "sync_period", INT_POSITIVE),
    ("sophia_preconditioner", "b2", UNIT),
    ("sophia_preconditioner", "eps", NONNEG),
    ("sophia_preconditioner", "gamma", NONNEG),
    ("sophia_preconditioner", "update_interval", INT_POSITIVE),
    ("sophia", "learning_rate", NONNEG),
    ("sophia", "b1", UNIT_OPEN),
    ("sophia", "b2", UNIT_OPEN),
    ("sophia", "eps", NONNEG),
    ("sophia", "weight_decay", NONNEG),
    ("sophia", "gamma", NONNEG),
    ("sophia", "clip_threshold", POSITIVE),
    ("sophia", "update_interval", INT_POSITIVE),
    ("sophia", "print_win_rate_every_n_steps", INT_NONNEG),
    ("momo_step", "learning_rate", NONNEG),
    ("momo_step", "beta", NUMBER_UNIT_OPEN),
    ("momo_step", "lower_bound", NUMBER),  # any finite loss value
    ("momo_step", "weight_decay", NUMBER_NONNEG),
    ("momo", "learning_rate", NONNEG),
    ("momo", "beta", NUMBER_UNIT_OPEN),
    ("momo", "lower_bound", NUMBER),
    ("momo", "weight_decay", NUMBER_NONNEG),
    ("momo_adam_step", "learning_rate", NONNEG),
    ("momo_adam_step", "b1", NUMBER_UNIT_OPEN),
    ("momo_adam_step", "b2", NUMBER_UNIT_OPEN),  # 1 - b2**t divides
    ("momo_adam_step", "eps", NUMBER_NONNEG),
    ("momo_adam_step", "lower_bound", NUMBER),
    ("momo_adam_step", "weight_decay", NUMBER_NONNEG),
    ("momo_adam", "learning_rate", NONNEG),
    ("momo_adam", "b1", NUMBER_UNIT_OPEN),
    ("momo_adam", "b2", NUMBER_UNIT_OPEN),
    ("momo_adam", "eps", NUMBER_NONNEG),
    ("momo_adam", "lower_bound", NUMBER),
    ("momo_adam", "weight_decay", NUMBER_NONNEG),
]

# Learning-rate-free: Prodigy, D-Adaptation, Mechanic (tests/test_contrib_learning_rate_free.py)
_LEARNING_RATE_FREE = [
    ("exp_avg", "decay", UNIT),
    ("exp_avg_sq", "decay", UNIT),
    ("scale_by_distance_estimate", "learning_rate", NONNEG),
    ("scale_by_distance_estimate", "betas", BETAS),
    ("scale_by_distance_estimate", "beta3", NUMBER_UNIT_OPEN),
    ("scale_by_distance_estimate", "eps", NONNEG),
    ("scale_by_distance_estimate", "estim_lr0", NUMBER_POSITIVE),
    ("scale_by_distance_estimate", "estim_lr_coef", POSITIVE),
    ("scale_by_distance_estimate", "weight_decay", NONNEG),
    ("scale_by_distance_estimate", "growth_rate", NUMBER_POSITIVE),  # inf: unbounded
    ("prodigy", "learning_rate", NONNEG),
    ("prodigy", "betas", BETAS),
    ("prodigy", "beta3", NUMBER_UNIT_OPEN),
    ("prodigy", "eps", NONNEG),
    ("prodigy", "estim_lr0", NUMBER_POSITIVE),
    ("prodigy", "estim_lr_coef", POSITIVE),
    ("prodigy", "weight_decay", NONNEG),
    ("prodigy", "growth_rate", NUMBER_POSITIVE),
    ("dadapt_adamw", "learning_rate", NONNEG),
    ("dadapt_adamw", "betas", BETAS),
    ("dadapt_adamw", "eps", NONNEG),
    ("dadapt_adamw", "estim_lr0", NUMBER_POSITIVE),
    ("dadapt_adamw", "weight_decay", NONNEG),
    ("dadapt_adamw", "growth_rate", NUMBER_POSITIVE),
    ("scale_by_mechanic", "weight_decay", NONNEG),
    ("scale_by_mechanic", "eps", NONNEG),
    ("scale_by_mechanic", "s_init", NUMBER_POSITIVE),
    ("scale_by_mechanic", "num_betas", INT_POSITIVE),
    ("mechanize", "weight_decay", NONNEG),
    ("mechanize", "eps", NONNEG),
    ("mechanize", "s_init", NUMBER_POSITIVE),
    ("mechanize", "num_betas", INT_POSITIVE),
]

# Schedule-free (tests/test_contrib_schedule_free.py): b1 interpolates, 0 would divide by zero
_SCHEDULE_FREE = [
    ("schedule_free", "learning_rate", NONNEG),
    ("schedule_free", "b1", NUMBER_HALF_OPEN_UNIT),
    ("schedule_free", "weight_lr_power", NUMBER_NONNEG),
    ("schedule_free", "r", NUMBER_NONNEG),
    ("schedule_free_sgd", "learning_rate", NONNEG),
    ("schedule_free_sgd", "warmup_steps", INT_POSITIVE),
    ("schedule_free_sgd", "b1", NUMBER_HALF_OPEN_UNIT),
    ("schedule_free_sgd", "weight_decay", NONNEG),
    ("schedule_free_sgd", "weight_lr_power", NUMBER_NONNEG),
    ("schedule_free_sgd", "r", NUMBER_NONNEG),
    ("schedule_free_adamw", "learning_rate", NONNEG),
    ("schedule_free_adamw", "warmup_steps", INT_POSITIVE),
    ("schedule_free_adamw", "b1", NUMBER_HALF_OPEN_UNIT),
    ("schedule_free_adamw", "b2", NUMBER_UNIT_OPEN),
    ("schedule_free_adamw", "eps", NONNEG),
    ("schedule_free_adamw", "weight_decay", NONNEG),
    ("schedule_free_adamw", "weight_lr_power", NUMBER_NONNEG),
    ("schedule_free_adamw", "r", NUMBER_NONNEG),
]

ROWS_CONTRIB = (
    _ADAM_FIXES
    + _ADEMAMIX
    + _PARAMETER_FREE
    + _ORTHOGONALIZED
    + _LOW_RANK_PRIVATE
    + _LOSS_AWARE
    + _LEARNING_RATE_FREE
    + _SCHEDULE_FREE
)
