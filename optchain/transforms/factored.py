"""Memory-efficient second moments and parameter-scaled steps: Adafactor's factored RMS, SM3's
cover of maxima, and optax's per-block parameter scales."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optchain import _core

# optax's own default power schedule ``1 - (t + 1)**-decay_rate`` (its default object, so that
# the signature is optax's; the factored statistics below are optchain's)
_POWER_DECAY = inspect.signature(optax.scale_by_factored_rms).parameters["decay_rate_fn"].default


class _Leaf:
    """One leaf's results (an update and new state leaves): opaque to ``jax.tree``."""

    def __init__(self, *values: Any) -> None:
        self.values = values


def _per_leaf(fn: Callable[..., tuple], n: int, updates: Any, *states: Any) -> tuple:
    """``fn(path, u, *state_leaves) -> n values`` over the leaves of ``updates`` (the states
    may hold a subtree, a list of axes, per update leaf; the last state has the updates'
    structure); returns ``n`` trees."""

    def leaf(path, u, *rest):
        if u is None:  # optax's "no update here": the state stays as it is
            return _Leaf(None, *rest)
        return _Leaf(*fn(path, _core.as_leaf(u), *rest))

    try:
        results = jax.tree_util.tree_map_with_path(
            leaf, updates, *states, is_leaf=lambda x: x is None
        )
    except (ValueError, TypeError) as error:
        if "optimizer state there" in str(error):
            raise
        _core.check_trees_match(updates, states[-1])  # names the first path that differs
        raise
    return tuple(jax.tree.map(lambda r, j=j: r.values[j], results) for j in range(n))


def _factored_axes(shape: tuple[int, ...], factored: bool, min_size: int) -> tuple[int, int] | None:
    """The two largest axes ``(second, largest)`` of a leaf whose statistics are factored, or
    ``None`` (factoring off, fewer than 2 axes, or the second largest shorter than ``min_size``)."""
    if not factored or len(shape) < 2:
        return None
    order = np.argsort(shape)
    if shape[order[-2]] < min_size:
        return None
    return int(order[-2]), int(order[-1])


@_core.shares_count()
class FactoredState(NamedTuple):
    """State of :func:`scale_by_factored_rms` (optax's fields): the counter, the row and column
    statistics of factored leaves and the full statistics of the others (``(1,)`` placeholders
    where a leaf does not use a field)."""

    count: jax.Array
    v_row: Any
    v_col: Any
    v: Any


