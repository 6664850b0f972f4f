"""Schedules: pure, jit-safe functions ``step -> value`` for any hyperparameter.

Every optchain hyperparameter accepts one of these (or any callable of the step). The step
is the transform's own int32 counter, 0 on the first update. Values are float32.

Where torch.optim.lr_scheduler 2.13 has the same schedule, configuring both alike gives the
same value at every step (``tests/test_schedules.py`` checks committed fixtures); the torch
equivalent is named in each docstring. ``join`` is optax's ``join_schedules``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from optchain import _core

Schedule = Callable[[Any], Any]

__all__ = [
    "Schedule",
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
]

join = optax.join_schedules


def _f32(step: Any) -> jax.Array:
    return jnp.asarray(step).astype(jnp.float32)


def _check_steps(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}")
    return value


def _check_number(name: str, value: Any, **bounds) -> float:
    _core.check_hyperparameter(name, value, allow_schedule=False, **bounds)
    return float(value)


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

    return join([ramp, schedule], [n])


def cosine_warm_restarts(
    init_value: float, period: int, period_mult: int = 1, end_value: float = 0.0
) -> Schedule:
    r"""SGDR: cosine annealing restarted every period, each period ``period_mult`` times longer.

    Within a period of length :math:`T_k = T_0 m^k` at position :math:`t`:
    :math:`v = v_1 + (v_0 - v_1)(1 + \cos(\pi t / T_k))/2`. The period boundaries are
    computed exactly in integers. torch: ``CosineAnnealingWarmRestarts(T_0, T_mult,
    eta_min)``.

    Example:
      >>> from optchain import schedules
      >>> s = schedules.cosine_warm_restarts(1.0, 2, period_mult=2)
      >>> [round(float(s(i)), 3) for i in range(7)]
      [1.0, 0.5, 1.0, 0.854, 0.5, 0.146, 1.0]

    References:
      Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts*, ICLR 2017.
    """
    v0, v1 = _check_number("init_value", init_value), _check_number("end_value", end_value)
    t0 = _check_steps("period", period)
    mult = _check_steps("period_mult", period_mult)
    starts, lengths, start, length = [], [], 0, t0
    while start < 2**31 - 1:  # every restart an int32 step can reach
        starts.append(start)
        lengths.append(min(length, 2**31 - 1))
        start += length
        length *= mult
        if mult == 1:
            break
    starts_arr = jnp.asarray(starts, jnp.int32)
    lengths_arr = jnp.asarray(lengths, jnp.int32)

    def schedule(step):
        i = jnp.asarray(step, jnp.int32)
        if mult == 1:
            t_cur, t_len = i % t0, jnp.int32(t0)
        else:
            k = jnp.sum(i >= starts_arr) - 1
            t_cur, t_len = i - starts_arr[k], lengths_arr[k]
        frac = t_cur.astype(jnp.float32) / t_len.astype(jnp.float32)
        return v1 + (v0 - v1) * (1 + jnp.cos(jnp.pi * frac)) / 2

    return schedule


def cyclical(
    base_value: float,
    max_value: float,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    r"""Cyclical rates (Smith 2017): a triangle between ``base_value`` and ``max_value``.

    With cycle length :math:`L = u + d` and position :math:`x \in [0, 1)` in the cycle, the
    height is :math:`x/(u/L)` going up and :math:`(1-x)/(1-u/L)` coming down, scaled by 1
    (``"triangular"``), :math:`2^{-(c-1)}` in cycle :math:`c` (``"triangular2"``) or
    :math:`\gamma^i` (``"exp_range"``). ``max_value < base_value`` gives the inverse cycle
    used for momentum. torch: ``CyclicLR(base_lr, max_lr, step_size_up, step_size_down,
    mode, gamma)``; its momentum cycle is ``cyclical(max_momentum, base_momentum, ...)``.

    Example:
      >>> from optchain import schedules
      >>> s = schedules.cyclical(0.0, 1.0, step_size_up=2, step_size_down=1)
      >>> [round(float(s(i)), 3) for i in range(6)]
      [0.0, 0.5, 1.0, 0.0, 0.5, 1.0]

    References:
      Smith, *Cyclical Learning Rates for Training Neural Networks*, WACV 2017.
    """
    lo, hi = _check_number("base_value", base_value), _check_number("max_value", max_value)
    up = _check_steps("step_size_up", step_size_up)
    down = up if step_size_down is None else _check_steps("step_size_down", step_size_down)
    _core.check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))
    g = _check_number("gamma", gamma, low=0.0, low_open=True)
    total = float(up + down)
    ratio = up / total

    def schedule(step):
        i = _f32(step)
        cycle = jnp.floor(1 + i / total)
        x = 1.0 + i / total - cycle
        height = jnp.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        if mode == "triangular":
            scale = 1.0
        elif mode == "triangular2":
            scale = 1 / jnp.power(jnp.float32(2.0), cycle - 1)
        else:
            scale = jnp.power(jnp.float32(g), i)
        return lo + (hi - lo) * height * scale

    return schedule


def _one_cycle_phases(total_steps, pct_start, three_phase, start, peak, end):
    if three_phase:
        return [
            (float(pct_start * total_steps) - 1, start, peak),
            (float(2 * pct_start * total_steps) - 2, peak, start),
            (total_steps - 1.0, start, end),
        ]
    return [(float(pct_start * total_steps) - 1, start, peak), (total_steps - 1.0, peak, end)]


def _one_cycle(phases, anneal):
    def interpolate(a, b, pct):
        if anneal == "cos":
            return b + (a - b) / 2 * (jnp.cos(jnp.pi * pct) + 1)
        return (b - a) * pct + a

    def schedule(step):
        i = _f32(step)
        value = jnp.float32(phases[-1][2])
        begin = 0.0
        bounds = []
        for end, a, b in phases:
            bounds.append((begin, end, a, b))
            begin = end
        # Walk the phases from last to first so the first matching phase wins.
        for k in range(len(bounds) - 1, -1, -1):
            begin, end, a, b = bounds[k]
            pct = (i - begin) / (end - begin)
            inside = i <= end if k < len(bounds) - 1 else jnp.bool_(True)
            value = jnp.where(inside, interpolate(a, b, pct), value)
        return value

    return schedule


def one_cycle(
    max_value: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    r"""One-cycle (Smith & Topin 2019), with torch's ``OneCycleLR`` phase boundaries.

    From ``max_value / div_factor`` up to ``max_value`` until step ``pct_start * total - 1``,
    then down to ``max_value / div_factor / final_div_factor`` at step ``total - 1``
    (``three_phase``: back to the start value at ``2 * pct_start * total - 2`` first).
    Pair with :func:`one_cycle_momentum` for the inverse momentum cycle. optax's
    ``cosine_onecycle_schedule`` puts its boundaries one step later (at
    ``pct_start * total``), so its values are shifted by one step against torch's.

    Example:
      >>> from optchain import schedules
      >>> s = schedules.one_cycle(1.0, 10, pct_start=0.3, div_factor=10.0, final_div_factor=10.0)
      >>> [round(float(s(i)), 3) for i in (0, 2, 9)]
      [0.1, 1.0, 0.01]

    References:
      Smith & Topin, *Super-Convergence*, 2019.
    """
    peak = _check_number("max_value", max_value, low=0.0)
    n = _check_steps("total_steps", total_steps, low=2)
    pct = _check_number("pct_start", pct_start, low=0.0, high=1.0, low_open=True, high_open=True)
    _core.check_choice("anneal", anneal, ("cos", "linear"))
    start = peak / _check_number("div_factor", div_factor, low=0.0, low_open=True)
    end = start / _check_number("final_div_factor", final_div_factor, low=0.0, low_open=True)
    return _one_cycle(_one_cycle_phases(n, pct, three_phase, start, peak, end), anneal)


def one_cycle_momentum(
    total_steps: int,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    pct_start: float = 0.3,
    anneal: str = "cos",
    three_phase: bool = False,
) -> Schedule:
    r"""The momentum that goes with :func:`one_cycle`: ``max_momentum`` down to ``base_momentum`` while the rate rises, and back.

    torch: the ``momentum`` (or Adam's ``beta1``) that ``OneCycleLR(cycle_momentum=True)``
    sets. Use it for ``sgd(momentum=...)`` or ``adam(b1=...)``.

    Example:
      >>> from optchain import schedules
      >>> s = schedules.one_cycle_momentum(10, 0.8, 0.9)
      >>> [round(float(s(i)), 3) for i in (0, 2, 9)]
      [0.9, 0.8, 0.9]
    """
    n = _check_steps("total_steps", total_steps, low=2)
    lo = _check_number("base_momentum", base_momentum, low=0.0, high=1.0)
    hi = _check_number("max_momentum", max_momentum, low=0.0, high=1.0)
    pct = _check_number("pct_start", pct_start, low=0.0, high=1.0, low_open=True, high_open=True)
    _core.check_choice("anneal", anneal, ("cos", "linear"))
    return _one_cycle(_one_cycle_phases(n, pct, three_phase, hi, lo, hi), anneal)


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


def plot(
    schedule: Schedule,
    steps: int,
    *,
    ax: Any = None,
    label: str | None = None,
    **line_kwargs: Any,
) -> Any:
    """Draw ``schedule`` over ``range(steps)`` with matplotlib (the ``plot`` extra).

    Returns the matplotlib ``Axes``. Values are computed in one vectorised, jitted call.

    Example:
      >>> import matplotlib; matplotlib.use("Agg")
      >>> from optchain import schedules
      >>> ax = schedules.plot(schedules.cosine(1.0, 100), 120, label="cosine")
      >>> len(ax.lines[0].get_ydata())
      120
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "optchain.schedules.plot needs matplotlib: pip install optchain[plot]"
        ) from err
    n = _check_steps("steps", steps)
    values = jax.jit(jax.vmap(schedule))(jnp.arange(n, dtype=jnp.int32))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(n), jax.device_get(values), label=label, **line_kwargs)
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    if label is not None:
        ax.legend()
    return ax
