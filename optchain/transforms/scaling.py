"""Step-size scaling: constant, scheduled and learning-rate scaling, and the element-wise
square root that builds Adam's denominator.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

ScaleState = optax.EmptyState


@_core.shares_count()
class ScaleByScheduleState(NamedTuple):
    """State of :func:`scale_by_schedule` (optax's fields): the step counter."""

    count: jax.Array


def scale(step_size: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Multiply updates by a constant: :math:`u \mapsto c\, u` (optax's ``scale``).

    The product is computed in at least float32 and returned in each update's dtype. A
    schedule (an optchain extension; optax's ``scale`` takes a number) is handed to
    :func:`scale_by_schedule`, whose state counts the steps.

    Args:
      step_size: :math:`c`, any finite number (negative flips the direction), or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with the empty state ``optax.EmptyState`` (a
      schedule: :class:`ScaleByScheduleState`).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale(-2.0)
      >>> tx.update(jnp.array([1.0, 3.0]), tx.init(jnp.zeros(2)))[0]
      Array([-2., -6.], dtype=float32)

    References:
      ``optax.scale`` (plumbing, no paper).
    """
    _core.check_hyperparameter("step_size", step_size)
    if callable(step_size):
        return scale_by_schedule(step_size)

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return _core.map_floats(lambda u: _core.scale_leaf(u, step_size), updates), state

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_schedule(step_size_fn: _core.Schedule) -> optax.GradientTransformation:
    r"""Multiply updates by a scheduled factor: :math:`u \mapsto c_t\, u`, :math:`c_t` =
    ``step_size_fn(t)`` (the first update sees :math:`t = 0`).

    Args:
      step_size_fn: a schedule ``step -> value``.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByScheduleState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_schedule(lambda t: 1.0 + t)
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.ones(1), state)
      >>> tx.update(jnp.ones(1), state)[0]
      Array([2.], dtype=float32)

    References:
      ``optax.scale_by_schedule`` (plumbing, no paper).
    """
    if not callable(step_size_fn):
        raise ValueError(
            f"step_size_fn must be a schedule step -> value (a number goes to scale); "
            f"got {step_size_fn!r}"
        )
    _core.check_hyperparameter("step_size_fn", step_size_fn)  # a finite scalar at step 0
    return _core.counted_map(step_size_fn, _core.scale_leaf, ScaleByScheduleState)


def scale_by_learning_rate(
    learning_rate: _core.ScalarOrSchedule | None = None, *, flip_sign: bool = True
) -> optax.GradientTransformation:
    r"""Descent step: :math:`u \mapsto -\alpha_t u` (:math:`+\alpha_t u` with ``flip_sign=False``).

    Args:
      learning_rate: :math:`\alpha_t \ge 0`, or a schedule (the first update sees step 0);
        ``None``: no scaling (as ``optax.identity()``; integer leaves get zero updates).
      flip_sign: multiply by :math:`-\alpha_t` (descent) rather than :math:`\alpha_t`.

    Returns:
      An ``optax.GradientTransformation``: :func:`scale` (state ``optax.EmptyState``) for a
      number, :func:`scale_by_schedule` (state :class:`ScaleByScheduleState`) for a schedule.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.scale_by_learning_rate(optax.linear_schedule(0.1, 0.3, 2))
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.ones(1), state)
      >>> u, state = tx.update(jnp.ones(1), state)
      >>> u
      Array([-0.2], dtype=float32)

    References:
      ``optax.scale_by_learning_rate`` (plumbing, no paper).
    """
    if learning_rate is None:
        return scale(1.0)
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0)
    return scale(_core.negate(learning_rate) if flip_sign else learning_rate)


SqrtState = _core.CountState


def sqrt(eps_root: _core.ScalarOrSchedule = 0.0) -> optax.GradientTransformation:
    r"""Element-wise root: :math:`u \mapsto \sqrt{u + \bar\epsilon}`.

    Turns a (debiased) second moment into an RMS in Adam's denominator;
    ``eps_root`` is epsilon *inside* the root (outside goes to :func:`divide`). A complex
    input (the real-valued second moment of complex parameters) takes the principal root.

    Args:
      eps_root: :math:`\bar\epsilon \ge 0`, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``CountState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.sqrt()
      >>> tx.update(jnp.array([4.0, 9.0]), tx.init(jnp.zeros(2)))[0]
      Array([2., 3.], dtype=float32)

    References:
      Kingma & Ba, ICLR 2015 (the root of Adam's denominator; fused in ``optax.scale_by_adam``).
    """
    _core.check_hyperparameter("eps_root", eps_root, low=0.0)

    def root(u, e):
        dt = _core.compute_dtype(u.dtype)
        return jnp.sqrt(u.astype(dt) + _core.as_scalar(e, dt)).astype(u.dtype)

    return _core.counted_map(eps_root, root, SqrtState)
