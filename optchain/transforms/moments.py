"""Momentum (heavy ball and Nesterov), moments (Adam's ``mu`` and ``nu``), optax's ``ema``, bias
correction."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


@_core.shares_count()
class MomentumState(NamedTuple):
    """State of :func:`momentum`."""

    count: jax.Array
    trace: Any


def momentum(
    decay: _core.ScalarOrSchedule = 0.9,
    *,
    dampening: _core.ScalarOrSchedule = 0.0,
    nesterov: bool = False,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Heavy-ball momentum: :math:`b_t = \mu b_{t-1} + (1 - \tau) g_t`, output :math:`b_t`.

    The first update stores :math:`b_0 = g_0` (no dampening on the first step, as
    torch.optim.SGD does). With ``nesterov=True`` the output is
    :math:`g_t + \mu b_t` (Sutskever et al. 2013, in the form torch.optim.SGD and
    MXNet's NAG use). With ``dampening=0`` this is optax's ``trace``.

    Args:
      decay: momentum coefficient :math:`\mu` in [0, 1], or a schedule.
      dampening: :math:`\tau` in [0, 1], or a schedule.
      nesterov: output the Nesterov look-ahead :math:`g_t + \mu b_t`.
      accumulator_dtype: dtype of :math:`b` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`MomentumState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.momentum(0.5)
      >>> state = tx.init(jnp.zeros(2))
      >>> u, state = tx.update(jnp.ones(2), state)
      >>> u, state = tx.update(jnp.ones(2), state)
      >>> u
      Array([1.5, 1.5], dtype=float32)

    References:
      Polyak, *Some methods of speeding up the convergence of iteration methods*, 1964.
      Sutskever et al., *On the importance of initialization and momentum in deep
      learning*, ICML 2013.
    """
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0)
    _core.check_hyperparameter("dampening", dampening, low=0.0, high=1.0)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.trace, "momentum trace")
        mu = _core.resolve(decay, state.count)
        tau = _core.resolve(dampening, state.count)
        first = state.count == 0

        def accumulate(g, b):
            dt = _core.compute_dtype(b.dtype)
            m, d = _core.as_scalar(mu, dt), _core.as_scalar(tau, dt)
            gb, bb = g.astype(dt), b.astype(dt)
            return jnp.where(first, gb, gb * (1 - d) + m * bb).astype(b.dtype)

        def output(g, b):
            if not nesterov:
                return b.astype(g.dtype)
            dt = _core.compute_dtype(b.dtype)
            return (g.astype(dt) + _core.as_scalar(mu, dt) * b.astype(dt)).astype(g.dtype)

        traces = _core.map_floats(accumulate, updates, state.trace, keep=1)
        outs = _core.map_floats(output, updates, traces)
        return outs, MomentumState(_core.next_count(state.count), traces)

    init_fn = _core.zeros_init(MomentumState, accumulator_dtype)
    return optax.GradientTransformation(init_fn, update_fn)


def _ema_leaf(g: jax.Array, m: jax.Array, beta: Any, square: bool) -> jax.Array:
    r"""One EMA step on a leaf, :math:`\beta m + (1-\beta) x` with :math:`x = g` or
    :math:`|g|^2`, computed in at least float32 and stored in ``m``'s dtype (the one EMA update
    every moment transform uses)."""
    if square:
        return _core.ema_of_squares(g, m, beta)
    return _core.ema_update(g.astype(_core.compute_dtype(g.dtype)), m, beta)


def _moment(decay, accumulator_dtype, state_cls, *, square=False, initial_value=0.0):
    """An EMA of the updates (or of :math:`|g|^2`) started at ``initial_value`` (zero by
    default) whose output is the EMA itself."""
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0)
    _core.check_hyperparameter("initial_value", initial_value, allow_schedule=False)

    def update_fn(updates, state, params=None):
        del params
        moment = state[1]
        _core.check_trees_match(updates, moment, f"{state_cls._fields[1]} accumulator")
        beta = _core.resolve(decay, state.count)
        moment = _core.map_floats(
            lambda g, m: _ema_leaf(g, m, beta, square), updates, moment, keep=1
        )
        return _core.cast_tree(moment, updates), state_cls(_core.next_count(state.count), moment)

    def init_fn(params):
        start = _core.full_like_tree(params, initial_value, accumulator_dtype)
        return state_cls(_core.zero_count(), start)

    zeros = _core.zeros_init(state_cls, accumulator_dtype)
    return optax.GradientTransformation(zeros if initial_value == 0 else init_fn, update_fn)


