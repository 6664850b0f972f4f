"""Weight decay, coupled (L2 added to the gradient) and decoupled."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax

from optchain import _core


@_core.shares_count()
class WeightDecaySchedule(NamedTuple):
    """State of :func:`add_decayed_weights` and :func:`decoupled_weight_decay` with a scheduled
    rate (optax's class of this name): the step counter. A constant rate keeps no state
    (``optax.EmptyState``)."""

    count: jax.Array


def _is_zero(value: Any) -> bool:
    return not callable(value) and _core.concrete_float(value) == 0.0


def _weight_decay(weight_decay, mask, sign: float, name: str):
    def init_fn(params):
        del params
        if callable(weight_decay):
            return WeightDecaySchedule(_core.zero_count())
        return optax.EmptyState()

    zero = _is_zero(weight_decay)

    def update_fn(updates, state, params=None):
        new_state = (
            WeightDecaySchedule(_core.next_count(state.count)) if callable(weight_decay) else state
        )
        if zero:  # no arithmetic (as optax), so no parameters needed either
            return _core.map_floats(lambda u: u, updates), new_state
        _core.require_params(params, updates, name)
        lam = _core.resolve(weight_decay, state.count) if callable(weight_decay) else weight_decay

        def decay(u, w):
            dtype = _core.compute_dtype(u.dtype)
            out = u.astype(dtype) + sign * _core.as_scalar(lam, dtype) * w.astype(dtype)
            return out.astype(u.dtype)

        try:  # a None update leaf matches any params subtree
            out = _core.map_floats(decay, updates, params)
        except ValueError:
            _core.check_trees_match(updates, params, "params")  # names the first bad path
            raise
        return out, new_state

    tx = optax.GradientTransformation(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)


def add_decayed_weights(
    weight_decay: _core.ScalarOrSchedule = 0.0, mask: Any = None
) -> optax.GradientTransformation:
    r"""Add :math:`\lambda w` to the updates: :math:`u \mapsto u + \lambda_t w` (optax's).

    Placed first in a chain it is *coupled* weight decay (L2 regularisation added to
    the gradient, torch's ``weight_decay`` for SGD/Adam, MXNet's ``wd``); placed after
    the preconditioner and before :func:`scale_by_learning_rate` it is AdamW's decay,
    multiplied by the learning rate (torch.optim.AdamW, optax.adamw). A constant 0 leaves
    the updates as they are and needs no ``params`` (optax asks for them anyway), so a
    recipe can keep the link whatever the rate. ``None`` update leaves stay ``None``;
    integer and boolean leaves get a zero update.

    Args:
      weight_decay: :math:`\lambda \ge 0`, or a schedule.
      mask: optional tree of bools (or a function ``params -> tree``) selecting the
        leaves to decay, as in ``optax.masked``.

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState`` for a number and
      :class:`WeightDecaySchedule` for a schedule (wrapped by ``optax.masked`` when a mask is
      given). Needs ``params`` unless the rate is a constant 0.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.add_decayed_weights(0.1)
      >>> tx.update(jnp.zeros(1), tx.init(None), jnp.array([2.0]))[0]
      Array([0.2], dtype=float32)

    References:
      Hanson & Pratt, *Comparing Biases for Minimal Network Construction with
      Back-Propagation*, NIPS 1988.
    """
    _core.check_hyperparameter("weight_decay", weight_decay, low=0.0)
    return _weight_decay(weight_decay, mask, 1.0, "add_decayed_weights")


def decoupled_weight_decay(
    weight_decay: _core.ScalarOrSchedule = 0.0, mask: Any = None
) -> optax.GradientTransformation:
    r"""Shrink the weights after the step: :math:`u \mapsto u - \lambda_t w`.

    Placed *after* :func:`scale_by_learning_rate`, so the decay is independent of the
    learning rate: :math:`w_{t+1} = (1 - \lambda_t) w_t + u_t` (Loshchilov & Hutter's
    decoupled form, with any schedule multiplier folded into :math:`\lambda_t`). Same
    conventions as :func:`add_decayed_weights` (a constant 0 does nothing, ``None`` leaves).

    Args:
      weight_decay: :math:`\lambda \in [0, 1]` per step, or a schedule.
      mask: optional tree of bools (or a function ``params -> tree``).

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState`` for a number and
      :class:`WeightDecaySchedule` for a schedule. Needs ``params`` unless the rate is a
      constant 0.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.decoupled_weight_decay(0.1)
      >>> tx.update(jnp.zeros(1), tx.init(None), jnp.array([2.0]))[0]
      Array([-0.2], dtype=float32)

    References:
      Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019.
    """
    _core.check_hyperparameter("weight_decay", weight_decay, low=0.0, high=1.0)
    return _weight_decay(weight_decay, mask, -1.0, "decoupled_weight_decay")
