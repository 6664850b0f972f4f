"""Accumulated second moments: AdaGrad's sum of squares and AdaDelta's two moving averages.

Complex updates follow optax's convention (see :mod:`optchain.transforms.rms`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


@_core.shares_count()
class ScaleBySumOfSquaresState(NamedTuple):
    """State of :func:`scale_by_sum_of_squares`."""

    count: jax.Array
    sum_of_squares: Any


def scale_by_sum_of_squares(
    initial_accumulator_value: float = 0.1,
    eps: _core.ScalarOrSchedule = 1e-7,
    *,
    eps_in_sqrt: bool = True,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""AdaGrad scaling: :math:`s_t = s_{t-1} + |g_t|^2`, output :math:`g_t / \sqrt{s_t + \epsilon}`.

    Where :math:`s_t = 0` the output is 0 (optax's ``scale_by_rss``, whose values these are).
    ``eps_in_sqrt=False`` gives :math:`g_t / (\sqrt{s_t} + \epsilon)`, torch.optim.Adagrad's
    convention (torch defaults: ``initial_accumulator_value=0``, ``eps=1e-10``).

    Args:
      initial_accumulator_value: :math:`s_0 \ge 0`.
      eps: :math:`\epsilon \ge 0`, or a schedule.
      eps_in_sqrt: where epsilon goes.
      accumulator_dtype: dtype of :math:`s` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleBySumOfSquaresState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_sum_of_squares(initial_accumulator_value=0.0, eps=0.0)
      >>> tx.update(jnp.array([-3.0]), tx.init(jnp.zeros(1)))[0]
      Array([-1.], dtype=float32)

    References:
      Duchi et al., *Adaptive Subgradient Methods for Online Learning and Stochastic
      Optimization*, JMLR 2011.
    """
    _core.check_hyperparameter(
        "initial_accumulator_value", initial_accumulator_value, low=0.0, allow_schedule=False
    )
    _core.check_hyperparameter("eps", eps, low=0.0)

    def init_fn(params):
        s = _core.full_like_tree(params, initial_accumulator_value, accumulator_dtype)
        return ScaleBySumOfSquaresState(_core.zero_count(), s)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.sum_of_squares, "sum of squares")
        e = _core.resolve(eps, state.count)

        def accumulate(g, s):
            dt = _core.compute_dtype(s.dtype)
            x = _core.abs_sq(g.astype(_core.compute_dtype(g.dtype))).astype(dt)
            return (x + s.astype(dt)).astype(s.dtype)

        def output(g, s):
            s = _core.real_part(s.astype(_core.compute_dtype(s.dtype)))
            ee = _core.as_scalar(e, s.dtype)
            if eps_in_sqrt:
                inv = jnp.where(s > 0, jax.lax.rsqrt(s + ee), jnp.zeros([], s.dtype))
            else:
                inv = 1 / (jnp.sqrt(s) + ee)
            return _core.scale_real(g, inv)

        sums = _core.map_floats(accumulate, updates, state.sum_of_squares, keep=1)
        updates = _core.map_floats(output, updates, sums)
        return updates, ScaleBySumOfSquaresState(_core.next_count(state.count), sums)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class ScaleByAdadeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`: EMAs of squared gradients and of squared steps
    (optax's field names ``e_g``, ``e_x``; optax's class ``ScaleByAdaDeltaState`` has no
    counter)."""

    count: jax.Array
    e_g: Any
    e_x: Any


def _squares_ema(g: jax.Array, acc: jax.Array, decay: Any) -> jax.Array:
    r""":math:`(1-\rho) g^2 + \rho a` with the plain square (complex for complex ``g``, as in
    optax's AdaDelta), in at least float32, stored in ``acc``'s dtype."""
    x = g.astype(_core.compute_dtype(acc.dtype))
    return _core.ema_update(x * x, acc, decay)


def scale_by_adadelta(
    rho: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-6,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""AdaDelta: :math:`\Delta_t = g_t \sqrt{E[\Delta^2]_{t-1} + \epsilon} / \sqrt{E[g^2]_t + \epsilon}`.

    :math:`E[g^2]` and :math:`E[\Delta^2]` are EMAs with decay :math:`\rho`; the second
    is updated with the step just taken. Same rule in optax and torch.optim.Adadelta
    (torch's ``lr`` is the learning rate chained after this, default 1). Complex updates
    follow optax's ``scale_by_adadelta``, which squares them (:math:`g^2`, complex, with
    principal square roots), not the :math:`|g|^2` of the other second moments.

    Args:
      rho: :math:`\rho` in [0, 1], or a schedule.
      eps: :math:`\epsilon > 0`, or a schedule.
      accumulator_dtype: dtype of both EMAs (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByAdadeltaState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_adadelta(rho=0.0, eps=1.0)
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.array([3.0]), state)
      >>> u, state.e_x  # 3 * sqrt(0 + 1) / sqrt(9 + 1), then its square
      (Array([0.94868], dtype=float32), Array([0.9], dtype=float32))

    References:
      Zeiler, *ADADELTA: An Adaptive Learning Rate Method*, 2012.
    """
    _core.check_hyperparameter("rho", rho, low=0.0, high=1.0)
    _core.check_hyperparameter("eps", eps, low=0.0)

    def init_fn(params):
        def zeros():  # two separate buffers (state may be donated)
            return _core.tree_zeros(params, accumulator_dtype)

        return ScaleByAdadeltaState(_core.zero_count(), zeros(), zeros())

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.e_g, "AdaDelta accumulator")
        r = _core.resolve(rho, state.count)
        e = _core.resolve(eps, state.count)
        e_g = _core.map_floats(lambda g, a: _squares_ema(g, a, r), updates, state.e_g, keep=1)

        def step(g, a, x):
            dt = _core.compute_dtype(_core.wider_dtype(a.dtype, g.dtype))
            ee = _core.as_scalar(e, dt)
            factor = jnp.sqrt(x.astype(dt) + ee) / jnp.sqrt(a.astype(dt) + ee)
            return g.astype(dt) * factor

        deltas = _core.map_floats(step, updates, e_g, state.e_x)
        e_x = _core.map_floats(
            lambda g, d, x: _squares_ema(d, x, r), updates, deltas, state.e_x, keep=2
        )
        updates = _core.cast_tree(deltas, updates)
        return updates, ScaleByAdadeltaState(_core.next_count(state.count), e_g, e_x)

    return optax.GradientTransformation(init_fn, update_fn)
