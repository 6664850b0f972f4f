"""Averaging of parameters: tail (last N iterates), Polyak-Ruppert (all iterates), EMA.

These transforms pass updates through unchanged and must come *last* in a chain: they
average the parameters the step produces, ``params + updates``. Read the average with
:func:`averaged_params`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.core import Tracer

from optchain import _core
from optchain.combine import CountedChainState


def _next_params(updates, params, dtype):
    """The iterate ``optax.apply_updates`` will produce, in the accumulator dtype."""

    def add(u, w):
        wide = _core.accumulator_dtype_for(w, _core.wider_dtype(w.dtype, u.dtype))
        new = (w.astype(wide) + u.astype(wide)).astype(w.dtype)
        return new.astype(_core.accumulator_dtype_for(w, dtype))

    return _core.map_floats(add, updates, params, keep=1)


def _passed(updates):
    """The updates, unchanged (integer and boolean leaves: zero updates, as everywhere)."""
    return _core.map_floats(lambda u: u, updates)


def _copy(dtype):
    """The initial average of a leaf: a copy in the accumulator dtype (complex for complex;
    integer leaves, never averaged, keep theirs)."""

    def copy(w):
        w = _core.as_leaf(w)
        # a copy even in the params' own dtype: the state must not alias the params (both may
        # be donated to a jitted step)
        dt = _core.accumulator_dtype_for(w, dtype) if _core.is_float(w) else None
        return jnp.array(w, dt, copy=True)

    return copy


@_core.shares_count()
class TailAverageState(NamedTuple):
    """State of :func:`tail_average`: a ring buffer of the last ``window`` iterates and the
    slot the next one goes to (a cycle of its own, which keeps turning after the step counter
    saturates; ``uint32``, an index rather than a step counter)."""

    count: jax.Array
    buffer: Any
    slot: jax.Array


def tail_average(window: int, *, accumulator_dtype: Any = None) -> optax.GradientTransformation:
    r"""Keep the last ``window`` iterates: :math:`\bar w_t = \frac{1}{n}\sum_{i=t-n+1}^{t} w_i`, :math:`n = \min(t, N)`.

    Memory is ``window`` copies of the parameters. Updates pass through unchanged.

    Args:
      window: :math:`N \ge 1`.
      accumulator_dtype: dtype of the stored iterates (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`TailAverageState`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optax.chain(optchain.sgd(1.0), optchain.tail_average(2))
      >>> w = jnp.zeros(1); state = tx.init(w)
      >>> for _ in range(3):
      ...     u, state = tx.update(-jnp.ones(1), state, w); w = optax.apply_updates(w, u)
      >>> optchain.averaged_params(state)
      Array([2.5], dtype=float32)

    References:
      Jain et al., *Parallelizing Stochastic Gradient Descent for Least Squares
      Regression: Mini-batching, Averaging, and Model Misspecification*, JMLR 2018.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an int >= 1; got {window!r}")

    def init_fn(params):
        def slots(w):
            # Built from w (not from its shape) so the buffer inherits w's sharding on the
            # trailing axes.
            w = _core.as_leaf(w)
            if _core.is_float(w):
                w = jnp.zeros_like(w, dtype=_core.accumulator_dtype_for(w, accumulator_dtype))
            return jnp.broadcast_to(w[None], (window, *jnp.shape(w)))

        buffer = jax.tree.map(slots, params)
        return TailAverageState(_core.zero_count(), buffer, jnp.zeros([], jnp.uint32))

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "tail_average")
        slot = state.slot % window
        new = _next_params(updates, params, accumulator_dtype)
        buffer = _core.map_floats(
            lambda u, b, w: b.at[slot].set(w.astype(b.dtype)),
            updates,
            state.buffer,
            new,
            keep=1,
            same_shape=False,  # the buffer stacks `window` copies of each leaf
        )
        return _passed(updates), TailAverageState(
            _core.next_count(state.count), buffer, (slot + 1) % window
        )

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class PolyakAverageState(NamedTuple):
    """State of :func:`polyak_average`: the running mean and how many iterates it holds."""

    count: jax.Array
    average: Any


def polyak_average(
    start_step: int = 0, *, accumulator_dtype: Any = None
) -> optax.GradientTransformation:
    r"""Polyak-Ruppert average of every iterate from ``start_step`` on: :math:`\bar w \leftarrow \bar w + (w_t - \bar w)/k`.

    Before ``start_step`` updates the average follows the current iterate. Constant
    memory (one copy of the parameters). Updates pass through unchanged.

    Args:
      start_step: the first update (counting from 0) whose result enters the average (an
        int, or the traced scalar :func:`optchain.inject_hyperparams` passes).
      accumulator_dtype: dtype of the average (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`PolyakAverageState`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optax.chain(optchain.sgd(1.0), optchain.polyak_average())
      >>> w = jnp.zeros(1); state = tx.init(w)
      >>> for _ in range(3):
      ...     u, state = tx.update(-jnp.ones(1), state, w); w = optax.apply_updates(w, u)
      >>> optchain.averaged_params(state)
      Array([2.], dtype=float32)

    References:
      Polyak & Juditsky, *Acceleration of Stochastic Approximation by Averaging*,
      SIAM J. Control Optim. 1992.
    """
    traced = isinstance(start_step, Tracer)
    bad = isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0
    if bad and not traced:
        raise ValueError(f"start_step must be an int >= 0; got {start_step!r}")

    def init_fn(params):
        average = jax.tree.map(_copy(accumulator_dtype), params)
        return PolyakAverageState(_core.zero_count(), average)

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "polyak_average")
        new = _next_params(updates, params, accumulator_dtype)
        # the number of iterates averaged, from the saturating counter (count + 1 would wrap)
        if traced:
            done = _core.next_count(state.count).astype(jnp.float32)
            k = jnp.maximum(done - jnp.asarray(start_step).astype(jnp.float32), 1.0)
        else:
            k = jnp.maximum(_core.next_count(state.count) - start_step, 1).astype(jnp.float32)

        def mean(avg, w):
            dtype = _core.compute_dtype(avg.dtype)
            a = avg.astype(dtype)
            return (a + (w.astype(dtype) - a) / k.astype(dtype)).astype(avg.dtype)

        average = _core.map_floats(
            lambda u, avg, w: mean(avg, w), updates, state.average, new, keep=1
        )
        return _passed(updates), PolyakAverageState(_core.next_count(state.count), average)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class EmaParamsState(NamedTuple):
    """State of :func:`ema_params`: the EMA of the iterates (started at the initial params)."""

    count: jax.Array
    ema: Any