def scale_by_factored_rms(
    factored: bool = True,
    decay_rate: float = 0.8,
    step_offset: int = 0,
    min_dim_size_to_factor: int = 128,
    epsilon: _core.ScalarOrSchedule = 1e-30,
    decay_rate_fn: Callable[[Any, Any], Any] = _POWER_DECAY,
) -> optax.GradientTransformation:
    r"""Adafactor's scaling by a factored RMS: :math:`u = g / \sqrt{\hat v}`, :math:`\hat v = R C / \bar R`.

    With :math:`\beta_t` = ``decay_rate_fn(t - step_offset, decay_rate)`` (default
    :math:`1 - (t+1)^{-c}`, :math:`t = 0` on the first update) and :math:`s = |g|^2 + \epsilon`,
    a leaf whose two largest axes (rows :math:`i`, columns :math:`j`) are both at least
    ``min_dim_size_to_factor`` long keeps only :math:`R_i = \beta_t R_i + (1-\beta_t)
    \mathrm{mean}_j s_{ij}` and :math:`C_j = \beta_t C_j + (1-\beta_t) \mathrm{mean}_i s_{ij}`
    and scales by :math:`(R_i / \bar R)^{-1/2} C_j^{-1/2}`; every other leaf keeps the full
    :math:`v = \beta_t v + (1-\beta_t) s` and scales by :math:`v^{-1/2}`. Statistics are stored
    in the parameter's dtype; complex leaves use the real :math:`|g|^2`. Values are optax's.

    Args:
      factored: factor the statistics of leaves with two long enough axes.
      decay_rate: :math:`c \ge 0`, the exponent of the default decay schedule.
      step_offset: integer :math:`\ge 0` subtracted from the step (fine-tuning restarts).
      min_dim_size_to_factor: integer :math:`\ge 0`, the shortest axis length factored.
      epsilon: :math:`\epsilon \ge 0` added to :math:`|g|^2`, or a schedule.
      decay_rate_fn: ``(step, decay_rate) -> beta_t``.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`FactoredState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_factored_rms(min_dim_size_to_factor=2)
      >>> g = jnp.array([[1.0, 2.0], [3.0, 4.0]])
      >>> u, state = tx.update(g, tx.init(g))  # beta_0 = 0: row and column means of g**2
      >>> state.v_row, state.v_col
      (Array([ 2.5, 12.5], dtype=float32), Array([ 5., 10.], dtype=float32))
      >>> v_hat = jnp.outer(state.v_row, state.v_col) / state.v_row.mean()  # rank one
      >>> bool(jnp.allclose(u, g / jnp.sqrt(v_hat)))
      True

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*,
      ICML 2018.
    """
    if not isinstance(factored, bool):
        raise ValueError(f"factored must be True or False; got {factored!r}")
    _core.check_hyperparameter("decay_rate", decay_rate, low=0.0, allow_schedule=False)
    _core.check_hyperparameter(
        "step_offset", step_offset, low=0, integer=True, allow_schedule=False
    )
    _core.check_hyperparameter(
        "min_dim_size_to_factor", min_dim_size_to_factor, low=0, integer=True, allow_schedule=False
    )
    _core.check_hyperparameter("epsilon", epsilon, low=0.0)
    if not callable(decay_rate_fn):
        raise ValueError(
            f"decay_rate_fn must be callable (step, decay_rate) -> beta; got {decay_rate_fn!r}"
        )

    def init_fn(params):
        _core.check_leaves(params, "scale_by_factored_rms")

        def leaf(p):
            p = _core.as_leaf(p)
            axes = _factored_axes(p.shape, factored, min_dim_size_to_factor)
            one = lambda: jnp.zeros((1,), p.dtype)  # noqa: E731
            zeros = jnp.zeros_like(p)  # reductions of it keep the parameter's sharding
            if axes is None:
                return _Leaf(one(), one(), zeros)
            second, largest = axes
            return _Leaf(jnp.sum(zeros, axis=largest), jnp.sum(zeros, axis=second), one())

        results = jax.tree.map(leaf, params)
        trees = (jax.tree.map(lambda r, j=j: r.values[j], results) for j in range(3))
        return FactoredState(_core.zero_count(), *trees)

    def update_fn(updates, state, params=None):
        del params
        with jax.numpy_dtype_promotion("standard"):  # user code, like a schedule
            beta = jnp.asarray(decay_rate_fn(state.count - step_offset, decay_rate), jnp.float32)
        eps = _core.resolve(epsilon, state.count)

        def leaf(path, u, v_row, v_col, v):
            if not _core.is_float(u):
                return _core.zero_update(u), v_row, v_col, v
            dt = _core.compute_dtype(_core.real_dtype(u.dtype))
            s = _core.abs_sq(u.astype(_core.compute_dtype(u.dtype))).astype(dt)
            s = s + _core.as_scalar(eps, dt)
            b = beta.astype(dt)
            axes = _factored_axes(u.shape, factored, min_dim_size_to_factor)
            if axes is None:
                _check_shape(path, u, v, u.shape)
                v = _core.ema_update(s, v, b)
                scale = _core.real_part(v).astype(dt) ** -0.5
                return _core.scale_real(u, scale), v_row, v_col, v
            second, largest = axes
            _check_shape(path, u, v_row, tuple(np.delete(u.shape, largest)))
            _check_shape(path, u, v_col, tuple(np.delete(u.shape, second)))
            v_row = _core.ema_update(jnp.mean(s, axis=largest), v_row, b)
            v_col = _core.ema_update(jnp.mean(s, axis=second), v_col, b)
            rows = _core.real_part(v_row).astype(dt)
            cols = _core.real_part(v_col).astype(dt)
            row_axis = second - 1 if second > largest else second
            row_scale = (rows / jnp.mean(rows, axis=row_axis, keepdims=True)) ** -0.5
            scaled = _core.scale_real(u, jnp.expand_dims(row_scale, largest))
            scaled = _core.scale_real(scaled, jnp.expand_dims(cols**-0.5, second))
            return scaled, v_row, v_col, v

        out, v_row, v_col, v = _per_leaf(leaf, 4, updates, state.v_row, state.v_col, state.v)
        return out, FactoredState(_core.next_count(state.count), v_row, v_col, v)

    return optax.GradientTransformation(init_fn, update_fn)


