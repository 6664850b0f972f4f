"""optchain: every optimization technique a small, pure ``optax.GradientTransformation``.

Named optimizers are short chains of these primitives; see ``optchain.optimizers``.
"""

from optchain import _from_optax, contrib, diagnostics, flat, initializers, schedules
from optchain._core import CountState, ScalarOrSchedule
from optchain._from_optax import *  # noqa: F403  (optax's combinators, helpers, pending names)
from optchain.combine import (
    CountedChainState,
    DivideState,
    ForkState,
    counted_chain,
    divide,
    fork,
)
from optchain.distributed import (
    AggregateState,
    DgcState,
    collective_bytes,
    dgc_sparsify,
    majority_vote,
    mean_across_devices,
    scaled_sign_mean,
    sparse_mean,
)
from optchain.groups import (
    ALL_GROUPS,
    DEFAULT,
    FROZEN,
    group_labels,
    group_summary,
    param_groups,
    path_string,
    transfer_state,
)
from optchain.hyperparams import get_hyperparams, inject_hyperparams, set_hyperparams
from optchain.inspection import state_summary
from optchain.optimizers import (
    adabelief,
    adadelta,
    adafactor,
    adagrad,
    adam,
    adamax,
    adamaxw,
    adamw,
    adan,
    amsgrad,
    delta_bar_delta,
    dgc_sgd,
    fromage,
    ftml,
    lamb,
    lars,
    lbfgs,
    lion,
    nadam,
    nadamw,
    noisy_sgd,
    novograd,
    optimistic_adam,
    optimistic_adam_v2,
    optimistic_gradient_descent,
    polyak_sgd,
    radam,
    rmsprop,
    rprop,
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_radam,
    scale_by_rss,
    scale_by_sign,
    scale_by_yogi,
    sgd,
    sign_sgd,
    signum,
    signum_majority,
    sm3,
    yogi,
)

# optax schedule names: optax's own objects (optchain.schedules re-exports them)
from optchain.schedules import _optax as _optax_schedules
from optchain.schedules._optax import *  # noqa: F403
from optchain.transforms.accumulators import (
    ScaleByAdadeltaState,
    ScaleBySumOfSquaresState,
    scale_by_adadelta,
    scale_by_sum_of_squares,
)
from optchain.transforms.adaptive_moments import (
    RadamRectificationState,
    ScaleByBeliefState,
    ScaleByLionState,
    YogiSecondMomentState,
    radam_rectification,
    scale_by_belief,
    scale_by_lion,
    yogi_second_moment,
)
from optchain.transforms.adaptive_rates import (
    DeltaBarDeltaState,
    FtmlState,
    RpropState,
    scale_by_delta_bar_delta,
    scale_by_ftml,
    scale_by_rprop,
)
from optchain.transforms.averaging import (
    EmaParamsState,
    PolyakAverageState,
    TailAverageState,
    averaged_params,
    ema_params,
    polyak_average,
    tail_average,
)
from optchain.transforms.clipping import (
    adaptive_grad_clip,
    clip,
    clip_by_block_norm,
    clip_by_block_rms,
    clip_by_global_norm,
    unitwise_norm,
)
from optchain.transforms.curvature import SafeStepState, scale_by_safe_step
from optchain.transforms.decay import (
    WeightDecaySchedule,
    add_decayed_weights,
    decoupled_weight_decay,
)
from optchain.transforms.extrapolation import (
    ScaleByAdanState,
    ScaleByOptimisticGradientState,
    scale_by_adan,
    scale_by_optimistic_gradient,
)
from optchain.transforms.factored import (
    FactoredState,
    ScaleBySM3State,
    scale_by_factored_rms,
    scale_by_param_block_norm,
    scale_by_param_block_rms,
    scale_by_sm3,
)
from optchain.transforms.layer_moments import ScaleByNovogradState, scale_by_novograd
from optchain.transforms.layerwise import layerwise_mask, scale_by_trust_ratio
from optchain.transforms.lookahead import LookaheadParams, LookaheadState, lookahead
from optchain.transforms.maxima import (
    InfinityNormState,
    RunningMaxState,
    infinity_norm,
    running_max,
)
from optchain.transforms.moments import (
    BiasCorrectionState,
    EmaState,
    FirstMomentState,
    MomentumState,
    SecondMomentState,
    bias_correction,
    ema,
    first_moment,
    momentum,
    second_moment,
)
from optchain.transforms.monitor import (
    KeepPrunedState,
    MonitoredState,
    keep_pruned_at_zero,
    monitored,
)
from optchain.transforms.noise import (
    AddNoiseState,
    PerturbNearSaddleState,
    add_noise,
    perturb_near_saddle,
)
from optchain.transforms.nonfinite import (
    SkipNonfiniteState,
    all_finite,
    check_skip_limit,
    skip_nonfinite,
)
from optchain.transforms.plateau import (
    ReduceLROnPlateauState,
    ReduceOnPlateauTorchState,
    reduce_on_plateau,
    reduce_on_plateau_torch,
)
from optchain.transforms.polyak_step import scale_by_polyak
from optchain.transforms.precision import LowPrecisionState, low_precision_state
from optchain.transforms.quasi_newton import ScaleByLBFGSState, scale_by_lbfgs
from optchain.transforms.rms import (
    ScaleByRmsWithCountState,
    ScaleByRStdDevWithCountState,
    scale_by_rms,
    scale_by_stddev,
)
from optchain.transforms.scaling import (
    ScaleByScheduleState,
    scale,
    scale_by_learning_rate,
    scale_by_schedule,
    sqrt,
)
from optchain.transforms.sign import (
    ErrorFeedbackState,
    ScaledSignState,
    SignState,
    error_feedback,
    scaled_sign,
    sign,
)

