"""Asynchronous normalisation: the gradient of step :math:`t` divided by a second moment that
has not seen it yet (the moment of step :math:`t-1`), so that the step size and the gradient
are independent. ADOPT normalises by the previous raw second moment and clips the result;
AcProp divides by the previous *centered* second moment (AdaBelief's belief).

Complex leaves: the moments are of :math:`|x|^2 = x \\bar x` (real values, kept in the
parameter's dtype as optax does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

__all__ = [
    "NormalizeByPreviousRmsState",
    "PreviousCenteredRmsState",
    "normalize_by_previous_rms",
    "previous_centered_rms",
]


def _fourth_root(step: jax.Array) -> jax.Array:
    return step**0.25


def _clip(u: jax.Array, bound: jax.Array) -> jax.Array:
    """``u`` clipped to :math:`[-c, c]`; a complex ``u`` keeps its phase and has its modulus
    clipped to :math:`c` (the two agree on real numbers)."""
    if not jnp.iscomplexobj(u):
        return jnp.clip(u, -bound, bound)
    modulus = jnp.abs(u)
    shrink = bound / jnp.where(modulus > bound, modulus, jnp.ones([], modulus.dtype))
    return jnp.where(modulus > bound, u * shrink.astype(u.dtype), u)


@_core.shares_count()
class NormalizeByPreviousRmsState(NamedTuple):
    """State of :func:`normalize_by_previous_rms`: the counter and the second moment ``nu``
    (optax's ADOPT field)."""

    count: jax.Array
    nu: Any


def normalize_by_previous_rms(
    b2: _core.ScalarOrSchedule = 0.9999,
    eps: _core.ScalarOrSchedule = 1e-6,
    *,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], Any] = _fourth_root,
) -> optax.GradientTransformation:
    r"""ADOPT's normalisation: :math:`u_t = \mathrm{clip}(g_t / \max(\sqrt{v_{t-1}}, \epsilon), c_t)`, then :math:`v_t = \beta_2 v_{t-1} + (1-\beta_2) |g_t|^2`.

    The gradient is divided by the RMS of the *previous* steps, which has not seen it. The
    first update sets :math:`v_1 = |g_1|^2` (no decay) and outputs zero: there is no RMS to
    normalise by yet (optax's ADOPT computes :math:`g_1 / \epsilon` and gives it weight 0,
    which is the same step, but NaN where :math:`g_1 / \epsilon` overflows, as in float16).
    ``clip_value_fn`` gives :math:`c_t` from the step :math:`t` (0 on the first update),
    :math:`t^{1/4}` by default; it is part of the algorithm, not a hyperparameter to inject.
    A complex :math:`u` has its modulus clipped (its phase kept), which optax refuses to do.

    Args:
      b2: :math:`\beta_2` in [0, 1), or a schedule.
      eps: :math:`\epsilon \ge 0`, the floor of the RMS, or a schedule.
      use_clipping: clip the normalised gradient to :math:`[-c_t, c_t]`.
      clip_value_fn: :math:`t \mapsto c_t`, a callable of the int32 step.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`NormalizeByPreviousRmsState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.normalize_by_previous_rms(clip_value_fn=lambda t: 1.5 + 0 * t)
      >>> u, state = tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))
      >>> u, state.nu  # nothing to normalise by yet; v_1 = g**2
      (Array([0., 0.], dtype=float32), Array([4.  , 0.25], dtype=float32))
      >>> tx.update(jnp.array([1.0, 1.0]), state)[0]  # g / sqrt(v_1), clipped to [-1.5, 1.5]
      Array([0.5, 1.5], dtype=float32)

    References:
      Taniguchi et al., *ADOPT: Modified Adam Can Converge with Any* :math:`\beta_2` *with
      the Optimal Rate*, NeurIPS 2024.
    """
    _core.check_hyperparameter("b2", b2, low=0.0, high=1.0, high_open=True)
    _core.check_hyperparameter("eps", eps, low=0.0)
    if not isinstance(use_clipping, bool):
        raise ValueError(f"use_clipping must be True or False; got {use_clipping!r}")
    if not callable(clip_value_fn):
        raise ValueError(f"clip_value_fn must be a callable step -> value; got {clip_value_fn!r}")

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu, "second moment")
        first = state.count == 0
        beta = jnp.where(first, 0.0, _core.resolve(b2, state.count))
        floor = _core.resolve(eps, state.count)
        bound = _core.resolve(clip_value_fn, state.count) if use_clipping else None

        def normalize(g, v):
            dt = _core.compute_dtype(g.dtype)
            rms = jnp.sqrt(_core.real_part(v.astype(_core.compute_dtype(v.dtype))))
            rms = jnp.maximum(rms, _core.as_scalar(floor, rms.dtype)).astype(_core.real_dtype(dt))
            u = g.astype(dt) / rms.astype(dt)
            if bound is not None:
                u = _clip(u, _core.as_scalar(bound, _core.real_dtype(dt)))
            return jnp.where(first, jnp.zeros([], u.dtype), u).astype(g.dtype)

        out = _core.map_floats(normalize, updates, state.nu)
        nu = _core.map_floats(
            lambda g, v: _core.ema_of_squares(g, v, beta), updates, state.nu, keep=1
        )
        return out, NormalizeByPreviousRmsState(_core.next_count(state.count), nu)

    init_fn = _core.zeros_init(NormalizeByPreviousRmsState)
    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class PreviousCenteredRmsState(NamedTuple):
    """State of :func:`previous_centered_rms` (optax's AcProp fields): the counter, the first
    moment ``mu`` and the centered second moment ``nu``."""

    count: jax.Array
    mu: Any
    nu: Any


