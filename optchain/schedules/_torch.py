"""Closed-form decays, each equal to its torch.optim.lr_scheduler twin at every step."""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
from optax.schedules import Schedule

from optchain.schedules._common import _check_number, _check_steps, _f32


def constant(value: float) -> Schedule:
    """``step -> value``.

    Example:
      >>> from optchain import schedules
      >>> float(schedules.constant(0.1)(7))
      0.1...
    """
    v = _check_number("value", value)
    return lambda step: jnp.full([], v, jnp.float32)


def linear(init_value: float, end_value: float, transition_steps: int) -> Schedule:
    r"""Linear interpolation, then constant: :math:`v_i = (1 - i/\tau) v_0 + (i/\tau) v_\tau` for :math:`i \le \tau`.

    torch: ``LinearLR(start_factor, end_factor, total_iters)`` on base rate :math:`b` is
    ``linear(b * start_factor, b * end_factor, total_iters)`` (also a linear warmup).

    Example:
      >>> from optchain import schedules
      >>> [round(float(schedules.linear(1.0, 0.0, 4)(i)), 2) for i in range(6)]
      [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """
    v0, v1 = _check_number("init_value", init_value), _check_number("end_value", end_value)
    tau = _check_steps("transition_steps", transition_steps)

    def schedule(step):
        frac = jnp.clip(_f32(step) / tau, 0.0, 1.0)
        return (1 - frac) * v0 + frac * v1

    return schedule


def linear_decay(init_value: float, decay_steps: int, end_value: float | None = None) -> Schedule:
    r"""The "cooling" rule: decay linearly from :math:`\alpha_0` to :math:`\alpha_\tau` over :math:`\tau` steps, then hold.

    :math:`\alpha_i = (1 - i/\tau)\alpha_0 + (i/\tau)\alpha_\tau`. Without ``end_value`` the
    rule of thumb :math:`\alpha_\tau = \alpha_0 / 100` is used (Goodfellow et al., *Deep
    Learning*, section 8.3.1, which also suggests :math:`\tau` of a few hundred epochs).

    Example:
      >>> from optchain import schedules
      >>> round(float(schedules.linear_decay(0.1, 100)(500)), 6)
      0.001
    """
    v0 = _check_number("init_value", init_value, low=0.0)
    return linear(v0, v0 / 100 if end_value is None else end_value, decay_steps)


def polynomial(
    init_value: float,
    end_value: float,
    power: float,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    r"""Polynomial decay: :math:`v = (v_0 - v_1)(1 - i/\tau)^p + v_1` for :math:`i` counted from ``transition_begin``.

    torch: ``PolynomialLR(total_iters, power)`` on base rate :math:`b` is
    ``polynomial(b, 0.0, power, total_iters)``.

    Example:
      >>> from optchain import schedules
      >>> float(schedules.polynomial(1.0, 0.0, 2.0, 10)(5))
      0.25
    """
    v0, v1 = _check_number("init_value", init_value), _check_number("end_value", end_value)
    p = _check_number("power", power, low=0.0)
    tau = _check_steps("transition_steps", transition_steps)
    begin = _check_steps("transition_begin", transition_begin, low=0)

    def schedule(step):
        frac = jnp.clip((_f32(step) - begin) / tau, 0.0, 1.0)
        return (v0 - v1) * (1 - frac) ** p + v1

    return schedule


def exponential(
    init_value: float,
    decay_rate: float,
    transition_steps: int = 1,
    *,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    r"""Exponential decay: :math:`v = v_0 \, r^{i / T}` (``staircase``: :math:`r^{\lfloor i/T \rfloor}`), bounded by ``end_value``.

    torch: ``ExponentialLR(gamma)`` is ``exponential(b, gamma)``; ``StepLR(step_size,
    gamma)`` is ``exponential(b, gamma, step_size, staircase=True)`` (also :func:`step_decay`).

    Example:
      >>> from optchain import schedules
      >>> [float(schedules.exponential(1.0, 0.5, 2, staircase=True)(i)) for i in range(5)]
      [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    v0 = _check_number("init_value", init_value)
    r = _check_number("decay_rate", decay_rate, low=0.0, low_open=True)
    t = _check_steps("transition_steps", transition_steps)

    def schedule(step):
        exponent = _f32(step) / t
        if staircase:
            exponent = jnp.floor(exponent)
        value = v0 * jnp.power(jnp.float32(r), exponent)
        if end_value is None:
            return value
        bound = jnp.float32(end_value)
        return jnp.maximum(value, bound) if r < 1 else jnp.minimum(value, bound)

    return schedule


def step_decay(init_value: float, step_size: int, gamma: float = 0.1) -> Schedule:
    r"""Multiply by :math:`\gamma` every ``step_size`` steps (torch ``StepLR``).

    Example:
      >>> from optchain import schedules
      >>> [round(float(schedules.step_decay(1.0, 3, 0.1)(i)), 4) for i in (0, 2, 3, 6)]
      [1.0, 1.0, 0.1, 0.01]
    """
    return exponential(init_value, gamma, step_size, staircase=True)


def multistep(init_value: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    r"""Decay at chosen steps: :math:`v = v_0 \gamma^{\#\{m \le i\}}` (torch ``MultiStepLR``).

    The classic recipe for well-tuned SGD: divide by 10 at, say, 50% and 75% of training.

    Example:
      >>> from optchain import schedules
      >>> s = schedules.multistep(1.0, [2, 4], gamma=0.5)
      >>> [float(s(i)) for i in range(6)]
      [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    v0 = _check_number("init_value", init_value)
    g = _check_number("gamma", gamma, low=0.0)
    marks = sorted(_check_steps("milestones", int(m), low=0) for m in milestones)
    bounds = jnp.asarray(marks, jnp.int32)

    def schedule(step):
        passed = jnp.sum(jnp.asarray(step, jnp.int32) >= bounds).astype(jnp.float32)
        return v0 * jnp.power(jnp.float32(g), passed)

    return schedule


def cosine(init_value: float, decay_steps: int, end_value: float = 0.0) -> Schedule:
    r"""Cosine annealing: :math:`v = v_1 + (v_0 - v_1)(1 + \cos(\pi i / T))/2` for :math:`i \le T`, then :math:`v_1`.

    torch: ``CosineAnnealingLR(T_max, eta_min)`` gives the same values for
    :math:`i \le T`; past :math:`T` torch's cosine climbs back up (it is periodic), this one
    holds ``end_value`` (as optax's ``cosine_decay_schedule``).

    Example:
      >>> from optchain import schedules
      >>> [round(float(schedules.cosine(1.0, 4)(i)), 4) for i in (0, 2, 4, 9)]
      [1.0, 0.5, 0.0, 0.0]
    """
    v0, v1 = _check_number("init_value", init_value), _check_number("end_value", end_value)
    t = _check_steps("decay_steps", decay_steps)

    def schedule(step):
        frac = jnp.clip(_f32(step) / t, 0.0, 1.0)
        return v1 + (v0 - v1) * (1 + jnp.cos(jnp.pi * frac)) / 2

    return schedule