__version__ = "0.1.0"

__all__ = [
    # modules
    "schedules",
    "contrib",
    "diagnostics",
    "flat",
    "initializers",
    # types
    "ScalarOrSchedule",
    "CountState",
    # combinators
    "counted_chain",
    "fork",
    "divide",
    "CountedChainState",
    "ForkState",
    "DivideState",
    # moments
    "momentum",
    "first_moment",
    "second_moment",
    "ema",
    "bias_correction",
    "MomentumState",
    "FirstMomentState",
    "SecondMomentState",
    "EmaState",
    "BiasCorrectionState",
    # scaling
    "scale",
    "scale_by_learning_rate",
    "scale_by_rms",
    "scale_by_stddev",
    "scale_by_sum_of_squares",
    "scale_by_adadelta",
    "running_max",
    "infinity_norm",
    "sqrt",
    "ScaleByRmsWithCountState",
    "ScaleByRStdDevWithCountState",
    "ScaleByScheduleState",
    "WeightDecaySchedule",
    "scale_by_schedule",
    "ScaleBySumOfSquaresState",
    "ScaleByAdadeltaState",
    "RunningMaxState",
    "InfinityNormState",
    # sign, noise, clipping, decay
    "sign",
    "SignState",
    "add_noise",
    "AddNoiseState",
    "clip",
    "clip_by_global_norm",
    "clip_by_block_norm",
    "clip_by_block_rms",
    "adaptive_grad_clip",
    "unitwise_norm",
    "add_decayed_weights",
    "decoupled_weight_decay",
    # per-element step sizes
    "scale_by_delta_bar_delta",
    "scale_by_rprop",
    "scale_by_ftml",
    "DeltaBarDeltaState",
    "RpropState",
    "FtmlState",
    # moments of the Adam-like zoo
    "scale_by_lion",
    "scale_by_belief",
    "yogi_second_moment",
    "radam_rectification",
    "ScaleByLionState",
    "ScaleByBeliefState",
    "YogiSecondMomentState",
    "RadamRectificationState",
    # averaging
    "tail_average",
    "polyak_average",
    "ema_params",
    "averaged_params",
    "TailAverageState",
    "PolyakAverageState",
    "EmaParamsState",
    # non-finite guard
    "skip_nonfinite",
    "SkipNonfiniteState",
    "all_finite",
    "check_skip_limit",
    # plateau and hyperparameter injection
    "reduce_on_plateau",
    "ReduceLROnPlateauState",
    "reduce_on_plateau_torch",
    "ReduceOnPlateauTorchState",
    "inject_hyperparams",
    "get_hyperparams",
    "set_hyperparams",
    "state_summary",
    # distributed: aggregation and compression
    "mean_across_devices",
    "majority_vote",
    "sparse_mean",
    "scaled_sign_mean",
    "dgc_sparsify",
    "error_feedback",
    "scaled_sign",
    "collective_bytes",
    "AggregateState",
    "DgcState",
    "ErrorFeedbackState",
    "ScaledSignState",
    # diagnostics-driven transforms (the functions live in optchain.diagnostics)
    "perturb_near_saddle",
    "PerturbNearSaddleState",
    "scale_by_safe_step",
    "SafeStepState",
    "monitored",
    "MonitoredState",
    "keep_pruned_at_zero",
    "KeepPrunedState",
    # state stored in bfloat16
    "low_precision_state",
    "LowPrecisionState",
    # parameter groups and freezing
    "param_groups",
    "group_labels",
    "group_summary",
    "path_string",
    "transfer_state",
    "FROZEN",
    "DEFAULT",
    "ALL_GROUPS",
    # named optimizers
    "sgd",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamw",
    "amsgrad",
    "nadam",
    "adamax",
    "ftml",
    "sign_sgd",
    "signum",
    "signum_majority",
    "dgc_sgd",
    "noisy_sgd",
    "delta_bar_delta",
    "rprop",
    "lars",
    "lamb",
    "adafactor",
    "sm3",
    "lion",
    "adabelief",
    "yogi",
    "radam",
    "adamaxw",
    "nadamw",
    # optax's fused preconditioners, built here as chains
    "scale_by_adam",
    "scale_by_amsgrad",
    "scale_by_adamax",
    "scale_by_rss",
    "scale_by_sign",
    "scale_by_factored_rms",
    "scale_by_sm3",
    "scale_by_param_block_rms",
    "scale_by_param_block_norm",
    "FactoredState",
    "ScaleBySM3State",
    "scale_by_yogi",
    "scale_by_radam",
    # layer-wise trust ratio
    "scale_by_trust_ratio",
    "layerwise_mask",
    # gradient-difference extrapolation, per-layer moments, Polyak's step size
    "scale_by_optimistic_gradient",
    "ScaleByOptimisticGradientState",
    "scale_by_adan",
    "ScaleByAdanState",
    "scale_by_novograd",
    "ScaleByNovogradState",
    "scale_by_polyak",
    # named optimizers of the zoo (part 2)
    "adan",
    "novograd",
    "fromage",
    "polyak_sgd",
    "optimistic_gradient_descent",
    "optimistic_adam",
    "optimistic_adam_v2",
    # lookahead (slow and fast weights)
    "lookahead",
    "LookaheadState",
    "LookaheadParams",
    # quasi-Newton
    "lbfgs",
    "scale_by_lbfgs",
    "ScaleByLBFGSState",
]
__all__ += _from_optax.__all__
__all__ += _optax_schedules.__all__
