"""Clipping: element-wise, by global norm, per block, adaptive unit-wise (AGC).

With a constant threshold the transforms keep no state (``optax.EmptyState``, as optax's);
a scheduled threshold adds the step counter (``CountState``). Norms of complex updates are
norms of their moduli, :math:`\\sqrt{\\sum |u|^2}`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from optchain import _core


def _stateless_or_counted(
    value: Any, apply: Callable[[Any, Any, Any], Any], check: Callable[[Any], None] | None = None
) -> optax.GradientTransformation:
    """A transform ``apply(updates, params, value_now)``: stateless for a constant ``value``
    (``optax.EmptyState``), counting steps (``CountState``) for a schedule."""

    def init_fn(params):
        if check is not None:
            check(params)
        return _core.CountState(_core.zero_count()) if callable(value) else optax.EmptyState()

    def update_fn(updates, state, params=None):
        if not callable(value):
            return apply(updates, params, value), state
        now = _core.resolve(value, state.count)
        return apply(updates, params, now), _core.CountState(_core.next_count(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def clip(max_delta: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Element-wise clipping: :math:`u \mapsto \max(-c, \min(u, c))` (optax's ``clip``).

    The symmetric form of the rule :math:`\min(g, c)`: large gradients of either sign
    are cut to the threshold, small ones pass unchanged. Complex updates have no order:
    ``init`` rejects complex parameters (optax's ``clip`` fails on them in ``update``).

    Args:
      max_delta: threshold :math:`c \ge 0`, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState`` (a schedule:
      ``CountState``).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.clip(1.0)
      >>> tx.update(jnp.array([-3.0, 0.5, 2.0]), tx.init(None))[0]
      Array([-1. ,  0.5,  1. ], dtype=float32)

    References:
      Mikolov, *Statistical Language Models Based on Neural Networks*, PhD thesis, 2012.
    """
    _core.check_hyperparameter("max_delta", max_delta, low=0.0)

    def apply(updates, params, c):
        del params

        def clip_leaf(u):
            dt = _core.compute_dtype(u.dtype)
            limit = _core.as_scalar(c, dt)
            return jnp.clip(u.astype(dt), -limit, limit).astype(u.dtype)

        return _core.map_floats(clip_leaf, updates)

    return _stateless_or_counted(
        max_delta, apply, lambda p: _core.check_leaves(p, "clip", complex_ok=False)
    )


def _rescale_to(u: jax.Array, norm: jax.Array, max_norm: Any) -> jax.Array:
    """``u`` where ``norm < max_norm``, else ``u / norm * max_norm`` (a real ``norm``)."""
    real = norm.dtype
    limit = _core.as_scalar(max_norm, real)
    dtype = _core.accumulator_dtype_for(u, _core.compute_dtype(u.dtype))
    scaled = (u.astype(dtype) / norm.astype(dtype)) * _core.as_scalar(limit, dtype)
    return jnp.where(norm < limit, u, scaled.astype(u.dtype))


def _global_norm(updates: Any) -> jax.Array:
    """:math:`\\sqrt{\\sum_l \\sum |u_l|^2}` over the floating-point leaves, in at least float32
    (integer and boolean leaves are not optimized and do not count)."""
    leaves = [_core.as_leaf(u) for u in jax.tree.leaves(updates)]
    floats = [u for u in leaves if _core.is_float(u)]
    # every leaf squared in the widest precision present: a float32 leaf next to a float64 one
    # must not put float32 rounding (which differs between jit and eager) into the float64 result
    dtype = _core.wider_dtype(jnp.float32, *(_core.real_dtype(u.dtype) for u in floats))
    squares = [
        jnp.sum(_core.abs_sq(u.astype(_core.accumulator_dtype_for(u, dtype)))) for u in floats
    ]
    return jnp.sqrt(sum((x.astype(dtype) for x in squares), jnp.zeros([], dtype)))


