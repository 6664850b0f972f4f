"""Construction checks, continued (tests/test_arguments.py): exact error messages, values that
references accept and that must stay accepted, and schedules that cannot run eagerly.
"""

from __future__ import annotations

import jax.numpy as jnp
import pytest
from argument_factories import FACTORIES, first, vector_schedule

import optchain as oc
from optchain import schedules as sch

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
