"""Shared inputs and helpers of the scaling tests (test_scaling, test_rms, test_accumulators,
test_maxima), and the table of optax twins that test_scaling runs."""

import jax.numpy as jnp
import numpy as np
import optax

import optchain as oc

GRADS = [np.array([1.0, -2.0, 0.0]), np.array([0.5, 1.0, -1.0]), np.array([-1.5, 0.25, 2.0])]


def _run(tx, grads=GRADS):
    state, outs = tx.init(jnp.zeros(3)), []
    for g in grads:
        u, state = tx.update(jnp.asarray(g, jnp.float32), state)
        outs.append(np.asarray(u))
    return outs, state


_SCHEDULE = optax.linear_schedule(0.1, 0.3, 3)
_DECAY = optax.linear_schedule(0.05, 0.2, 2)

# name: (optchain transform, optax transform, named state fields to compare, complex too)
OPTAX_TWINS = {
    "scale": (lambda: oc.scale(-0.5), lambda: optax.scale(-0.5), (), True),
    "scale_by_schedule": (
        lambda: oc.scale_by_schedule(_SCHEDULE),
        lambda: optax.scale_by_schedule(_SCHEDULE),
        ("count",),
        True,
    ),
    "scale_by_learning_rate": (
        lambda: oc.scale_by_learning_rate(0.1),
        lambda: optax.scale_by_learning_rate(0.1),
        (),
        True,
    ),
    "scale_by_learning_rate_schedule_no_flip": (
        lambda: oc.scale_by_learning_rate(_SCHEDULE, flip_sign=False),
        lambda: optax.scale_by_learning_rate(_SCHEDULE, flip_sign=False),
        ("count",),
        True,
    ),
    "scale_by_rms": (lambda: oc.scale_by_rms(), lambda: optax.scale_by_rms(), ("nu",), True),
    "scale_by_rms_positional": (
        lambda: oc.scale_by_rms(0.8, 0.1, 0.5, False),
        lambda: optax.scale_by_rms(0.8, 0.1, 0.5, False),
        ("nu",),
        True,
    ),
    "scale_by_rms_bias_correction": (
        lambda: oc.scale_by_rms(0.7, 1e-3, bias_correction=True),
        lambda: optax.scale_by_rms(0.7, 1e-3, bias_correction=True),
        ("count", "nu"),
        True,
    ),
    "scale_by_stddev": (
        lambda: oc.scale_by_stddev(0.8, 0.1),
        lambda: optax.scale_by_stddev(0.8, 0.1),
        ("mu", "nu"),
        True,
    ),
    "scale_by_stddev_positional_bias_correction": (
        lambda: oc.scale_by_stddev(0.7, 0.05, 0.5, False, True),
        lambda: optax.scale_by_stddev(0.7, 0.05, 0.5, False, True),
        ("count", "mu", "nu"),
        True,
    ),
    # AdaDelta squares a complex g (g**2, not |g|**2) in optax: optchain follows
    "scale_by_adadelta": (
        lambda: oc.scale_by_adadelta(0.8, 1e-4),
        lambda: optax.scale_by_adadelta(0.8, 1e-4),
        ("e_g", "e_x"),
        True,
    ),
    "add_decayed_weights": (
        lambda: oc.add_decayed_weights(0.1),
        lambda: optax.add_decayed_weights(0.1),
        (),
        True,
    ),
    "add_decayed_weights_schedule_mask": (
        lambda: oc.add_decayed_weights(_DECAY, {"w": True, "b": False}),
        lambda: optax.add_decayed_weights(_DECAY, {"w": True, "b": False}),
        ("count",),
        True,
    ),
    "adaptive_grad_clip": (
        lambda: oc.adaptive_grad_clip(0.05),
        lambda: optax.adaptive_grad_clip(0.05),
        (),
        True,
    ),
    "adaptive_grad_clip_axis": (
        lambda: oc.adaptive_grad_clip(0.3, 1e-2, axis=0),
        lambda: optax.adaptive_grad_clip(0.3, 1e-2, axis=0),
        (),
        True,
    ),
    "add_noise": (
        lambda: oc.add_noise(0.5, 0.3, 11),
        lambda: optax.add_noise(0.5, 0.3, 11),
        ("count", "rng_key"),
        True,
    ),
    "scale_by_trust_ratio": (
        lambda: oc.scale_by_trust_ratio(),
        lambda: optax.scale_by_trust_ratio(),
        (),
        True,
    ),
    "scale_by_trust_ratio_positional": (
        lambda: oc.scale_by_trust_ratio(1.5, 0.5, 1e-3),
        lambda: optax.scale_by_trust_ratio(1.5, 0.5, 1e-3),
        (),
        True,
    ),
    # optax's clip fails on complex updates and its rprop compares complex signs: optchain
    # rejects complex parameters at init (test_complex_rejections)
    "clip": (lambda: oc.clip(0.4), lambda: optax.clip(0.4), (), False),
    "clip_by_global_norm": (
        lambda: oc.clip_by_global_norm(1.0),
        lambda: optax.clip_by_global_norm(1.0),
        (),
        True,
    ),
    "scale_by_rprop": (
        lambda: oc.scale_by_rprop(0.1),
        lambda: optax.scale_by_rprop(0.1),
        ("step_sizes", "prev_updates"),
        False,
    ),
    "scale_by_rprop_positional": (
        lambda: oc.scale_by_rprop(0.05, 0.3, 1.5, 1e-3, 0.08),
        lambda: optax.scale_by_rprop(0.05, 0.3, 1.5, 1e-3, 0.08),
        ("step_sizes", "prev_updates"),
        False,
    ),
    # not optax's names, but optax's transforms for the same technique
    "sign_as_scale_by_sign": (oc.sign, optax.scale_by_sign, (), True),
    "sum_of_squares_as_scale_by_rss": (
        lambda: oc.scale_by_sum_of_squares(0.1, 1e-7),
        lambda: optax.scale_by_rss(0.1, 1e-7),
        ("sum_of_squares",),
        True,
    ),
}
_TWIN_CASES = [
    (name, dtype)
    for name, (*_, complex_too) in OPTAX_TWINS.items()
    for dtype in ("float32", "complex64")
    if complex_too or dtype == "float32"
]


def _three_steps(tx, params, grads):
    state, outs = tx.init(params), []
    for g in grads:
        u, state = tx.update(g, state, params)
        outs.append(u)
    return outs, state
