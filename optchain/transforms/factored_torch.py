"""torch.optim's Adafactor techniques: the factored second moment with torch's epsilon clamps
(factored over the last two axes) and the relative step size :math:`\\min(c, 1/\\sqrt t)`."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain.transforms.factored import _check_shape, _Leaf, _per_leaf


@_core.shares_count()
class FactoredTorchState(NamedTuple):
    """State of :func:`scale_by_factored_rms_torch` (optax's field names): the counter, the
    row statistics (means over the last axis) and column statistics (means over the second to
    last axis) of leaves with two axes or more, and the full statistics of the others (``(1,)``
    placeholders where a leaf does not use a field)."""

    count: jax.Array
    v_row: Any
    v_col: Any
    v: Any


def _row_col_shapes(shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The shapes of a leaf's row statistic (without the last axis) and column statistic
    (without the second to last axis)."""
    return shape[:-1], shape[:-2] + shape[-1:]


def scale_by_factored_rms_torch(
    beta2_decay: float = -0.8,
    eps1: _core.ScalarOrSchedule | None = None,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""torch's Adafactor scaling: :math:`u = g / \max(\sqrt{\hat V}, \epsilon_1)`, :math:`\hat V = R C / \max(\bar R, \epsilon_1)`.

    With :math:`t` the step (1 on the first update) and :math:`\beta_t = 1 - t^{\tau}`
    (:math:`\beta_1 = 0`), a leaf with two axes or more keeps the row statistic
    :math:`R_i = \beta_t R_i + (1-\beta_t)\, \mathrm{mean}_j |g_{ij}|^2` (the mean over the
    last axis) and the column statistic :math:`C_j = \beta_t C_j + (1-\beta_t)\,
    \mathrm{mean}_i |g_{ij}|^2` (over the second to last axis; leading axes are batch axes),
    and :math:`\hat V_{ij} = R_i C_j / \max(\mathrm{mean}_i R_i, \epsilon_1)`; every other leaf
    keeps the full :math:`\hat V = \beta_t \hat V + (1-\beta_t) |g|^2`. torch 2.13's
    ``Adafactor`` step for step. Compared with :func:`scale_by_factored_rms` (optax's), every
    leaf with two axes is factored (no ``min_dim_size_to_factor``, the last two axes rather
    than the two largest), and :math:`\epsilon_1` clamps the row mean and the root instead of
    being added to :math:`|g|^2`; :math:`\tau = -c` gives optax's decay :math:`1 - (t+1)^{-c}`
    (its :math:`t` counts from 0). Statistics are stored in the parameter's real dtype
    (torch's) unless ``accumulator_dtype`` says otherwise; complex leaves use the real
    :math:`|g|^2` (torch rejects complex parameters).

    Args:
      beta2_decay: :math:`\tau \le 0`, the exponent of the decay (0: no memory).
      eps1: :math:`\epsilon_1 \ge 0`, or a schedule; ``None``: the machine epsilon of each
        leaf's dtype (torch's default).
      accumulator_dtype: the real dtype of the statistics (``None``: each parameter's);
        float32 keeps float16 parameters' :math:`|g|^2` from overflowing.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`FactoredTorchState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> g = jnp.array([[3.0, -4.0, 0.0]])  # one row: the rank-one estimate is exact
      >>> tx = optchain.scale_by_factored_rms_torch()
      >>> u, state = tx.update(g, tx.init(g))
      >>> state.v_row, state.v_col  # at step 1 the means of g**2 over columns and rows
      (Array([8.333334], dtype=float32), Array([ 9., 16.,  0.], dtype=float32))
      >>> u  # g / sqrt(v); the zero column is clamped by eps1, not divided by 0
      Array([[ 1., -1.,  0.]], dtype=float32)

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*,
      ICML 2018; ``torch.optim.Adafactor`` (epsilon placement).
    """
    _core.check_hyperparameter("beta2_decay", beta2_decay, high=0.0, allow_schedule=False)
    if eps1 is not None:
        _core.check_hyperparameter("eps1", eps1, low=0.0)

    def init_fn(params):
        _core.check_leaves(params, "scale_by_factored_rms_torch")

        def leaf(p):
            p = _core.as_leaf(p)
            dtype = _core.real_dtype(p.dtype if accumulator_dtype is None else accumulator_dtype)
            one = lambda: jnp.zeros((1,), dtype)  # noqa: E731
            zeros = jnp.zeros_like(p, dtype)  # reductions of it keep the parameter's sharding
            if p.ndim < 2:
                return _Leaf(one(), one(), zeros)
            return _Leaf(jnp.sum(zeros, axis=-1), jnp.sum(zeros, axis=-2), one())

        results = jax.tree.map(leaf, params)
        trees = (jax.tree.map(lambda r, j=j: r.values[j], results) for j in range(3))
        return FactoredTorchState(_core.zero_count(), *trees)

    def update_fn(updates, state, params=None):
        del params
        step = _core.next_count(state.count).astype(jnp.float32)  # t, saturating
        weight = step ** jnp.float32(beta2_decay)  # 1 - beta_t
        eps_now = None if eps1 is None else _core.resolve(eps1, state.count)

        def leaf(path, u, v_row, v_col, v):
            if not _core.is_float(u):
                return _core.zero_update(u), v_row, v_col, v
            real = _core.real_dtype(u.dtype)
            dt = _core.compute_dtype(real)
            e1 = jnp.finfo(real).eps if eps_now is None else eps_now
            e1 = jnp.asarray(e1).astype(dt)
            s = _core.abs_sq(u.astype(_core.compute_dtype(u.dtype))).astype(dt)
            decay = 1 - weight.astype(dt)
            if u.ndim < 2:
                _check_shape(path, u, v, u.shape)
                v = _core.ema_update(s, v, decay)
                estimate = v.astype(dt)
            else:
                rows_shape, cols_shape = _row_col_shapes(u.shape)
                _check_shape(path, u, v_row, rows_shape)
                _check_shape(path, u, v_col, cols_shape)
                if u.size == 0:  # nothing to average: the statistics stay as they are
                    return u, v_row, v_col, v
                v_row = _core.ema_update(jnp.mean(s, axis=-1), v_row, decay)
                v_col = _core.ema_update(jnp.mean(s, axis=-2), v_col, decay)
                rows, cols = v_row.astype(dt), v_col.astype(dt)
                mean = jnp.maximum(jnp.mean(rows, axis=-1), e1)
                estimate = rows[..., :, None] * cols[..., None, :] / mean[..., None, None]
            scale = 1 / jnp.sqrt(jnp.maximum(estimate, e1 * e1))
            return _core.scale_real(u, scale), v_row, v_col, v

        out, v_row, v_col, v = _per_leaf(leaf, 4, updates, state.v_row, state.v_col, state.v)
        return out, FactoredTorchState(_core.next_count(state.count), v_row, v_col, v)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_relative_step(
    max_step_size: _core.ScalarOrSchedule = 1e-2,
) -> optax.GradientTransformation:
    r"""Adafactor's relative step size: :math:`u \mapsto \rho_t u`, :math:`\rho_t = \min(c_t, 1/\sqrt{t})`.

    :math:`t` is the step, 1 on the first update (the schedule :math:`c_t` sees step 0
    there). The paper takes :math:`c = 10^{-2}`; torch's ``Adafactor`` takes its ``lr``.
    Chained after :func:`scale_by_param_block_rms` it makes the step relative to the size of
    the weights.

    Args:
      max_step_size: :math:`c \ge 0`, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state ``CountState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_relative_step(1.0)
      >>> state = tx.init(jnp.ones(1))
      >>> for _ in range(4):
      ...     u, state = tx.update(jnp.ones(1), state)
      >>> u  # 1 / sqrt(4)
      Array([0.5], dtype=float32)

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*,
      ICML 2018, section 8 (relative step size).
    """
    _core.check_hyperparameter("max_step_size", max_step_size, low=0.0)

    def rate(count):
        inverse_root = 1 / jnp.sqrt(_core.next_count(count).astype(jnp.float32))
        return jnp.minimum(_core.resolve(max_step_size, count), inverse_root)

    return _core.counted_map(rate, _core.scale_leaf)
