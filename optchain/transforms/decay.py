"""Weight decay, coupled (L2 added to the gradient) and decoupled."""

from __future__ import annotations

from typing import Any

import optax

from optchain import _core

WeightDecayState = _core.CountState


def _weight_decay(weight_decay, mask, sign: float, name: str):
    _core.check_hyperparameter("weight_decay", weight_decay, low=0.0)

    def init_fn(params):
        del params
        return WeightDecayState(_core.zero_count())

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, name)
        _core.check_trees_match(updates, params, "params")
        lam = _core.resolve(weight_decay, state.count)

        def decay(u, w):
            dtype = _core.compute_dtype(u.dtype)
            out = u.astype(dtype) + sign * _core.as_scalar(lam, dtype) * w.astype(dtype)
            return out.astype(u.dtype)

        updates = _core.map_floats(decay, updates, params)
        return updates, WeightDecayState(_core.next_count(state.count))

    tx = optax.GradientTransformation(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)


def add_decayed_weights(
    weight_decay: _core.ScalarOrSchedule = 0.0, mask: Any = None
) -> optax.GradientTransformation:
    r"""Add :math:`\lambda w` to the updates: :math:`u \mapsto u + \lambda_t w`.

    Placed first in a chain it is *coupled* weight decay (L2 regularisation added to
    the gradient, torch's ``weight_decay`` for SGD/Adam, MXNet's ``wd``); placed after
    the preconditioner and before :func:`scale_by_learning_rate` it is AdamW's decay,
    multiplied by the learning rate (torch.optim.AdamW, optax.adamw).

    Args:
      weight_decay: :math:`\lambda \ge 0`, or a schedule.
      mask: optional tree of bools (or a function ``params -> tree``) selecting the
        leaves to decay, as in ``optax.masked``.

    Returns:
      An ``optax.GradientTransformation`` (state ``CountState``, wrapped by
      ``optax.masked`` when a mask is given). Needs ``params``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.add_decayed_weights(0.1)
      >>> tx.update(jnp.zeros(1), tx.init(None), jnp.array([2.0]))[0]
      Array([0.2], dtype=float32)

    References:
      Hanson & Pratt, *Comparing Biases for Minimal Network Construction with
      Back-Propagation*, NIPS 1988.
    """
    return _weight_decay(weight_decay, mask, 1.0, "add_decayed_weights")


def decoupled_weight_decay(
    weight_decay: _core.ScalarOrSchedule = 0.0, mask: Any = None
) -> optax.GradientTransformation:
    r"""Shrink the weights after the step: :math:`u \mapsto u - \lambda_t w`.

    Placed *after* :func:`scale_by_learning_rate`, so the decay is independent of the
    learning rate: :math:`w_{t+1} = (1 - \lambda_t) w_t + u_t` (Loshchilov & Hutter's
    decoupled form, with any schedule multiplier folded into :math:`\lambda_t`).

    Args:
      weight_decay: :math:`\lambda \in [0, 1]` per step, or a schedule.
      mask: optional tree of bools (or a function ``params -> tree``).

    Returns:
      An ``optax.GradientTransformation`` (state ``CountState``). Needs ``params``.

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
