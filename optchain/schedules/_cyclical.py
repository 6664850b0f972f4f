"""Schedules that come back up: warm restarts (SGDR), cyclical rates, one-cycle."""

from __future__ import annotations

import jax.numpy as jnp
from optax.schedules import Schedule

from optchain import _core
from optchain.schedules._common import _check_number, _check_steps, _f32


def cosine_warm_restarts(
    init_value: float, period: int, period_mult: int = 1, end_value: float = 0.0
) -> Schedule:
    r"""SGDR: cosine annealing restarted every period, each period ``period_mult`` times longer.

    Within a period of length :math:`T_k = T_0 m^k` at position :math:`t`:
    :math:`v = v_1 + (v_0 - v_1)(1 + \cos(\pi t / T_k))/2`. The period boundaries are
    computed exactly in integers. torch: ``CosineAnnealingWarmRestarts(T_0, T_mult,
    eta_min)``.

    Args:
      init_value: :math:`v_0`, the value at each restart.
      period: :math:`T_0 \ge 1`, the first period.
      period_mult: :math:`m \ge 1`, the growth of each period.
      end_value: :math:`v_1`, the floor.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

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
    The value is :math:`v_{lo} + (v_{hi} - v_{lo}) \cdot \mathrm{height} \cdot \mathrm{scale}`.

    Args:
      base_value: :math:`v_{lo}`, the bottom of the cycle.
      max_value: :math:`v_{hi}`, the top.
      step_size_up: :math:`u \ge 1`, steps going up.
      step_size_down: :math:`d \ge 1`, steps coming down (``None``: :math:`u`).
      mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
      gamma: :math:`\gamma > 0` for ``"exp_range"``.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

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
            if k == len(bounds) - 1:  # past the last step (torch raises): the final value
                pct = jnp.minimum(pct, 1.0)
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
    Each phase goes from :math:`a` to :math:`b` as :math:`b + (a-b)(1 + \cos(\pi p))/2`
    (``"linear"``: :math:`a + (b-a)p`), :math:`p \in [0, 1]` the position in the phase.

    Args:
      max_value: the peak.
      total_steps: the run's length (:math:`\ge 2`).
      pct_start: fraction of the run spent rising, in (0, 1).
      anneal: ``"cos"`` or ``"linear"``.
      div_factor: start value is ``max_value / div_factor``.
      final_div_factor: final value is the start value divided by this.
      three_phase: come back to the start value before the final descent.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> s = schedules.one_cycle(1.0, 10, pct_start=0.3, div_factor=10.0, final_div_factor=10.0)
      >>> [round(float(s(i)), 3) for i in (0, 2, 9)]
      [0.1, 1.0, 0.01]

    References:
      Smith & Topin, *Super-Convergence*, 2019; ``torch.optim.lr_scheduler.OneCycleLR``.
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
    sets. Use it for ``sgd(momentum=...)`` or ``adam(b1=...)``. The phases are those of
    :func:`one_cycle`, from :math:`\beta_{max}` to :math:`\beta_{base}` and back.

    Args:
      total_steps: the run's length (:math:`\ge 2`), as in :func:`one_cycle`.
      base_momentum: :math:`\beta_{base}`, reached at the rate's peak.
      max_momentum: :math:`\beta_{max}`, at the start and the end.
      pct_start, anneal, three_phase: as in :func:`one_cycle`.

    Returns:
      A schedule ``step -> value`` (a float32 scalar).

    Example:
      >>> from optchain import schedules
      >>> s = schedules.one_cycle_momentum(10, 0.8, 0.9)
      >>> [round(float(s(i)), 3) for i in (0, 2, 9)]
      [0.9, 0.8, 0.9]

    References:
      Smith & Topin, *Super-Convergence*, 2019; ``torch.optim.lr_scheduler.OneCycleLR``.
    """
    n = _check_steps("total_steps", total_steps, low=2)
    lo = _check_number("base_momentum", base_momentum, low=0.0, high=1.0)
    hi = _check_number("max_momentum", max_momentum, low=0.0, high=1.0)
    pct = _check_number("pct_start", pct_start, low=0.0, high=1.0, low_open=True, high_open=True)
    _core.check_choice("anneal", anneal, ("cos", "linear"))
    return _one_cycle(_one_cycle_phases(n, pct, three_phase, hi, lo, hi), anneal)
