"""Layer-wise trust ratio (LARS, LAMB) and the usual mask that spares biases and norms."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from optchain import _core

TrustRatioState = _core.CountState


def _norm(x: jax.Array, floor: Any) -> jax.Array:
    norm = jnp.sqrt(_core.square_sum(x))
    return jnp.maximum(norm, _core.as_scalar(floor, norm.dtype))


def scale_by_trust_ratio(
    min_norm: float = 0.0,
    trust_coefficient: _core.ScalarOrSchedule = 1.0,
    eps: float = 0.0,
    *,
    mask: Any = None,
) -> optax.GradientTransformation:
    r"""Per-leaf trust ratio: :math:`u_l \mapsto u_l \cdot \eta\, \lVert w_l \rVert / (\lVert u_l \rVert + \epsilon)`.

    optax's signature and values. Where either norm is 0 the ratio is 1 (freshly
    zero-initialised layers still move). Norms are floored at ``min_norm`` and computed in at
    least float32 (complex entries by :math:`|x|^2`). Needs ``params``.

    Args:
      min_norm: floor on both norms.
      trust_coefficient: :math:`\eta > 0`, or a schedule.
      eps: :math:`\epsilon \ge 0` added to the update norm.
      mask: optional tree of bools (or ``params -> tree``) choosing the leaves to scale;
        :func:`layerwise_mask` spares biases and normalisation scales (an optchain extension).

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState`` (a scheduled
      ``trust_coefficient``: ``CountState``; wrapped by ``optax.masked`` when a mask is given).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_trust_ratio()
      >>> tx.update(jnp.array([3.0, 4.0]), tx.init(None), jnp.array([0.0, 10.0]))[0]
      Array([6., 8.], dtype=float32)

    References:
      You et al., *Large Batch Training of Convolutional Networks* (LARS), 2017;
      You et al., *Large Batch Optimization for Deep Learning* (LAMB), ICLR 2020.
    """
    _core.check_hyperparameter("min_norm", min_norm, low=0.0, allow_schedule=False)
    _core.check_hyperparameter("trust_coefficient", trust_coefficient, low=0.0, low_open=True)
    _core.check_hyperparameter("eps", eps, low=0.0, allow_schedule=False)

    def init_fn(params):
        del params
        if callable(trust_coefficient):
            return TrustRatioState(_core.zero_count())
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "scale_by_trust_ratio")
        if callable(trust_coefficient):
            coefficient = _core.resolve(trust_coefficient, state.count)
            new_state = TrustRatioState(_core.next_count(state.count))
        else:
            coefficient, new_state = trust_coefficient, state

        def scale_leaf(u, w):
            w_norm, u_norm = _norm(w, min_norm), _norm(u, min_norm)
            dt = u_norm.dtype
            ratio = _core.as_scalar(coefficient, dt) * w_norm.astype(dt) / (u_norm + eps)
            ratio = jnp.where((w_norm == 0) | (u_norm == 0), jnp.ones([], dt), ratio)
            wide = _core.accumulator_dtype_for(u, dt)
            return (u.astype(wide) * ratio.astype(wide)).astype(u.dtype)

        return _core.map_floats(scale_leaf, updates, params), new_state

    tx = optax.GradientTransformation(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)


def layerwise_mask(params: Any) -> Any:
    r"""``True`` for leaves with at least 2 dimensions (kernels), ``False`` for biases and
    normalisation scales: the usual exclusions for trust ratios and weight decay.

    :math:`m_l = [\operatorname{ndim}(w_l) \ge 2]`.

    Args:
      params: a tree of arrays (the parameters).

    Returns:
      A tree of ``params``'s structure with a Python bool per leaf.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> optchain.layerwise_mask({"kernel": jnp.zeros((3, 4)), "bias": jnp.zeros(4)})
      {'bias': False, 'kernel': True}

    References:
      You et al., ICLR 2020 (LAMB excludes biases and LayerNorm from decay and trust ratio).
    """
    return jax.tree.map(lambda w: jnp.ndim(w) >= 2, params)
