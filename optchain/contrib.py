"""optax.contrib's names, served unchanged from optax (``import optchain as optax`` keeps
``optax.contrib.X`` working).

The learning-rate-free, schedule-free, SAM and Sophia issue replaces these one by one with
recipes of optchain primitives that keep optax's names, signatures and state fields.
"""

from optax.contrib import (  # noqa: F401  (re-exported by optchain)
    GaLoreDimensionNumbers,
    MuonDimensionNumbers,
    MuonState,
    ReduceLROnPlateauState,
    reduce_on_plateau,
)

from optchain.optimizers.adam_fixes import (
    acprop,
    adopt,
    madgrad,
    scale_by_acprop,
    scale_by_adopt,
    scale_by_madgrad,
)
from optchain.optimizers.ademamix import (
    ademamix,
    scale_by_ademamix,
    scale_by_simplified_ademamix,
    simplified_ademamix,
)
from optchain.optimizers.learning_rate_free import dadapt_adamw, mechanize, prodigy
from optchain.optimizers.loss_aware import momo, momo_adam, sam, sophia
from optchain.optimizers.low_rank import galore, scale_by_galore
from optchain.optimizers.orthogonalized import muon, scale_by_muon
from optchain.optimizers.parameter_free import cocob, dog, dowg, scale_by_cocob
from optchain.optimizers.private import differentially_private_aggregate, dpsgd
from optchain.optimizers.schedule_free import schedule_free_adamw, schedule_free_sgd
from optchain.transforms.coin_betting import COCOBState
from optchain.transforms.complex_split import SplitRealAndImaginaryState, split_real_and_imaginary
from optchain.transforms.distance_estimates import DistanceEstimateState as DAdaptAdamWState
from optchain.transforms.distance_estimates import DistanceEstimateState as ProdigyState
from optchain.transforms.distance_over_gradients import DoGState, DoWGState
from optchain.transforms.dual_averaging import DualAveragingState as MadgradState
from optchain.transforms.hessian_diagonal import HutchinsonState, hutchinson_estimator_diag_hessian
from optchain.transforms.hessian_diagonal import SophiaPreconditionerState as SophiaState
from optchain.transforms.low_rank import GaLoreState
from optchain.transforms.mechanic import MechanicState
from optchain.transforms.model_based_step import MomoAdamState, MomoState
from optchain.transforms.normalize import NormalizeState, normalize
from optchain.transforms.privacy import DifferentiallyPrivateAggregateState
from optchain.transforms.schedule_free import (
    ScheduleFreeState,
    schedule_free,
    schedule_free_eval_params,
)
from optchain.transforms.sharpness_aware import SAMState
from optchain.transforms.slow_moments import (
    AccumulatorMixtureState as ScaleBySimplifiedAdEMAMixState,
)
from optchain.transforms.slow_moments import EmaMixtureState as ScaleByAdemamixState

__all__ = [
    "COCOBState",
    "DAdaptAdamWState",
    "DifferentiallyPrivateAggregateState",
    "DoGState",
    "DoWGState",
    "GaLoreDimensionNumbers",
    "GaLoreState",
    "HutchinsonState",
    "MadgradState",
    "MechanicState",
    "MomoAdamState",
    "MomoState",
    "MuonDimensionNumbers",
    "MuonState",
    "NormalizeState",
    "ProdigyState",
    "ReduceLROnPlateauState",
    "SAMState",
    "ScaleByAdemamixState",
    "ScaleBySimplifiedAdEMAMixState",
    "ScheduleFreeState",
    "SophiaState",
    "SplitRealAndImaginaryState",
    "acprop",
    "ademamix",
    "adopt",
    "cocob",
    "dadapt_adamw",
    "differentially_private_aggregate",
    "dog",
    "dowg",
    "dpsgd",
    "galore",
    "hutchinson_estimator_diag_hessian",
    "madgrad",
    "mechanize",
    "momo",
    "momo_adam",
    "muon",
    "normalize",
    "prodigy",
    "reduce_on_plateau",
    "sam",
    "scale_by_acprop",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_cocob",
    "scale_by_galore",
    "scale_by_madgrad",
    "scale_by_muon",
    "scale_by_simplified_ademamix",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_sgd",
    "simplified_ademamix",
    "sophia",
    "split_real_and_imaginary",
]