def ema_params(
    decay: _core.ScalarOrSchedule = 0.999, *, accumulator_dtype: Any = None
) -> optax.GradientTransformation:
    r"""Exponential moving average of the parameters: :math:`\bar w_t = \beta \bar w_{t-1} + (1-\beta) w_t`.

    Starts at the initial parameters (so no bias correction is needed). Updates pass
    through unchanged.

    Args:
      decay: :math:`\beta` in [0, 1], or a schedule (e.g. warm up from 0.9 to 0.999).
      accumulator_dtype: dtype of the average (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`EmaParamsState`.

    Example (the average of a parameter that moves from 0 to 4 in one step):
      >>> import jax.numpy as jnp, optax, optchain
      >>> ema = optax.chain(optchain.sgd(1.0), optchain.ema_params(0.5))
      >>> params = {"w": jnp.zeros(1)}
      >>> _, state = ema.update({"w": jnp.full(1, -4.0)}, ema.init(params), params)
      >>> optchain.averaged_params(state)["w"]
      Array([2.], dtype=float32)

    References:
      Polyak & Juditsky 1992; Izmailov et al., *Averaging Weights Leads to Wider
      Optima and Better Generalization*, UAI 2018.
    """
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0)

    def init_fn(params):
        average = jax.tree.map(_copy(accumulator_dtype), params)
        return EmaParamsState(_core.zero_count(), average)

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "ema_params")
        beta = _core.resolve(decay, state.count)
        new = _next_params(updates, params, accumulator_dtype)

        def step(avg, w):
            dtype = _core.compute_dtype(avg.dtype)
            b = _core.as_scalar(beta, dtype)
            return (b * avg.astype(dtype) + (1 - b) * w.astype(dtype)).astype(avg.dtype)

        average = _core.map_floats(lambda u, avg, w: step(avg, w), updates, state.ema, new, keep=1)
        return _passed(updates), EmaParamsState(_core.next_count(state.count), average)

    return optax.GradientTransformation(init_fn, update_fn)


_AVERAGING_STATES = (TailAverageState, PolyakAverageState, EmaParamsState)


def averaged_params(opt_state: Any) -> Any:
    r"""The averaged parameters held by the first averaging transform found in ``opt_state``.

    Works on the state of any chain that contains :func:`tail_average`,
    :func:`polyak_average` or :func:`ema_params`, however deeply nested (a named optimizer's
    :func:`counted_chain` included, such as :func:`optchain.asgd`'s). The tail average is
    :math:`\frac{1}{n}\sum_{i=t-n+1}^{t} w_i` over its buffer of :math:`n` iterates; the other
    two hold their average as it is.

    Args:
      opt_state: an optimizer state (of a chain, however nested).

    Returns:
      A tree like the parameters: the averaged parameters.

    Raises:
      ValueError: if the state holds no averaging transform.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optax.chain(optchain.sgd(1.0), optchain.ema_params(0.5))
      >>> w = jnp.zeros(1); state = tx.init(w)
      >>> u, state = tx.update(-jnp.ones(1), state, w)  # w goes 0 -> 1
      >>> optchain.averaged_params(state)
      Array([0.5], dtype=float32)

    References:
      Polyak & Juditsky, SIAM J. Control Optim. 1992 (averaging); optax has no equivalent.
    """
    opt_state = _with_counts(opt_state)
    found = [
        s
        for s in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, _AVERAGING_STATES))
        if isinstance(s, _AVERAGING_STATES)
    ]
    if not found:
        raise ValueError(
            "averaged_params: the optimizer state holds no tail_average, polyak_average "
            "or ema_params state"
        )
    state = found[0]
    if isinstance(state, TailAverageState):
        n = jnp.minimum(state.count, _window(state))
        n = jnp.maximum(n, 1)

        def mean(b):
            if not _core.is_float(b):
                return b[0]
            dtype = _core.compute_dtype(b.dtype)
            return (jnp.sum(b.astype(dtype), axis=0) / n.astype(dtype)).astype(b.dtype)

        return jax.tree.map(mean, state.buffer)
    if isinstance(state, PolyakAverageState):
        return state.average
    return state.ema


def _with_counts(state: Any) -> Any:
    """``state`` with each :func:`counted_chain`'s counter handed back to its links (inside a
    named optimizer an averaging state is stored without its ``count``)."""

    def restore(node):
        if isinstance(node, CountedChainState):
            return _with_counts(_core.restore_counts(node.links, node.count))
        return node

    return jax.tree.map(restore, state, is_leaf=lambda x: isinstance(x, CountedChainState))


def _window(state: TailAverageState) -> int:
    leaves = jax.tree.leaves(state.buffer)
    return leaves[0].shape[0] if leaves else 1
