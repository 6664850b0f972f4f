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
from optchain.transforms.coin_betting import COCOBState, scale_by_coin_betting
from optchain.transforms.complex_split import (
    SplitRealAndImaginaryArrays,
    SplitRealAndImaginaryState,
    split_real_and_imaginary,
)
from optchain.transforms.curvature import SafeStepState, scale_by_safe_step
from optchain.transforms.decay import (
    WeightDecaySchedule,
    add_decayed_weights,
    decoupled_weight_decay,
)
from optchain.transforms.decaying_rates import ScaleByAsgdRateState, scale_by_asgd_rate
from optchain.transforms.distance_estimates import (
    DistanceEstimateState,
    ExpAvgSqState,
    ExpAvgState,
    exp_avg,
    exp_avg_sq,
    scale_by_distance_estimate,
)
from optchain.transforms.distance_over_gradients import (
    DoGState,
    DoWGState,
    scale_by_dog,
    scale_by_dowg,
)
from optchain.transforms.dual_averaging import DualAveragingState, dual_averaging
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
from optchain.transforms.hessian_diagonal import (
    HutchinsonState,
    SophiaPreconditionerState,
    hutchinson_estimator_diag_hessian,
    sophia_preconditioner,
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
from optchain.transforms.low_rank import GaLoreState, galore_projection
from optchain.transforms.maxima import (
    InfinityNormState,
    RunningMaxState,
    infinity_norm,
    running_max,
)
from optchain.transforms.mechanic import MechanicState, scale_by_mechanic
from optchain.transforms.model_based_step import (
    MomoAdamState,
    MomoState,
    momo_adam_step,
    momo_step,
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
from optchain.transforms.normalize import NormalizeState, normalize
from optchain.transforms.online import (
    DelayCompensationState,
    FtrlProximalState,
    delay_compensation,
    ftrl_proximal,
)
from optchain.transforms.orthogonalize import (
    OrthogonalizeState,
    newton_schulz,
    orthogonalize_matrices,
)
from optchain.transforms.plateau import (
    ReduceLROnPlateauState,
    ReduceOnPlateauTorchState,
    reduce_on_plateau,
    reduce_on_plateau_torch,
)
from optchain.transforms.polyak_step import scale_by_polyak
from optchain.transforms.precision import LowPrecisionState, low_precision_state
from optchain.transforms.previous_moments import (
    NormalizeByPreviousRmsState,
    PreviousCenteredRmsState,
    normalize_by_previous_rms,
    previous_centered_rms,
)
from optchain.transforms.privacy import (
    DifferentiallyPrivateAggregateState,
    NoisyAggregateState,
    noisy_aggregate,
    per_example_clip,
)
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
from optchain.transforms.schedule_free import (
    ScheduleFreeState,
    schedule_free,
    schedule_free_eval_params,
)
from optchain.transforms.shape_scaling import scale_by_shape
from optchain.transforms.sharpness_aware import (
    SAMState,
    adversarial_perturbation,
    sharpness_aware,
    sharpness_aware_inner_loop,
)
from optchain.transforms.sign import (
    ErrorFeedbackState,
    ScaledSignState,
    SignState,
    error_feedback,
    scaled_sign,
    sign,
)
from optchain.transforms.slow_moments import (
    AccumulatorMixtureState,
    EmaMixtureState,
    SquaredGradientAverageState,
    accumulator_mixture,
    ema_mixture,
    squared_gradient_average,
)

# every primitive and state imported above (several per line: the list is long)
# fmt: off
__all__ = [
    "AccumulatorMixtureState", "AddNoiseState", "BiasCorrectionState", "COCOBState",
    "DelayCompensationState", "DeltaBarDeltaState", "DifferentiallyPrivateAggregateState",
    "DistanceEstimateState", "DoGState", "DoWGState", "DualAveragingState", "EmaMixtureState",
    "EmaParamsState", "EmaState", "ErrorFeedbackState", "ExpAvgSqState", "ExpAvgState",
    "FactoredState", "FactoredTorchState", "FirstMomentState", "FtmlState",
    "FtrlProximalState", "GaLoreState", "HutchinsonState", "InfinityNormState",
    "KeepPrunedState", "LangevinNoiseState", "LookaheadParams", "LookaheadState",
    "LowPrecisionState", "MechanicState", "MomentumState", "MomoAdamState", "MomoState",
    "MonitoredState", "NoisyAggregateState", "NormalizeByPreviousRmsState", "NormalizeState",
    "OrthogonalizeState", "PerturbNearSaddleState", "PolyakAverageState",
    "PreviousCenteredRmsState", "RadamRectificationState", "ReduceLROnPlateauState",
    "ReduceOnPlateauTorchState", "RpropState", "RunningMaxState", "SAMState", "SafeStepState",
    "ScaleByAdadeltaState", "ScaleByAdanState", "ScaleByAsgdRateState", "ScaleByBeliefState",
    "ScaleByLBFGSState", "ScaleByLionState", "ScaleByNovogradState",
    "ScaleByOptimisticGradientState", "ScaleByRStdDevWithCountState",
    "ScaleByRmsWithCountState", "ScaleBySM3State", "ScaleByScheduleState",
    "ScaleByStrongWolfeLinesearchState", "ScaleBySumOfSquaresState", "ScaledSignState",
    "ScheduleFreeState", "SecondMomentState", "SignState", "SkipNonfiniteState",
    "SlowWeightsState", "SophiaPreconditionerState", "SplitRealAndImaginaryArrays",
    "SplitRealAndImaginaryState", "SquaredGradientAverageState", "TailAverageState",
    "WeightDecaySchedule", "YogiSecondMomentState", "accumulator_mixture",
    "adaptive_grad_clip", "add_decayed_weights", "add_langevin_noise", "add_noise",
    "adversarial_perturbation", "all_finite", "averaged_params", "bias_correction",
    "check_skip_limit", "clip", "clip_by_block_norm", "clip_by_block_rms",
    "clip_by_global_norm", "decoupled_weight_decay", "delay_compensation", "dual_averaging",
    "ema", "ema_mixture", "ema_params", "error_feedback", "exp_avg", "exp_avg_sq",
    "first_moment", "ftrl_proximal", "galore_projection", "hutchinson_estimator_diag_hessian",
    "infinity_norm", "keep_pruned_at_zero", "layerwise_mask", "lookahead",
    "low_precision_state", "momentum", "momo_adam_step", "momo_step", "monitored",
    "newton_schulz", "noisy_aggregate", "normalize", "normalize_by_previous_rms",
    "orthogonalize_matrices", "per_example_clip", "perturb_near_saddle", "polyak_average",
    "previous_centered_rms", "radam_rectification", "reduce_on_plateau",
    "reduce_on_plateau_torch", "running_max", "scale", "scale_by_adadelta", "scale_by_adan",
    "scale_by_asgd_rate", "scale_by_belief", "scale_by_coin_betting",
    "scale_by_delta_bar_delta", "scale_by_distance_estimate", "scale_by_dog", "scale_by_dowg",
    "scale_by_factored_rms", "scale_by_factored_rms_torch", "scale_by_ftml", "scale_by_lbfgs",
    "scale_by_learning_rate", "scale_by_lion", "scale_by_mechanic", "scale_by_novograd",
    "scale_by_optimistic_gradient", "scale_by_param_block_norm", "scale_by_param_block_rms",
    "scale_by_polyak", "scale_by_relative_step", "scale_by_rms", "scale_by_rprop",
    "scale_by_safe_step", "scale_by_schedule", "scale_by_shape", "scale_by_sm3",
    "scale_by_stddev", "scale_by_strong_wolfe_linesearch", "scale_by_sum_of_squares",
    "scale_by_trust_ratio", "scaled_sign", "schedule_free", "schedule_free_eval_params",
    "second_moment", "sharpness_aware", "sharpness_aware_inner_loop", "sign", "skip_nonfinite",
    "slow_weights_in_state", "sophia_preconditioner", "split_real_and_imaginary", "sqrt",
    "squared_gradient_average", "tail_average", "unitwise_norm", "yogi_second_moment",
]
# fmt: on
