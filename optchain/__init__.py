"""optchain: every optimization technique a small, pure ``optax.GradientTransformation``.

Named optimizers are short chains of these primitives; see ``optchain.optimizers``.
"""

from optchain import (
    _from_optax,
    contrib,
    diagnostics,
    flat,
    initializers,
    optimizers,
    schedules,
    transforms,
)
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
from optchain.optimizers import *  # noqa: F403  (every named optimizer; listed per family)

# optax schedule names: optax's own objects (optchain.schedules re-exports them)
from optchain.schedules import _optax as _optax_schedules
from optchain.schedules._optax import *  # noqa: F403
from optchain.transforms import *  # noqa: F403  (every primitive; listed in transforms/__init__.py)

__version__ = "0.1.0"

__all__ = [
    # modules
    "schedules",
    "contrib",
    "diagnostics",
    "flat",
    "initializers",
    "transforms",
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
    # plateau and hyperparameter injection
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
    "collective_bytes",
    "AggregateState",
    "DgcState",
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
    # optax's fused preconditioners, built here as chains
    # quasi-Newton
]
__all__ += _from_optax.__all__
__all__ += _optax_schedules.__all__
__all__ += transforms.__all__
__all__ += [name for name in optimizers.__all__ if name != "named_optimizer"]
