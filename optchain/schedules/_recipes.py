"""Recipes built on other schedules: warm-up, the linear scaling rule, DGC's sparsity warm-up."""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import optax
from optax.schedules import Schedule

from optchain._checks import check_schedule
from optchain.schedules._common import _check_number, _check_steps, _f32
from optchain.schedules._torch import constant


def warmup(schedule: Schedule, warmup_steps: int, init_value: float = 0.0) -> Schedule:
    r"""Linear warmup in front of any schedule: ``init_value`` to ``schedule(0)`` over ``warmup_steps``, then ``schedule(i - warmup_steps)``.

    :math:`v_i = v_0 + (s(0) - v_0)\, i / n` for :math:`i < n`, then :math:`s(i - n)`.

    Args:
      schedule: the schedule :math:`s` that follows the warm-up.
      warmup_steps: :math:`n \ge 1`.
      init_value: :math:`v_0`, the value at step 0.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

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
    check_schedule("schedule", schedule, {})  # a finite scalar at step 0
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

    Args:
      base_learning_rate: :math:`\alpha_0`, tuned at ``base_batch_size``.
      base_batch_size: :math:`B_0`.
      batch_size: :math:`B`.
      warmup_steps: steps of the ramp from :math:`\alpha_0` to :math:`\alpha` (0: none).
      schedule: ``peak -> schedule`` for after the warm-up (``None``: constant).

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

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
    n = _check_steps("warmup_steps", warmup_steps, low=0)
    if schedule is not None and not callable(schedule):
        raise ValueError(f"schedule must be callable peak -> schedule; got {schedule!r}")
    peak = base * b / b0
    after = constant(peak) if schedule is None else schedule(peak)
    if not callable(after):
        raise ValueError(f"schedule must return a schedule step -> value; got {after!r}")
    check_schedule("schedule", after, {})
    if n == 0:
        return after
    return warmup(after, n, init_value=base)


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

    Args:
      steps_per_epoch: steps in one epoch.
      final_density: the density after the warm-up (and the floor).
      warmup_epochs: :math:`E`, epochs of warm-up.
      factor: :math:`f`, the density's factor per epoch.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

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
