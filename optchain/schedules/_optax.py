"""optax's schedules, re-exported as optax's own objects (same signature, same values).

``optchain.schedules.cosine_decay_schedule is optax.schedules.cosine_decay_schedule``: code
written for ``optax.schedules`` runs unchanged with ``import optchain as optax``. optchain's
own schedules (``cosine``, ``one_cycle``, ...) keep torch.optim.lr_scheduler's conventions
where the two differ; see their docstrings.
"""

from optax.schedules import (
    InjectHyperparamsState,
    InjectStatefulHyperparamsState,
    Schedule,
    StatefulSchedule,
    WrappedSchedule,
    constant_schedule,
    cosine_decay_schedule,
    cosine_onecycle_schedule,
    exponential_decay,
    inject_stateful_hyperparams,
    join_schedules,
    linear_onecycle_schedule,
    linear_schedule,
    piecewise_constant_schedule,
    piecewise_interpolate_schedule,
    polynomial_schedule,
    sgdr_schedule,
    warmup_constant_schedule,
    warmup_cosine_decay_schedule,
    warmup_exponential_decay_schedule,
)

# ``inject_hyperparams`` is optchain's (optchain.hyperparams), with optax's signature.
__all__ = [
    "Schedule",
    "StatefulSchedule",
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "exponential_decay",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "sgdr_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "inject_stateful_hyperparams",
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "WrappedSchedule",
]