def previous_centered_rms(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: float = 0.999,
    eps_root: _core.ScalarOrSchedule = 1e-16,
) -> optax.GradientTransformation:
    r"""AcProp's denominator: output :math:`\sqrt{\hat s_{t-1}}` (1 on the first update), then :math:`s_t = \beta_2 s_{t-1} + (1-\beta_2)|g_t - m_{t-1}|^2 + \bar\epsilon`.

    :math:`m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t` and :math:`\hat s_{t-1} = s_{t-1} /
    (1 - \beta_2^{t-1})`. The centered second moment is AdaBelief's belief, with the
    prediction error measured against the *previous* first moment, and the output is the
    belief of the previous step: the update that divides by it (``divide(scale(1.0),
    previous_centered_rms(...), eps=eps)``) never divides the gradient by itself.

    Args:
      b1: :math:`\beta_1` in [0, 1), or a schedule.
      b2: :math:`\beta_2` in [0, 1), a number (the bias correction is its power).
      eps_root: :math:`\bar\epsilon \ge 0`, added to :math:`s_t` and kept in the state, as
        optax does; or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`PreviousCenteredRmsState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.previous_centered_rms(0.5, 0.5, eps_root=0.0)
      >>> d, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> d, state.mu, state.nu  # the first output is 1; s_1 = 0.5 * (2 - 0)**2
      (Array([1.], dtype=float32), Array([1.], dtype=float32), Array([2.], dtype=float32))
      >>> tx.update(jnp.array([0.0]), state)[0]  # sqrt(s_1 / (1 - 0.5))
      Array([2.], dtype=float32)

    References:
      Zhuang et al., *Momentum Centering and Asynchronous Update for Adaptive Gradient
      Methods*, NeurIPS 2021.
    """
    _core.check_hyperparameter("b1", b1, low=0.0, high=1.0, high_open=True)
    _core.check_hyperparameter("b2", b2, low=0.0, high=1.0, high_open=True, allow_schedule=False)
    _core.check_hyperparameter("eps_root", eps_root, low=0.0)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.mu, "first moment")
        w1, e_root = _core.resolve(b1, state.count), _core.resolve(eps_root, state.count)
        first = state.count == 0
        steps = jnp.where(first, _core.next_count(state.count), state.count)
        correction = _core.bias_correction_factor(b2, steps)

        def centered(g, m, s):  # m is the previous first moment
            dt = _core.compute_dtype(g.dtype)
            s = _core.ema_of_squares(g.astype(dt) - m.astype(dt), s, b2)
            ds = _core.compute_dtype(s.dtype)
            return (s.astype(ds) + _core.as_scalar(e_root, ds)).astype(s.dtype)

        def root(g, s):  # s is the previous centered moment
            s = _core.real_part(s.astype(_core.compute_dtype(s.dtype)))
            s_hat = jnp.where(first, jnp.ones([], s.dtype), s / correction.astype(s.dtype))
            return jnp.sqrt(s_hat).astype(g.dtype)

        out = _core.map_floats(root, updates, state.nu)
        nu = _core.map_floats(centered, updates, state.mu, state.nu, keep=2)
        mu = _core.map_floats(
            lambda g, m: _core.ema_update(g.astype(_core.compute_dtype(g.dtype)), m, w1),
            updates,
            state.mu,
            keep=1,
        )
        return out, PreviousCenteredRmsState(_core.next_count(state.count), mu, nu)

    def init_fn(params):
        return PreviousCenteredRmsState(
            _core.zero_count(), _core.tree_zeros(params), _core.tree_zeros(params)
        )

    return optax.GradientTransformation(init_fn, update_fn)