@_core.shares_count()
class FirstMomentState(NamedTuple):
    """State of :func:`first_moment`: Adam's :math:`m` under optax's name ``mu``."""

    count: jax.Array
    mu: Any


def first_moment(
    decay: _core.ScalarOrSchedule = 0.9,
    *,
    accumulator_dtype: Any = None,
    initial_value: float = 0.0,
) -> optax.GradientTransformation:
    r"""Adam's first moment: :math:`m_t = \beta m_{t-1} + (1-\beta) g_t`, output :math:`m_t`.

    Starts at zero and is not debiased (chain :func:`bias_correction` after it). Complex
    updates average as complex numbers. The state field is ``mu``, as in optax's Adam.

    Args:
      decay: :math:`\beta` in [0, 1], or a schedule.
      accumulator_dtype: dtype of :math:`m` (``None``: the parameter's dtype); optax's
        ``mu_dtype``. The output has the update's dtype.
      initial_value: :math:`m_0`, a finite number (Yogi starts at ``1e-6``).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`FirstMomentState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.first_moment(0.9)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([0.2], dtype=float32)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015.
    """
    return _moment(decay, accumulator_dtype, FirstMomentState, initial_value=initial_value)


@_core.shares_count()
class SecondMomentState(NamedTuple):
    """State of :func:`second_moment`: Adam's :math:`v` under optax's name ``nu``."""

    count: jax.Array
    nu: Any


def second_moment(
    decay: _core.ScalarOrSchedule = 0.999, *, accumulator_dtype: Any = None
) -> optax.GradientTransformation:
    r"""Adam's second moment: :math:`v_t = \beta v_{t-1} + (1-\beta) |g_t|^2`, output :math:`v_t`.

    :math:`|g|^2 = g \bar g` is real for complex updates (optax's convention; the
    accumulator keeps the parameter's dtype). Not debiased; the state field is ``nu``.

    Args:
      decay: :math:`\beta` in [0, 1], or a schedule.
      accumulator_dtype: dtype of :math:`v` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`SecondMomentState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> g = jnp.array([3j], jnp.complex64)  # |g|^2 is real: 9
      >>> tx = optchain.second_moment(0.9)
      >>> tx.update(g, tx.init(jnp.zeros_like(g)))[0]
      Array([0.9+0.j], dtype=complex64)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015, section 2.
    """
    return _moment(decay, accumulator_dtype, SecondMomentState, square=True)


@_core.shares_count()
class EmaState(NamedTuple):
    """State of :func:`ema` (optax's fields)."""

    count: jax.Array
    ema: Any


def ema(
    decay: _core.ScalarOrSchedule, debias: bool = True, accumulator_dtype: Any = None
) -> optax.GradientTransformation:
    r"""optax's ``ema``: :math:`m_t = \beta m_{t-1} + (1-\beta) g_t`, output :math:`m_t / (1-\beta^t)`.

    With ``debias=False`` the output is :math:`m_t` itself. A scheduled :math:`\beta` is
    accepted with ``debias=False`` only: optax's state has no room for the product of the
    decays used, so debias a scheduled average with ``chain(first_moment(decay),
    bias_correction(decay))`` (how named optimizers build it).

    Args:
      decay: :math:`\beta` in [0, 1], or a schedule.
      debias: divide by the bias correction.
      accumulator_dtype: dtype of the average (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`EmaState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.ema(0.9)
      >>> u, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u, state.ema
      (Array([2.], dtype=float32), Array([0.2], dtype=float32))

    References:
      ``optax.ema``; Kingma & Ba, ICLR 2015, section 3 (the bias correction).
    """
    if not isinstance(debias, bool):
        raise ValueError(f"debias must be a bool; got {debias!r}")
    # debiasing divides by 1 - decay**t, which vanishes at decay = 1
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0, high_open=debias)
    if debias and callable(decay):
        raise ValueError(
            "ema cannot debias a scheduled decay: use debias=False, or "
            "chain(first_moment(decay), bias_correction(decay))"
        )
    average = _moment(decay, accumulator_dtype, EmaState)
    if not debias:
        return average

    def update_fn(updates, state, params=None):
        out, new_state = average.update(updates, state, params)
        factor = _core.bias_correction_factor(decay, new_state.count)  # pyright: ignore[reportAttributeAccessIssue]
        return _core.map_floats(lambda u: _core.divide_leaf(u, factor), out), new_state

    return optax.GradientTransformation(average.init, update_fn)


