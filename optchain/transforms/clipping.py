"""Clipping: element-wise, by global norm, per block, adaptive unit-wise (AGC)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from optchain import _core

ClipState = _core.CountState


def clip(max_delta: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Element-wise clipping: :math:`u \mapsto \max(-c, \min(u, c))`.

    The symmetric form of the rule :math:`\min(g, c)`: large gradients of either sign
    are cut to the threshold, small ones pass unchanged.

    Args:
      max_delta: threshold :math:`c \ge 0`, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``CountState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.clip(1.0)
      >>> tx.update(jnp.array([-3.0, 0.5, 2.0]), tx.init(None))[0]
      Array([-1. ,  0.5,  1. ], dtype=float32)

    References:
      Mikolov, *Statistical Language Models Based on Neural Networks*, PhD thesis, 2012.
    """
    _core.check_hyperparameter("max_delta", max_delta, low=0.0)

    def init_fn(params):
        del params
        return ClipState(_core.zero_count())

    def update_fn(updates, state, params=None):
        del params
        c = _core.resolve(max_delta, state.count)

        def clip_leaf(u):
            dt = _core.compute_dtype(u.dtype)
            limit = _core.as_scalar(c, dt)
            return jnp.clip(u.astype(dt), -limit, limit).astype(u.dtype)

        updates = _core.map_floats(clip_leaf, updates)
        return updates, ClipState(_core.next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def _rescale_to(u: jax.Array, norm: jax.Array, max_norm) -> jax.Array:
    dtype = _core.compute_dtype(u.dtype)
    limit = _core.as_scalar(max_norm, dtype)
    scaled = (u.astype(dtype) / norm.astype(dtype)) * limit
    return jnp.where(norm < limit, u, scaled.astype(u.dtype))


def clip_by_global_norm(max_norm: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Rescale all updates together when their joint norm exceeds ``max_norm``.

    :math:`u \mapsto u \cdot c / \lVert u \rVert` if :math:`\lVert u \rVert \ge c`, with the
    norm taken over every leaf (optax's rule; torch's ``clip_grad_norm_`` divides by
    :math:`\lVert u \rVert + 10^{-6}`). The norm is accumulated in float32 at least.

    Args:
      max_norm: :math:`c > 0`, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``CountState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.clip_by_global_norm(1.0)
      >>> tx.update({"a": jnp.array([3.0]), "b": jnp.array([4.0])}, tx.init(None))[0]["b"]
      Array([0.8], dtype=float32)

    References:
      Pascanu et al., *On the difficulty of training recurrent neural networks*, ICML 2013.
    """
    _core.check_hyperparameter("max_norm", max_norm, low=0.0, low_open=True)

    def init_fn(params):
        del params
        return ClipState(_core.zero_count())

    def update_fn(updates, state, params=None):
        del params
        c = _core.resolve(max_norm, state.count)
        squares = [_core.square_sum(u) for u in jax.tree.leaves(updates) if _core.is_float(u)]
        dtype = _core.wider_dtype(jnp.float32, *(x.dtype for x in squares))
        norm = jnp.sqrt(sum((x.astype(dtype) for x in squares), jnp.zeros([], dtype)))
        updates = _core.map_floats(lambda u: _rescale_to(u, norm, c), updates)
        return updates, ClipState(_core.next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def clip_by_block_norm(max_norm: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Per-block clipping: each leaf :math:`u_b` is rescaled to norm ``max_norm`` if it exceeds it.

    Args:
      max_norm: :math:`c > 0`, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``CountState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.clip_by_block_norm(1.0)
      >>> out = tx.update({"a": jnp.array([3.0, 4.0]), "b": jnp.array([0.5])}, tx.init(None))[0]
      >>> out["a"], out["b"]
      (Array([0.6, 0.8], dtype=float32), Array([0.5], dtype=float32))
    """
    _core.check_hyperparameter("max_norm", max_norm, low=0.0, low_open=True)

    def init_fn(params):
        del params
        return ClipState(_core.zero_count())

    def update_fn(updates, state, params=None):
        del params
        c = _core.resolve(max_norm, state.count)
        updates = _core.map_floats(
            lambda u: _rescale_to(u, jnp.sqrt(_core.square_sum(u)), c), updates
        )
        return updates, ClipState(_core.next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def unitwise_norm(x: jax.Array) -> jax.Array:
    """Norm per output unit: over all axes but the last for ndim >= 2, else over the array.

    The result broadcasts against ``x``. Dense kernels ``(in, out)`` and convolution
    kernels ``(h, w, in, out)`` in Flax's layout get one norm per output unit.
    """
    y = x.astype(_core.compute_dtype(x.dtype))
    if x.ndim <= 1:
        return jnp.sqrt(jnp.sum(y * y))
    return jnp.sqrt(jnp.sum(y * y, axis=tuple(range(x.ndim - 1)), keepdims=True))


def adaptive_clip(
    clipping: _core.ScalarOrSchedule = 0.01, eps: float = 1e-3
) -> optax.GradientTransformation:
    r"""Adaptive gradient clipping (AGC), unit-wise.

    For each unit :math:`i` of each leaf, with :math:`m_i = \lambda \max(\lVert w_i \rVert, \epsilon)`:
    :math:`g_i \mapsto g_i \, m_i / \lVert g_i \rVert` when :math:`\lVert g_i \rVert > m_i`, else
    unchanged. Norms are per output unit (:func:`unitwise_norm`). Needs ``params``.

    Args:
      clipping: :math:`\lambda > 0`, or a schedule.
      eps: :math:`\epsilon > 0`, floor on parameter norms so zero-initialised
        weights can move.

    Returns:
      An ``optax.GradientTransformation`` with state ``CountState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.adaptive_clip(0.1)
      >>> tx.update(jnp.array([3.0, 4.0]), tx.init(None), jnp.array([6.0, 8.0]))[0]
      Array([0.6, 0.8], dtype=float32)

    References:
      Brock et al., *High-Performance Large-Scale Image Recognition Without
      Normalization*, ICML 2021.
    """
    _core.check_hyperparameter("clipping", clipping, low=0.0, low_open=True)
    _core.check_hyperparameter("eps", eps, low=0.0, low_open=True, allow_schedule=False)

    def init_fn(params):
        del params
        return ClipState(_core.zero_count())

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "adaptive_clip")
        lam = _core.resolve(clipping, state.count)

        def clip_leaf(g, w):
            dtype = _core.compute_dtype(g.dtype)
            limit = jnp.maximum(unitwise_norm(w), eps) * _core.as_scalar(lam, dtype)
            g_norm = unitwise_norm(g)
            scaled = g.astype(dtype) * (limit / jnp.maximum(g_norm, 1e-6))
            return jnp.where(g_norm > limit, scaled, g.astype(dtype)).astype(g.dtype)

        updates = _core.map_floats(clip_leaf, updates, params)
        return updates, ClipState(_core.next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)
