"""Moments of the Adam-like zoo that Adam's links do not build: Lion's interpolated sign,
AdaBelief's belief (the EMA of :math:`(g - m)^2`), Yogi's additive second moment and RAdam's
rectification of the denominator."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

__all__ = [
    "scale_by_lion",
    "scale_by_belief",
    "yogi_second_moment",
    "radam_rectification",
    "ScaleByLionState",
    "ScaleByBeliefState",
    "YogiSecondMomentState",
    "RadamRectificationState",
]

_LION_MODES = ("hard", "smooth", "refined")


@_core.shares_count()
class ScaleByLionState(NamedTuple):
    """State of :func:`scale_by_lion` (optax's fields): the counter and Lion's momentum ``mu``."""

    count: jax.Array
    mu: Any


def scale_by_lion(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.99,
    mu_dtype: Any = None,
    *,
    mode: str = "hard",
    smooth_beta: _core.ScalarOrSchedule = 1.0,
) -> optax.GradientTransformation:
    r"""Lion's direction: :math:`u_t = \operatorname{sign}((1-\beta_1) g_t + \beta_1 m_{t-1})`, then :math:`m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t`.

    The sign reads the *previous* momentum interpolated with the gradient, and the momentum is
    an EMA of its own decay :math:`\beta_2`: one technique, so one transform. ``mode`` is
    optax's: ``"hard"`` (the sign), ``"smooth"`` (:math:`\tanh(\beta_s c)`) or ``"refined"``
    (:math:`c` where :math:`|c| < 1`, else its sign). A complex :math:`c` maps to
    :math:`c / |c|` (``jnp.sign``), as in optax.

    Args:
      b1: :math:`\beta_1` in [0, 1], the interpolation weight of the momentum, or a schedule.
      b2: :math:`\beta_2` in [0, 1], the momentum's decay, or a schedule.
      mu_dtype: dtype of :math:`m` (``None``: the parameter's dtype).
      mode: ``"hard"``, ``"smooth"`` or ``"refined"``.
      smooth_beta: :math:`\beta_s`, the slope of ``"smooth"`` (any finite number or a schedule).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByLionState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_lion(b1=0.5, b2=0.5)
      >>> u, state = tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))
      >>> u, state.mu
      (Array([ 1., -1.], dtype=float32), Array([ 1.  , -0.25], dtype=float32))

    References:
      Chen et al., *Symbolic Discovery of Optimization Algorithms*, NeurIPS 2023.
    """
    _core.check_hyperparameter("b1", b1, low=0.0, high=1.0)
    _core.check_hyperparameter("b2", b2, low=0.0, high=1.0)
    _core.check_choice("mode", mode, _LION_MODES)
    _core.check_hyperparameter("smooth_beta", smooth_beta)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.mu, "Lion momentum")
        w1, w2 = _core.resolve(b1, state.count), _core.resolve(b2, state.count)
        slope = _core.resolve(smooth_beta, state.count)

        def direction(g, m):
            dt = _core.compute_dtype(m.dtype)
            w = _core.as_scalar(w1, dt)
            c = (1 - w) * g.astype(dt) + w * m.astype(dt)
            if mode == "smooth":
                out = jnp.tanh(_core.as_scalar(slope, dt) * c)
            elif mode == "refined":
                out = jnp.where(jnp.abs(c) < 1, c, jnp.sign(c))
            else:
                out = jnp.sign(c)
            return out.astype(g.dtype)

        out = _core.map_floats(direction, updates, state.mu)
        mu = _core.map_floats(
            lambda g, m: _core.ema_update(g.astype(_core.compute_dtype(g.dtype)), m, w2),
            updates,
            state.mu,
            keep=1,
        )
        return out, ScaleByLionState(_core.next_count(state.count), mu)

    init_fn = _core.zeros_init(ScaleByLionState, mu_dtype)
    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class ScaleByBeliefState(NamedTuple):
    """State of :func:`scale_by_belief` (optax's fields): the counter, ``mu`` and the belief ``nu``."""

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_belief(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-16,
    eps_root: _core.ScalarOrSchedule = 1e-16,
    *,
    nesterov: bool = False,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""AdaBelief's direction: :math:`\hat m_t / (\sqrt{\hat s_t} + \epsilon)`, :math:`s_t = \beta_2 s_{t-1} + (1-\beta_2)|g_t - m_t|^2 + \bar\epsilon`.

    :math:`m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t`; hats are Adam's bias corrections
    (:math:`1-\beta^t`). The belief :math:`s` is the EMA of the squared prediction error
    :math:`g_t - m_t`, which needs the *new* first moment: the two moments are one technique
    here (Adam's links feed both moments the raw gradient), with optax's state ``mu``, ``nu``.
    ``nesterov=True`` uses NAdam's look-ahead numerator,
    :math:`\beta_1 m_t / (1-\beta_1^{t+1}) + (1-\beta_1) g_t / (1-\beta_1^t)`.

    Args:
      b1: :math:`\beta_1` in [0, 1), or a schedule.
      b2: :math:`\beta_2` in [0, 1), or a schedule.
      eps: :math:`\epsilon \ge 0`, added outside the square root.
      eps_root: :math:`\bar\epsilon \ge 0`, added to :math:`s_t` (and kept in the state, as
        optax does).
      nesterov: use the look-ahead numerator.
      mu_dtype: dtype of :math:`m` (``None``: the parameter's dtype).
      nu_dtype: dtype of :math:`s` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByBeliefState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_belief(eps=0.0, eps_root=0.0)
      >>> u, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
      >>> u.round(4)  # m_hat = g and s_hat = (0.9 g)**2 on the first step: 1 / 0.9
      Array([ 1.1111, -1.1111], dtype=float32)

    References:
      Zhuang et al., *AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
      Gradients*, NeurIPS 2020.
    """
    for name, value in (("b1", b1), ("b2", b2)):
        _core.check_hyperparameter(name, value, low=0.0, high=1.0, high_open=True)
    _core.check_hyperparameter("eps", eps, low=0.0)
    _core.check_hyperparameter("eps_root", eps_root, low=0.0)
    if not isinstance(nesterov, bool):
        raise ValueError(f"nesterov must be True or False; got {nesterov!r}")

    def init_fn(params):
        mu, nu = _core.tree_zeros(params, mu_dtype), _core.tree_zeros(params, nu_dtype)
        return ScaleByBeliefState(_core.zero_count(), mu, nu)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.mu, "AdaBelief first moment")
        w1, w2 = _core.resolve(b1, state.count), _core.resolve(b2, state.count)
        e, e_root = _core.resolve(eps, state.count), _core.resolve(eps_root, state.count)
        steps = _core.next_count(state.count)
        c1 = _core.bias_correction_factor(w1, steps)
        c1_ahead = _core.bias_correction_factor(w1, _core.next_count(steps))
        c2 = _core.bias_correction_factor(w2, steps)

        def first(g, m):
            return _core.ema_update(g.astype(_core.compute_dtype(g.dtype)), m, w1)

        def belief(g, m, s):  # m is the new first moment
            dt = _core.compute_dtype(g.dtype)
            s = _core.ema_of_squares(g.astype(dt) - m.astype(dt), s, w2)
            ds = _core.compute_dtype(s.dtype)
            return (s.astype(ds) + _core.as_scalar(e_root, ds)).astype(s.dtype)

        def direction(g, m, s):
            dt = _core.compute_dtype(g.dtype)
            m = m.astype(dt)
            if nesterov:
                w = _core.as_scalar(w1, dt)
                m_hat = w * m / c1_ahead.astype(dt) + (1 - w) * g.astype(dt) / c1.astype(dt)
            else:
                m_hat = m / c1.astype(dt)
            s_hat = s.astype(dt) / c2.astype(dt)
            return (m_hat / (jnp.sqrt(s_hat) + _core.as_scalar(e, dt))).astype(g.dtype)

        mu = _core.map_floats(first, updates, state.mu, keep=1)
        nu = _core.map_floats(belief, updates, mu, state.nu, keep=2)
        out = _core.map_floats(direction, updates, mu, nu)
        return out, ScaleByBeliefState(steps, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class YogiSecondMomentState(NamedTuple):
    """State of :func:`yogi_second_moment`: the counter and Yogi's :math:`v` under optax's ``nu``."""

    count: jax.Array
    nu: Any


def yogi_second_moment(
    decay: _core.ScalarOrSchedule = 0.999,
    initial_accumulator_value: float = 1e-6,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Yogi's second moment: :math:`v_t = v_{t-1} - (1-\beta)\operatorname{sign}(v_{t-1} - |g_t|^2)\,|g_t|^2`, output :math:`v_t`.

    An additive update whose sign follows the gradient: :math:`v` moves towards
    :math:`|g|^2` by at most :math:`(1-\beta)|g|^2` per step, so it cannot collapse as Adam's
    EMA does after a burst of large gradients. Starts at ``initial_accumulator_value`` and is
    not debiased (chain :func:`bias_correction` after it, as Yogi does). :math:`|g|^2` is real
    for complex updates; the accumulator keeps the parameter's dtype (optax's convention).

    Args:
      decay: :math:`\beta` in [0, 1], or a schedule.
      initial_accumulator_value: :math:`v_0 \ge 0` (optax's default ``1e-6``).
      accumulator_dtype: dtype of :math:`v` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`YogiSecondMomentState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.yogi_second_moment(0.9, initial_accumulator_value=1.0)
      >>> tx.update(jnp.array([2.0, 0.5]), tx.init(jnp.zeros(2)))[0]  # 1 + 0.4, 1 - 0.025
      Array([1.4  , 0.975], dtype=float32)

    References:
      Zaheer et al., *Adaptive Methods for Nonconvex Optimization*, NeurIPS 2018.
    """
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0)
    _core.check_hyperparameter(
        "initial_accumulator_value", initial_accumulator_value, low=0.0, allow_schedule=False
    )

    def init_fn(params):
        nu = _core.full_like_tree(params, initial_accumulator_value, accumulator_dtype)
        return YogiSecondMomentState(_core.zero_count(), nu)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu, "Yogi second moment")
        beta = _core.resolve(decay, state.count)

        def step(g, v):
            v_real = _core.real_part(v.astype(_core.compute_dtype(v.dtype)))
            dt = v_real.dtype
            sq = _core.abs_sq(g.astype(_core.compute_dtype(g.dtype))).astype(dt)
            b = _core.as_scalar(beta, dt)
            return (v_real - (1 - b) * jnp.sign(v_real - sq) * sq).astype(v.dtype)

        nu = _core.map_floats(step, updates, state.nu, keep=1)
        return _core.cast_tree(nu, updates), YogiSecondMomentState(
            _core.next_count(state.count), nu
        )

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class RadamRectificationState(NamedTuple):
    """State of :func:`radam_rectification`: the step counter :math:`t` it needs."""

    count: jax.Array


def radam_rectification(
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    threshold: float = 5.0,
) -> optax.GradientTransformation:
    r"""RAdam's rectified denominator: :math:`d \mapsto (d + \epsilon) / r_t` where :math:`\rho_t \ge \rho_{min}`, else :math:`1`.

    :math:`\rho_\infty = 2/(1-\beta_2) - 1`, :math:`\rho_t = \rho_\infty - 2t\beta_2^t/(1-\beta_2^t)`
    (:math:`t = 1` on the first update) and
    :math:`r_t = \sqrt{(\rho_t-4)(\rho_t-2)\rho_\infty / ((\rho_\infty-4)(\rho_\infty-2)\rho_t)}`.
    Put after Adam's denominator :math:`d = \sqrt{\hat v_t + \bar\epsilon}` inside
    :func:`divide` with ``eps=0``: the ratio is :math:`r_t \hat m_t / (d + \epsilon)` while the
    variance of the adaptive rate is tractable and the un-preconditioned :math:`\hat m_t`
    (momentum SGD) before, as in optax's ``scale_by_radam``.

    Args:
      b2: :math:`\beta_2` in [0, 1), the second moment's decay, or a schedule.
      eps: :math:`\epsilon \ge 0`, added to :math:`d`, or a schedule.
      threshold: :math:`\rho_{min}`, a finite number (optax's default 5).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`RadamRectificationState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.radam_rectification(0.999, eps=0.0)
      >>> tx.update(jnp.array([4.0]), tx.init(jnp.zeros(1)))[0]  # rho_1 = 1 < 5: no division
      Array([1.], dtype=float32)

    References:
      Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond*, ICLR 2020.
    """
    _core.check_hyperparameter("b2", b2, low=0.0, high=1.0, high_open=True)
    _core.check_hyperparameter("eps", eps, low=0.0)
    _core.check_hyperparameter("threshold", threshold, allow_schedule=False)

    def init_fn(params):
        del params
        return RadamRectificationState(_core.zero_count())

    def update_fn(updates, state, params=None):
        del params
        beta = _core.as_scalar(_core.resolve(b2, state.count), jnp.float32)
        e = _core.resolve(eps, state.count)
        steps = _core.next_count(state.count).astype(jnp.float32)
        rho_inf = 2 / (1 - beta) - 1
        power = jnp.power(beta, steps)
        rho = rho_inf - 2 * steps * power / (1 - power)
        rectify = rho >= threshold
        safe = jnp.where(rectify, rho, rho_inf)  # r is 1 there; no NaN from rho < 4
        r = jnp.sqrt((safe - 4) * (safe - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe))

        def rectified(d):
            dt = _core.compute_dtype(d.dtype)
            out = (d.astype(dt) + _core.as_scalar(e, dt)) / r.astype(dt)
            return jnp.where(rectify, out, jnp.ones_like(out)).astype(d.dtype)

        out = _core.map_floats(rectified, updates)
        return out, RadamRectificationState(_core.next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)
