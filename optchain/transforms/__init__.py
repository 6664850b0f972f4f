"""The primitives: one module per technique family, each transform a small pure
``optax.GradientTransformation`` with its own state type. Every name here is also exported
from ``optchain``."""

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
from optchain.transforms.decaying_rates import ScaleByAsgdRateState, scale_by_asgd_rate
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
from optchain.transforms.factored_torch import (
    FactoredTorchState,
    scale_by_factored_rms_torch,
    scale_by_relative_step,
)
from optchain.transforms.langevin import LangevinNoiseState, add_langevin_noise
from optchain.transforms.layer_moments import ScaleByNovogradState, scale_by_novograd
from optchain.transforms.layerwise import layerwise_mask, scale_by_trust_ratio
from optchain.transforms.linesearch import (
    ScaleByStrongWolfeLinesearchState,
    scale_by_strong_wolfe_linesearch,
)
from optchain.transforms.lookahead import (
    LookaheadParams,
    LookaheadState,
    SlowWeightsState,
    lookahead,
    slow_weights_in_state,
)
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
from optchain.transforms.online import (
    DelayCompensationState,
    FtrlProximalState,
    delay_compensation,
    ftrl_proximal,
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

__all__ = [
    "AddNoiseState",
    "BiasCorrectionState",
    "DelayCompensationState",
    "DeltaBarDeltaState",
    "EmaParamsState",
    "EmaState",
    "ErrorFeedbackState",
    "FactoredState",
    "FactoredTorchState",
    "FirstMomentState",
    "FtmlState",
    "FtrlProximalState",
    "InfinityNormState",
    "KeepPrunedState",
    "LangevinNoiseState",
    "LookaheadParams",
    "LookaheadState",
    "SlowWeightsState",
    "LowPrecisionState",
    "MomentumState",
    "MonitoredState",
    "PerturbNearSaddleState",
    "PolyakAverageState",
    "RadamRectificationState",
    "ReduceLROnPlateauState",
    "ReduceOnPlateauTorchState",
    "RpropState",
    "RunningMaxState",
    "SafeStepState",
    "ScaleByAdadeltaState",
    "ScaleByAsgdRateState",
    "ScaleByAdanState",
    "ScaleByBeliefState",
    "ScaleByLBFGSState",
    "ScaleByLionState",
    "ScaleByNovogradState",
    "ScaleByOptimisticGradientState",
    "ScaleByRStdDevWithCountState",
    "ScaleByRmsWithCountState",
    "ScaleBySM3State",
    "ScaleByStrongWolfeLinesearchState",
    "ScaleByScheduleState",
    "ScaleBySumOfSquaresState",
    "ScaledSignState",
    "SecondMomentState",
    "SignState",
    "SkipNonfiniteState",
    "TailAverageState",
    "WeightDecaySchedule",
    "YogiSecondMomentState",
    "adaptive_grad_clip",
    "add_decayed_weights",
    "add_langevin_noise",
    "add_noise",
    "all_finite",
    "averaged_params",
    "bias_correction",
    "check_skip_limit",
    "clip",
    "clip_by_block_norm",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "decoupled_weight_decay",
    "delay_compensation",
    "ema",
    "ema_params",
    "error_feedback",
    "first_moment",
    "ftrl_proximal",
    "infinity_norm",
    "keep_pruned_at_zero",
    "layerwise_mask",
    "lookahead",
    "slow_weights_in_state",
    "low_precision_state",
    "momentum",
    "monitored",
    "perturb_near_saddle",
    "polyak_average",
    "radam_rectification",
    "reduce_on_plateau",
    "reduce_on_plateau_torch",
    "running_max",
    "scale",
    "scale_by_adadelta",
    "scale_by_asgd_rate",
    "scale_by_adan",
    "scale_by_belief",
    "scale_by_delta_bar_delta",
    "scale_by_factored_rms",
    "scale_by_factored_rms_torch",
    "scale_by_ftml",
    "scale_by_lbfgs",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_novograd",
    "scale_by_optimistic_gradient",
    "scale_by_param_block_norm",
    "scale_by_param_block_rms",
    "scale_by_polyak",
    "scale_by_relative_step",
    "scale_by_rms",
    "scale_by_rprop",
    "scale_by_safe_step",
    "scale_by_schedule",
    "scale_by_sm3",
    "scale_by_stddev",
    "scale_by_strong_wolfe_linesearch",
    "scale_by_sum_of_squares",
    "scale_by_trust_ratio",
    "scaled_sign",
    "second_moment",
    "sign",
    "skip_nonfinite",
    "sqrt",
    "tail_average",
    "unitwise_norm",
    "yogi_second_moment",
]