def clip_by_global_norm(max_norm: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Rescale all updates together when their joint norm exceeds ``max_norm`` (optax's rule).

    :math:`u \mapsto u \cdot c / \lVert u \rVert` if :math:`\lVert u \rVert \ge c`, with the
    norm taken over every floating-point leaf (torch's ``clip_grad_norm_`` divides by
    :math:`\lVert u \rVert + 10^{-6}`). The norm is accumulated in float32 at least.

    Args:
      max_norm: :math:`c > 0`, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState`` (a schedule:
      ``CountState``).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> updates = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}  # joint norm 5
      >>> tx = optchain.clip_by_global_norm(1.0)
      >>> tx.update(updates, tx.init(None))[0]
      {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}

    References:
      Pascanu et al., *On the difficulty of training recurrent neural networks*, ICML 2013.
    """
    _core.check_hyperparameter("max_norm", max_norm, low=0.0, low_open=True)

    def apply(updates, params, c):
        del params
        norm = _global_norm(updates)
        return _core.map_floats(lambda u: _rescale_to(u, norm, c), updates)

    return _stateless_or_counted(max_norm, apply)


def clip_by_block_norm(max_norm: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Per-block clipping: each leaf :math:`u_b` is rescaled to norm ``max_norm`` if it exceeds it.

    :math:`u_b \mapsto u_b \min(1, c / \lVert u_b \rVert)`.

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

    References:
      Pascanu et al., ICML 2013 (norm clipping, here per leaf); optax's
      ``clip_by_block_rms`` clips the RMS instead.
    """
    _core.check_hyperparameter("max_norm", max_norm, low=0.0, low_open=True)
    return _core.counted_map(
        max_norm, lambda u, c: _rescale_to(u, jnp.sqrt(_core.square_sum(u)), c)
    )


def clip_by_block_rms(threshold: _core.ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Per-block RMS clipping: :math:`u_b \mapsto u_b / \max(1, \mathrm{RMS}(u_b) / c)` (optax's).

    :math:`\mathrm{RMS}(u_b) = \sqrt{\mathrm{mean}\, |u_b|^2}` over each leaf (a block), in at
    least float32: a leaf whose RMS exceeds :math:`c` is scaled down to RMS :math:`c`
    (Adafactor's update clipping, :math:`c = 1` there). Integer leaves get zero updates.

    Args:
      threshold: :math:`c > 0`, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState`` (a schedule:
      ``CountState``).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.clip_by_block_rms(1.0)
      >>> tx.update(jnp.array([3.0, -4.0]), tx.init(None))[0]  # RMS 12.5**0.5
      Array([ 0.84852815, -1.1313709 ], dtype=float32)

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*,
      ICML 2018, section 6 (update clipping).
    """
    _core.check_hyperparameter("threshold", threshold, low=0.0, low_open=True)

    def apply(updates, params, c):
        del params

        def clip_leaf(u):
            dt = _core.compute_dtype(u.dtype)
            real = _core.real_dtype(dt)
            rms = jnp.sqrt(jnp.mean(_core.abs_sq(u.astype(dt))))
            denominator = jnp.maximum(jnp.ones((), real), rms / _core.as_scalar(c, real))
            return (u.astype(dt) / denominator.astype(dt)).astype(u.dtype)

        return _core.map_floats(clip_leaf, updates)

    return _stateless_or_counted(threshold, apply)


_DEFAULT_UNIT_AXES = {2: (0,), 3: (0,), 4: (0, 1, 2), 5: (0, 1, 2, 3)}


def unitwise_norm(x: jax.Array, axis: int | tuple[int, ...] | None = None) -> jax.Array:
    r"""The L2 norm of each unit of ``x``, broadcast to ``x``'s shape (optax's ``unitwise_norm``).

    A unit is a slice along the axes that are *not* reduced. ``axis`` names the reduced axes;
    ``None`` infers them from the rank, in Flax's kernel layouts: a scalar or vector (after
    squeezing) is one unit; rank 2 (``in, out``) and 3 (multi-head ``in, heads, out``) reduce
    axis 0; rank 4 (``h, w, in, out``) axes 0-2; rank 5 (3-D convolutions) axes 0-3. Other ranks
    need ``axis``. Complex entries count by :math:`|x|^2`; the sum runs in at least float32 and
    the norm has ``x``'s real dtype. :math:`n_i = \sqrt{\sum_{j \in \mathrm{axis}} |x_{ij}|^2}`.

    Args:
      x: an array.
      axis: the reduced axes (``None``: inferred from the rank, as above).

    Returns:
      An array of ``x``'s shape holding each unit's norm.

    Raises:
      ValueError: for a rank above 5 without ``axis``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> optchain.unitwise_norm(jnp.array([[3.0, 0.0], [4.0, 1.0]]))
      Array([[5., 1.],
             [5., 1.]], dtype=float32)

    References:
      ``optax.unitwise_norm``; Brock et al., ICML 2021 (AGC).
    """
    x = _core.as_leaf(x)
    return _unit_norms(x, axis).astype(_core.real_dtype(x.dtype))


def _unit_norms(x: jax.Array, axis: int | tuple[int, ...] | None) -> jax.Array:
    """:func:`unitwise_norm` in at least float32."""
    squares = _core.abs_sq(x.astype(_core.compute_dtype(x.dtype)))
    if axis is not None:
        total = jnp.sum(squares, axis=axis, keepdims=True)
    elif jnp.squeeze(x).ndim <= 1:
        total = jnp.sum(squares, keepdims=True)
    elif x.ndim in _DEFAULT_UNIT_AXES:
        total = jnp.sum(squares, axis=_DEFAULT_UNIT_AXES[x.ndim], keepdims=True)
    else:
        raise ValueError(
            f"unitwise_norm: no default units for shape {x.shape} (ranks 1 to 5 have one); "
            "pass axis, the axes to reduce"
        )
    return jnp.broadcast_to(jnp.sqrt(total), x.shape)


def _check_axis(axis: Any) -> None:
    """``axis`` must be ``None``, an int or a tuple of ints."""
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    if axis is not None and not all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes
    ):
        raise ValueError(f"axis must be None, an int or a tuple of ints; got {axis!r}")


def adaptive_grad_clip(
    clipping: _core.ScalarOrSchedule,
    eps: float = 1e-3,
    axis: int | tuple[int, ...] | None = None,
) -> optax.GradientTransformation:
    r"""Adaptive gradient clipping (AGC), unit-wise (optax's ``adaptive_grad_clip``).

    For each unit :math:`i` of each leaf, with :math:`m_i = \lambda \max(\lVert w_i \rVert, \epsilon)`:
    :math:`g_i \mapsto g_i \, m_i / \lVert g_i \rVert` when :math:`\lVert g_i \rVert \ge m_i`,
    else unchanged. Norms are per unit (:func:`unitwise_norm`, with ``axis``). Needs ``params``.

    Args:
      clipping: :math:`\lambda > 0`, the largest allowed ratio of update norm to parameter
        norm, or a schedule.
      eps: :math:`\epsilon > 0`, floor on parameter norms so zero-initialised
        weights can move.
      axis: the axes :func:`unitwise_norm` reduces (``None``: inferred from the rank).

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState`` (a schedule:
      ``CountState``).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> w = jnp.array([6.0, 8.0])  # norm 10: the update's norm may reach 0.1 * 10
      >>> tx = optchain.adaptive_grad_clip(0.1)
      >>> tx.update(jnp.array([30.0, 40.0]), tx.init(w), w)[0]
      Array([0.6, 0.8], dtype=float32)

    References:
      Brock et al., *High-Performance Large-Scale Image Recognition Without
      Normalization*, ICML 2021.
    """
    _core.check_hyperparameter("clipping", clipping, low=0.0, low_open=True)
    _core.check_hyperparameter("eps", eps, low=0.0, low_open=True, allow_schedule=False)
    _check_axis(axis)

    def apply(updates, params, lam):
        _core.require_params(params, updates, "adaptive_grad_clip")

        def clip_leaf(g, w):
            g_norm = _unit_norms(g, axis)
            dt = g_norm.dtype
            w_norm = _unit_norms(w, axis).astype(dt)
            limit = _core.as_scalar(lam, dt) * jnp.maximum(w_norm, _core.as_scalar(eps, dt))
            factor = limit / jnp.maximum(g_norm, _core.as_scalar(1e-6, dt))
            wide = _core.accumulator_dtype_for(g, dt)
            scaled = (g.astype(wide) * factor.astype(wide)).astype(g.dtype)
            return jnp.where(g_norm < limit, g, scaled)

        return _core.map_floats(clip_leaf, updates, params)

    return _stateless_or_counted(clipping, apply)
