"""Recipes built on other schedules: warm-up, the linear scaling rule, DGC's sparsity warm-up."""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import optax
from optax.schedules import Schedule

from optchain.schedules._common import _check_number, _check_steps, _f32
from optchain.schedules._torch import constant


def warmup(schedule: Schedule, warmup_steps: int, init_value: float = 0.0) -> Schedule:
    r"""Linear warmup in front of any schedule: ``init_value`` to ``schedule(0)`` over ``warmup_steps``, then ``schedule(i - warmup_steps)``.

    Example:
      >>> from optchain import schedules
      >>> s = schedules.warmup(schedules.constant(1.0), 4)
      >>> [float(s(i)) for i in range(6)]
      [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]

    References:
      Goyal et al., *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*, 2017.
    """
    if not callable(schedule):
        raise ValueError(f"schedule must be callable step -> value; got {schedule!r}")
    n = _check_steps("warmup_steps", warmup_steps)
    v0 = _check_number("init_value", init_value)

    def ramp(step):
        peak = jnp.asarray(schedule(jnp.zeros([], jnp.int32)), jnp.float32)
        return v0 + (peak - v0) * jnp.clip(_f32(step) / n, 0.0, 1.0)

    return optax.join_schedules([ramp, schedule], [n])


def linear_scaling_rule(
    base_learning_rate: float,
    base_batch_size: int,
    batch_size: int,
    warmup_steps: int = 0,
    schedule: Callable[[float], Schedule] | None = None,
) -> Schedule:
    r"""The linear scaling rule: multiply the rate by ``batch_size / base_batch_size``, with gradual warm-up.

    The peak rate is :math:`\alpha = \alpha_0 \, k`, :math:`k = B / B_0`. With ``warmup_steps``
    the rate ramps linearly from :math:`\alpha_0` to :math:`\alpha` (Goyal et al.'s gradual
    warm-up), then follows ``schedule(peak)`` (default: constant).

    Example:
      >>> from optchain import schedules
      >>> s = schedules.linear_scaling_rule(0.1, 256, 8192, warmup_steps=4)
      >>> [round(float(s(i)), 3) for i in (0, 2, 4, 100)]
      [0.1, 1.65, 3.2, 3.2]

    References:
      Goyal et al., *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*, 2017.
    """
    base = _check_number("base_learning_rate", base_learning_rate, low=0.0)
    b0 = _check_steps("base_batch_size", base_batch_size)
    b = _check_steps("batch_size", batch_size)
    peak = base * b / b0
    after = constant(peak) if schedule is None else schedule(peak)
    if warmup_steps == 0:
        return after
    return warmup(after, _check_steps("warmup_steps", warmup_steps), init_value=base)


def dgc_warmup(
    steps_per_epoch: int,
    final_density: float = 0.001,
    warmup_epochs: int = 4,
    factor: float = 0.25,
) -> Schedule:
    r"""Deep Gradient Compression's sparsity warm-up, as a density: :math:`\rho_e = f^{e+1}` in
    epoch :math:`e < E`, then ``final_density`` (never below it).

    With the defaults the sparsity is 75%, 93.75%, 98.4375%, 99.6% over the first four epochs
    and 99.9% from then on. Pass it as ``density`` to :func:`optchain.dgc_sparsify` (which sizes
    its buffers from step 0, the densest).

    Example:
      >>> from optchain import schedules
      >>> [round(1 - float(schedules.dgc_warmup(1)(e)), 6) for e in range(6)]
      [0.75, 0.9375, 0.984375, 0.996094, 0.999, 0.999]

    References:
      Lin et al., *Deep Gradient Compression*, ICLR 2018, Section 3.4.
    """
    per_epoch = _check_steps("steps_per_epoch", steps_per_epoch)
    final = _check_number("final_density", final_density, low=0.0, high=1.0, low_open=True)
    epochs = _check_steps("warmup_epochs", warmup_epochs, low=0)
    f = _check_number("factor", factor, low=0.0, high=1.0, low_open=True)

    def schedule(step):
        epoch = jnp.floor(_f32(step) / per_epoch)
        ramp = jnp.power(jnp.float32(f), epoch + 1)
        value = jnp.where(epoch < epochs, ramp, jnp.float32(final))
        return jnp.maximum(value, jnp.float32(final))

    return schedule