def _check_shape(path: Any, update: jax.Array, leaf: Any, expected: tuple[int, ...]) -> None:
    """Raises a ``ValueError`` naming the path when a statistic does not fit the update."""
    if tuple(getattr(leaf, "shape", ())) != tuple(expected):
        raise ValueError(
            f"updates{jax.tree_util.keystr(tuple(path))} has shape {tuple(update.shape)}, which "
            f"does not match the optimizer state there (a statistic of shape "
            f"{tuple(getattr(leaf, 'shape', ()))}): the gradient does not match the parameters"
        )


def _by_param_scale(
    min_scale: Any, name: str, measure: Callable[[jax.Array], jax.Array]
) -> optax.GradientTransformation:
    """``u * max(measure(w), min_scale)`` per leaf (stateless; needs the parameters)."""
    _core.check_hyperparameter("min_scale", min_scale, low=0.0, allow_schedule=False)

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, name)

        def leaf(u, w):
            size = measure(w.astype(_core.compute_dtype(w.dtype)))  # real: |w|**2
            floor = _core.as_scalar(min_scale, size.dtype)
            return _core.scale_real(u, jnp.where(size <= floor, floor, size))

        return _core.map_floats(leaf, updates, params), state

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_param_block_rms(min_scale: float = 1e-3) -> optax.GradientTransformation:
    r"""Scale each leaf's update by its parameters' RMS: :math:`u \mapsto u \max(\mathrm{RMS}(w), s)`.

    :math:`\mathrm{RMS}(w) = \sqrt{\mathrm{mean}\, |w|^2}` over the whole leaf (a block: a
    weight vector or matrix), so the step is relative to the size of the weights (Adafactor's
    ``multiply_by_parameter_scale``). optax's values; integer leaves get zero updates.

    Args:
      min_scale: :math:`s \ge 0`, the smallest scale (for weights near zero).

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState``; needs ``params``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_param_block_rms()
      >>> tx.update(jnp.ones(2), tx.init(None), jnp.array([3.0, -4.0]))[0]  # RMS 12.5**0.5
      Array([3.535534, 3.535534], dtype=float32)

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*,
      ICML 2018, section 8 (relative step size).
    """
    rms = lambda w: jnp.sqrt(jnp.mean(_core.abs_sq(w)))  # noqa: E731
    return _by_param_scale(min_scale, "scale_by_param_block_rms", rms)


def scale_by_param_block_norm(min_scale: float = 1e-3) -> optax.GradientTransformation:
    r"""Scale each leaf's update by its parameters' norm: :math:`u \mapsto u \max(\lVert w \rVert, s)`.

    :math:`\lVert w \rVert = \sqrt{\sum |w|^2}` over the whole leaf (a block). optax's values;
    integer leaves get zero updates.

    Args:
      min_scale: :math:`s \ge 0`, the smallest scale (for weights near zero).

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState``; needs ``params``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_param_block_norm()
      >>> tx.update(jnp.ones(2), tx.init(None), jnp.array([3.0, -4.0]))[0]
      Array([5., 5.], dtype=float32)

    References:
      You et al., *Large Batch Training of Convolutional Networks*, 2017 (layer-wise scales).
    """
    norm = lambda w: jnp.sqrt(jnp.sum(_core.abs_sq(w)))  # noqa: E731
    return _by_param_scale(min_scale, "scale_by_param_block_norm", norm)


class ScaleBySM3State(NamedTuple):
    """State of :func:`scale_by_sm3` (optax's fields): ``mu`` holds, per leaf, one vector of
    accumulated maxima per axis; ``nu`` the momentum of the scaled updates."""

    mu: Any
    nu: Any


