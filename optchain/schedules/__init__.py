"""Schedules: pure, jit-safe functions ``step -> value`` for any hyperparameter.

Every optchain hyperparameter accepts one of these (or any callable of the step). The step
is the transform's own int32 counter, 0 on the first update. optchain's own schedules
return float32.

Two families live here:

- optax's schedules under optax's names (``linear_schedule``, ``cosine_decay_schedule``,
  ``warmup_cosine_decay_schedule``, ``join_schedules``, ... and ``inject_hyperparams``), the
  very objects of ``optax.schedules``, so ``import optchain as optax`` keeps optax's values;
- optchain's torch-exact schedules under short names (``linear``, ``cosine``, ``multistep``,
  ``cyclical``, ``one_cycle``, ...): where torch.optim.lr_scheduler 2.13 has the same
  schedule, configuring both alike gives the same value at every step
  (``tests/test_schedules.py`` checks committed fixtures); the torch equivalent is named in
  each docstring. ``join`` is optax's ``join_schedules``.
"""

from optchain.hyperparams import inject_hyperparams
from optchain.schedules import _optax
from optchain.schedules._cyclical import (
    cosine_warm_restarts,
    cyclical,
    one_cycle,
    one_cycle_momentum,
)
from optchain.schedules._optax import *  # noqa: F403  (optax's schedule names, optax's objects)
from optchain.schedules._plot import plot
from optchain.schedules._recipes import dgc_warmup, linear_scaling_rule, warmup
from optchain.schedules._torch import (
    constant,
    cosine,
    exponential,
    linear,
    linear_decay,
    multistep,
    polynomial,
    step_decay,
)

join = _optax.join_schedules

__all__ = [
    # optchain's schedules (torch.optim.lr_scheduler conventions)
    "constant",
    "linear",
    "linear_decay",
    "polynomial",
    "exponential",
    "step_decay",
    "multistep",
    "cosine",
    "warmup",
    "cosine_warm_restarts",
    "cyclical",
    "one_cycle",
    "one_cycle_momentum",
    "join",
    "linear_scaling_rule",
    "dgc_warmup",
    "plot",
    # optchain's, with optax's signature
    "inject_hyperparams",
]
__all__ += _optax.__all__  # optax's names: optax's own objects