@_core.shares_count()
class BiasCorrectionState(NamedTuple):
    """State of :func:`bias_correction`: the counter and the running product of decays."""

    count: jax.Array
    decay_product: jax.Array


def bias_correction(
    decay: _core.ScalarOrSchedule,
    *,
    step_offset: int = 0,
    look_ahead: _core.ScalarOrSchedule | None = None,
) -> optax.GradientTransformation:
    r"""Debias a zero-started moving average: :math:`u / (1 - \prod_{i \le t} \beta_i)`.

    One rule: the denominator is one minus the product of the decays actually used, with
    :math:`t = 1` on the first update, as in Adam. A Python number :math:`\beta` uses the
    closed form :math:`1 - \beta^{t}` (optax's values, exactly); anything else (a schedule, an
    array, the traced value :func:`optchain.inject_hyperparams` passes) multiplies the
    running product kept in the state by the decay of each step, which is the exact
    correction for an EMA whose decay changes over time. So a scheduled :math:`\beta` gives
    the same trajectory whether it is passed as a schedule or injected. ``step_offset=k``
    corrects as if ``k`` more steps had been taken with the current decay,
    :math:`1 - \beta_t^k \prod_{i \le t} \beta_i` (NAdam's look-ahead term uses ``k=1``; the
    look-ahead repeats the current decay, which is all an injected value knows, unless
    ``look_ahead`` gives the decays of the steps ahead: then the correction is
    :math:`1 - \prod_{i \le t} \beta_i \prod_{j=1}^{k} \beta'_{t+j}`, as torch.optim.NAdam's
    momentum schedule needs (its :math:`\mu_{t+1}`).

    The state always holds the product (float32), whatever ``decay`` is, so its structure
    does not depend on the decay's kind. The exponent is computed in float32, so a saturated
    step counter gives a correction of 1 instead of overflowing.

    Args:
      decay: the decay of the EMA being corrected (the same value or schedule).
      step_offset: non-negative integer look-ahead.
      look_ahead: :math:`\beta'` in [0, 1], the decay of each step ahead: a number, or a
        schedule called with the steps ahead (:math:`t+1, \dots, t+k`, counted from 0 as every
        schedule is); ``None``: the current decay, repeated.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`BiasCorrectionState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optax.chain(optchain.first_moment(0.9), optchain.bias_correction(0.9))
      >>> u, _ = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u
      Array([2.], dtype=float32)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015, section 3.
    """
    # the correction divides by 1 - decay**t, which vanishes at decay = 1
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0, high_open=True)
    if isinstance(step_offset, bool) or not isinstance(step_offset, int) or step_offset < 0:
        raise ValueError(f"step_offset must be a non-negative int; got {step_offset!r}")
    if look_ahead is not None:
        _core.check_hyperparameter("look_ahead", look_ahead, low=0.0, high=1.0)
    closed_form = isinstance(decay, (int, float)) and not isinstance(decay, bool)

    def init_fn(params):
        del params
        return BiasCorrectionState(_core.zero_count(), jnp.ones([], jnp.float32))

    def update_fn(updates, state, params=None):
        del params
        beta = _core.as_scalar(_core.resolve(decay, state.count), jnp.float32)
        product = state.decay_product * beta
        if look_ahead is not None:
            factor = 1 - _product_ahead(product, look_ahead, state.count, step_offset)
        elif closed_form:
            steps = _core.next_count(state.count).astype(jnp.float32) + step_offset
            factor = _core.bias_correction_factor(decay, steps)
        else:
            factor = 1 - product * beta**step_offset if step_offset else 1 - product
        updates = _core.map_floats(lambda u: _core.divide_leaf(u, factor), updates)
        return updates, BiasCorrectionState(_core.next_count(state.count), product)

    return optax.GradientTransformation(init_fn, update_fn)


def _product_ahead(product: jax.Array, look_ahead: Any, count: jax.Array, steps: int) -> jax.Array:
    """``product`` times the decays of the ``steps`` steps after ``count`` (float32; the steps
    ahead saturate with the counter)."""
    for _ in range(steps):
        count = _core.next_count(count)
        product = product * _core.as_scalar(_core.resolve(look_ahead, count), jnp.float32)
    return product