def scale_by_sm3(
    b1: float = 0.9, b2: float = 1.0, eps: float = 1e-8
) -> optax.GradientTransformation:
    r"""SM3-II: scale by the root of the smallest accumulated maximum covering each entry.

    For a leaf with axes :math:`k = 1..d` and per-axis accumulators :math:`\mu^{(k)}`,
    :math:`\nu_i = c\, g_i^2 + \beta_2 \min_k \mu^{(k)}_{i_k}` (:math:`c = 1` for
    :math:`\beta_2 = 1`, else :math:`1-\beta_2`), :math:`\mu^{(k)}_j \leftarrow \max_{i: i_k = j}
    \nu_i`, and the output is the momentum :math:`m \leftarrow \beta_1 m + (1-\beta_1)\,
    g / \sqrt{\nu + \epsilon}` (0 where :math:`\nu = 0`). A leaf with fewer than 2 axes keeps
    :math:`\nu` itself. Memory is :math:`\sum_k n_k` per leaf instead of :math:`\prod_k n_k`.
    Values are optax's; complex parameters are rejected at ``init``.

    Args:
      b1: momentum decay :math:`\beta_1` in [0, 1].
      b2: decay :math:`\beta_2` in [0, 1] of the accumulators (1: sums, as in the paper).
      eps: :math:`\epsilon \ge 0` added under the root.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleBySM3State`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_sm3(b1=0.0, eps=0.0)
      >>> g = jnp.array([[3.0, 4.0], [0.0, 1.0]])
      >>> u, state = tx.update(g, tx.init(g))
      >>> u
      Array([[1., 1.],
             [0., 1.]], dtype=float32)
      >>> state.mu  # row maxima and column maxima of g**2
      [Array([16.,  1.], dtype=float32), Array([ 9., 16.], dtype=float32)]

    References:
      Anil et al., *Memory-Efficient Adaptive Optimization*, NeurIPS 2019.
    """
    for name, value in (("b1", b1), ("b2", b2)):
        _core.check_hyperparameter(name, value, low=0.0, high=1.0, allow_schedule=False)
    _core.check_hyperparameter("eps", eps, low=0.0, allow_schedule=False)
    coefficient = 1.0 if float(b2) == 1.0 else 1.0 - b2

    def init_fn(params):
        _core.check_leaves(params, "scale_by_sm3", complex_ok=False)

        def axes(p):
            p = _core.as_leaf(p)
            zeros = jnp.zeros_like(p)  # reductions of it keep the parameter's sharding
            if p.ndim == 0:  # a scalar is its own cover (optax fails on scalar leaves)
                return [zeros]
            others = lambda i: tuple(j for j in range(p.ndim) if j != i)  # noqa: E731
            return [jnp.sum(zeros, axis=others(i)) for i in range(p.ndim)]

        return ScaleBySM3State(jax.tree.map(axes, params), _core.tree_zeros(params))

    def update_fn(updates, state, params=None):
        del params

        def leaf(path, g, mu, nu):
            if not _core.is_float(g):
                return _core.zero_update(g), mu, nu
            _check_shape(path, g, nu, g.shape)
            expected = [(n,) for n in g.shape] if g.ndim >= 2 else [g.shape]
            if len(mu) != len(expected):
                _check_shape(path, g, nu, ())  # a state for another rank: name the path
            for m, shape in zip(mu, expected):
                _check_shape(path, g, m, shape)
            dt = _core.compute_dtype(g.dtype)
            gd = g.astype(dt)
            if g.ndim < 2:
                smallest = mu[0].astype(dt)
            else:
                ones = [1] * g.ndim
                covers = [
                    jnp.reshape(m.astype(dt), ones[:k] + [g.shape[k]] + ones[k + 1 :])
                    for k, m in enumerate(mu)
                ]
                smallest = covers[0]
                for cover in covers[1:]:
                    smallest = jnp.minimum(smallest, cover)
            accum = (
                _core.as_scalar(coefficient, dt) * (gd * gd) + _core.as_scalar(b2, dt) * smallest
            )
            zero = jnp.zeros((), dt)
            inverse = jnp.where(accum > 0, jax.lax.rsqrt(accum + _core.as_scalar(eps, dt)), zero)
            nu = _core.ema_update(gd * inverse, nu, b1)
            if g.ndim < 2:
                mu = [accum.astype(mu[0].dtype)]
            elif g.size == 0:  # an empty leaf: nothing accumulated (the max of nothing)
                mu = [jnp.zeros_like(m) for m in mu]
            else:
                mu = [
                    jnp.max(accum, axis=tuple(a for a in range(g.ndim) if a != k)).astype(m.dtype)
                    for k, m in enumerate(mu)
                ]
            return nu.astype(g.dtype), mu, nu

        out, mu, nu = _per_leaf(leaf, 3, updates, state.mu, state.nu)
        return out, ScaleBySM3State(mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)
