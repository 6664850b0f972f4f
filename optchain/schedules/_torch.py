"""Closed-form decays, each equal to its torch.optim.lr_scheduler twin at every step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import jax.numpy as jnp
from optax.schedules import Schedule

from optchain.schedules._common import _check_number, _check_steps, _f32


def constant(value: float) -> Schedule:
    """A constant schedule: :math:`v_i = v` at every step :math:`i`.

    Args:
      value: the value :math:`v`.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> float(schedules.constant(0.1)(7))
      0.1...

    References:
      ``optax.constant_schedule`` (torch: no scheduler).
    """
    v = _check_number("value", value)
    return lambda step: jnp.full([], v, jnp.float32)


def linear(init_value: float, end_value: float, transition_steps: int) -> Schedule:
    r"""Linear interpolation, then constant: :math:`v_i = (1 - i/\tau) v_0 + (i/\tau) v_\tau` for :math:`i \le \tau`.

    torch: ``LinearLR(start_factor, end_factor, total_iters)`` on base rate :math:`b` is
    ``linear(b * start_factor, b * end_factor, total_iters)`` (also a linear warmup).

    Args:
      init_value: :math:`v_0`.
      end_value: :math:`v_\tau`.
      transition_steps: :math:`\tau \ge 1`.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> [round(float(schedules.linear(1.0, 0.0, 4)(i)), 2) for i in range(6)]
      [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]

    References:
      ``torch.optim.lr_scheduler.LinearLR``; ``optax.linear_schedule``.
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

    Args:
      init_value: :math:`\alpha_0 \ge 0`.
      decay_steps: :math:`\tau \ge 1`.
      end_value: :math:`\alpha_\tau` (``None``: :math:`\alpha_0 / 100`).

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> round(float(schedules.linear_decay(0.1, 100)(500)), 6)
      0.001

    References:
      Goodfellow, Bengio & Courville, *Deep Learning*, MIT Press 2016, section 8.3.1.
    """
    v0 = _check_number("init_value", init_value, low=0.0)
    tau = _check_steps("decay_steps", decay_steps)
    return linear(v0, v0 / 100 if end_value is None else end_value, tau)


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

    Args:
      init_value: :math:`v_0`.
      end_value: :math:`v_1`.
      power: :math:`p \ge 0`.
      transition_steps: :math:`\tau \ge 1`.
      transition_begin: the step where the decay starts.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> float(schedules.polynomial(1.0, 0.0, 2.0, 10)(5))
      0.25

    References:
      ``torch.optim.lr_scheduler.PolynomialLR``; ``optax.polynomial_schedule``.
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

    Args:
      init_value: :math:`v_0`.
      decay_rate: :math:`r > 0`.
      transition_steps: :math:`T \ge 1`.
      staircase: decay in whole steps of :math:`T`.
      end_value: a lower bound for :math:`r < 1` (an upper bound for :math:`r > 1`).

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> [float(schedules.exponential(1.0, 0.5, 2, staircase=True)(i)) for i in range(5)]
      [1.0, 1.0, 0.5, 0.5, 0.25]

    References:
      ``torch.optim.lr_scheduler.ExponentialLR``; ``optax.exponential_decay``.
    """
    v0 = _check_number("init_value", init_value)
    r = _check_number("decay_rate", decay_rate, low=0.0, low_open=True)
    t = _check_steps("transition_steps", transition_steps)
    if end_value is not None:
        end_value = _check_number("end_value", end_value)

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

    :math:`v_i = v_0 \gamma^{\lfloor i / n \rfloor}`.

    Args:
      init_value: :math:`v_0`.
      step_size: :math:`n \ge 1`.
      gamma: :math:`\gamma > 0`.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> [round(float(schedules.step_decay(1.0, 3, 0.1)(i)), 4) for i in (0, 2, 3, 6)]
      [1.0, 1.0, 0.1, 0.01]

    References:
      ``torch.optim.lr_scheduler.StepLR``.
    """
    n = _check_steps("step_size", step_size)
    g = _check_number("gamma", gamma, low=0.0, low_open=True)
    return exponential(init_value, g, n, staircase=True)


def multistep(init_value: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    r"""Decay at chosen steps: :math:`v = v_0 \gamma^{\#\{m \le i\}}` (torch ``MultiStepLR``).

    The classic recipe for well-tuned SGD: divide by 10 at, say, 50% and 75% of training.

    Args:
      init_value: :math:`v_0`.
      milestones: the steps :math:`m` (ints :math:`\ge 0`).
      gamma: :math:`\gamma \ge 0`.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> s = schedules.multistep(1.0, [2, 4], gamma=0.5)
      >>> [float(s(i)) for i in range(6)]
      [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]

    References:
      ``torch.optim.lr_scheduler.MultiStepLR``; ``optax.piecewise_constant_schedule``.
    """
    v0 = _check_number("init_value", init_value)
    g = _check_number("gamma", gamma, low=0.0)
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
        raise ValueError(f"milestones must be a sequence of ints >= 0; got {milestones!r}")
    marks = sorted(_check_steps("milestones", m, low=0) for m in milestones)
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

    Args:
      init_value: :math:`v_0`.
      decay_steps: :math:`T \ge 1`.
      end_value: :math:`v_1`.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> [round(float(schedules.cosine(1.0, 4)(i)), 4) for i in (0, 2, 4, 9)]
      [1.0, 0.5, 0.0, 0.0]

    References:
      Loshchilov & Hutter, *SGDR*, ICLR 2017; ``torch.optim.lr_scheduler.CosineAnnealingLR``.
    """
    v0, v1 = _check_number("init_value", init_value), _check_number("end_value", end_value)
    t = _check_steps("decay_steps", decay_steps)

    def schedule(step):
        frac = jnp.clip(_f32(step) / t, 0.0, 1.0)
        return v1 + (v0 - v1) * (1 + jnp.cos(jnp.pi * frac)) / 2

    return schedule
