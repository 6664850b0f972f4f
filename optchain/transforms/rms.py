"""RMS scaling: divide by the root of an exponential moving average of :math:`|g|^2`
(RMSprop), optionally centred (the running standard deviation).

Complex updates follow optax's convention: second moments accumulate :math:`|g|^2` (real
values, stored in the parameter's complex dtype) and the scaling factors are real.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


def _inverse_root(nu: jax.Array, eps: Any, eps_in_sqrt: bool) -> jax.Array:
    """``1 / sqrt(nu + eps)`` or ``1 / (sqrt(nu) + eps)`` for a real-valued ``nu``, real, in at
    least float32."""
    nu = _core.real_part(nu.astype(_core.compute_dtype(nu.dtype)))
    e = _core.as_scalar(eps, nu.dtype)
    if eps_in_sqrt:
        return jax.lax.rsqrt(nu + e)
    return 1 / (jnp.sqrt(nu) + e)


def _debiased(moment: jax.Array, correction: jax.Array | None) -> jax.Array:
    """``moment / correction`` in at least float32 (``moment`` itself when ``correction`` is None)."""
    m = moment.astype(_core.compute_dtype(moment.dtype))
    if correction is None:
        return m
    return m / correction.astype(m.dtype)


def _check_bias_correction(decay: Any, bias_correction: bool) -> None:
    if bias_correction and callable(decay):
        raise ValueError(
            "bias_correction=True needs a constant decay (the correction 1 - decay**t assumes "
            "one); for a scheduled decay chain second_moment(decay) and bias_correction(decay)"
        )
    if bias_correction:  # 1 - decay**t vanishes at decay = 1
        _core.check_hyperparameter("decay", decay, low=0.0, high=1.0, high_open=True)


def _rms_scaling(
    decay, eps, initial_scale, eps_in_sqrt, bias_correction, accumulator_dtype, *, centered
) -> optax.GradientTransformation:
    r"""What :func:`scale_by_rms` and :func:`scale_by_stddev` share: the checks, the EMA
    :math:`\nu` of :math:`|g|^2` and its debiasing; ``centered`` adds the EMA :math:`\mu` of
    :math:`g` and subtracts :math:`|\hat\mu|^2` under the root."""
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0)
    _core.check_hyperparameter("eps", eps, low=0.0)
    _core.check_hyperparameter("initial_scale", initial_scale, low=0.0, allow_schedule=False)
    _check_bias_correction(decay, bias_correction)

    def init_fn(params):
        nu = _core.full_like_tree(params, initial_scale, accumulator_dtype)
        if not centered:
            return ScaleByRmsWithCountState(_core.zero_count(), nu)
        mu = _core.tree_zeros(params, accumulator_dtype)
        return ScaleByRStdDevWithCountState(_core.zero_count(), mu, nu)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu, "RMS accumulator")
        rho = _core.resolve(decay, state.count)
        e = _core.resolve(eps, state.count)
        count = _core.next_count(state.count)
        correction = _core.bias_correction_factor(rho, count) if bias_correction else None
        nu = _core.map_floats(
            lambda g, n: _core.ema_of_squares(g, n, rho), updates, state.nu, keep=1
        )
        if not centered:

            def output(g, n):
                return _core.scale_real(g, _inverse_root(_debiased(n, correction), e, eps_in_sqrt))

            return _core.map_floats(output, updates, nu), ScaleByRmsWithCountState(count, nu)

        mu = _core.map_floats(lambda g, m: _core.ema_update(g, m, rho), updates, state.mu, keep=1)

        def centred_output(g, m, n):
            n = _core.real_part(_debiased(n, correction))
            spread = _core.abs_sq(_debiased(m, correction)).astype(n.dtype)
            return _core.scale_real(g, _inverse_root(n - spread, e, eps_in_sqrt))

        updates = _core.map_floats(centred_output, updates, mu, nu)
        return updates, ScaleByRStdDevWithCountState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class ScaleByRmsWithCountState(NamedTuple):
    """State of :func:`scale_by_rms` (optax's class of this name): the step counter (for
    schedules and the bias correction) and the EMA of :math:`|g|^2`."""

    count: jax.Array
    nu: Any


def scale_by_rms(
    decay: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""RMSprop scaling: :math:`\nu_t = \rho \nu_{t-1} + (1-\rho) |g_t|^2`, output :math:`g_t / \sqrt{\hat\nu_t + \epsilon}`.

    :math:`\hat\nu_t = \nu_t` (or :math:`\nu_t / (1 - \rho^t)` with ``bias_correction``).
    With ``eps_in_sqrt=False`` the output is :math:`g_t / (\sqrt{\hat\nu_t} + \epsilon)`,
    torch.optim.RMSprop's convention (optax and TF put epsilon inside the root). optax's
    signature and values; the state always holds the counter (optax's
    ``ScaleByRmsWithCountState``, which optax uses only with ``bias_correction``), so
    ``decay`` and ``eps`` may be schedules.

    Args:
      decay: :math:`\rho` in [0, 1], or a schedule (a constant with ``bias_correction``).
      eps: :math:`\epsilon \ge 0`, or a schedule.
      initial_scale: initial value of :math:`\nu` (torch 0, TF1 1).
      eps_in_sqrt: where epsilon goes.
      bias_correction: divide :math:`\nu_t` by :math:`1 - \rho^t`.
      accumulator_dtype: dtype of :math:`\nu` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByRmsWithCountState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_rms(decay=0.75, eps=0.0)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / sqrt(0.25 * 2**2)
      Array([2.], dtype=float32)

    References:
      Tieleman & Hinton, *Lecture 6.5 - RMSProp*, COURSERA: Neural Networks for
      Machine Learning, 2012.
    """
    return _rms_scaling(
        decay, eps, initial_scale, eps_in_sqrt, bias_correction, accumulator_dtype, centered=False
    )


@_core.shares_count()
class ScaleByRStdDevWithCountState(NamedTuple):
    """State of :func:`scale_by_stddev` (optax's class of this name): the step counter and the
    EMAs of :math:`g` and of :math:`|g|^2`."""

    count: jax.Array
    mu: Any
    nu: Any


@_core.same_signature_as(scale_by_rms)
def scale_by_stddev(**arguments: Any) -> optax.GradientTransformation:
    r"""Centered RMSprop: output :math:`g_t / \sqrt{\hat\nu_t - |\hat\mu_t|^2 + \epsilon}`.

    :math:`\mu_t` and :math:`\nu_t` are EMAs (decay :math:`\rho`) of :math:`g` and
    :math:`|g|^2`, debiased by :math:`1 - \rho^t` with ``bias_correction``.
    ``eps_in_sqrt=False`` gives :math:`g_t / (\sqrt{\hat\nu_t - |\hat\mu_t|^2} + \epsilon)`
    (torch.optim.RMSprop with ``centered=True``). optax's signature and values; the state
    always holds the counter (optax's ``ScaleByRStdDevWithCountState``).

    Args:
      decay: :math:`\rho` in [0, 1], or a schedule (a constant with ``bias_correction``).
      eps: :math:`\epsilon \ge 0`, or a schedule.
      initial_scale: initial value of :math:`\nu`.
      eps_in_sqrt: where epsilon goes.
      bias_correction: debias both moments.
      accumulator_dtype: dtype of :math:`\mu, \nu` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByRStdDevWithCountState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_stddev(decay=0.5, eps=0.0)
      >>> u, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u, state.mu, state.nu  # 2 / sqrt(nu - mu**2) = 2 / sqrt(2 - 1)
      (Array([2.], dtype=float32), Array([1.], dtype=float32), Array([2.], dtype=float32))

    References:
      Graves, *Generating Sequences With Recurrent Neural Networks*, 2013, eq. 38-45.
    """
    return _rms_scaling(**arguments, centered=True)
