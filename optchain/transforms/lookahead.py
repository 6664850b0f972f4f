"""Lookahead: a fast optimizer takes ``k`` steps, then slow weights move part of the way there."""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

__all__ = [
    "LookaheadParams",
    "LookaheadState",
    "SlowWeightsState",
    "lookahead",
    "slow_weights_in_state",
]

_LOG = logging.getLogger(__name__)


class LookaheadState(NamedTuple):
    """State of :func:`lookahead` (optax's fields).

    Attributes:
      fast_state: the fast optimizer's state.
      steps_since_sync: fast steps since the slow and fast weights were last synchronized,
        an int32 scalar in ``[0, sync_period)``.
    """

    fast_state: Any
    steps_since_sync: jax.Array


class LookaheadParams(NamedTuple):
    """The fast and slow weights of :func:`lookahead` (optax's fields): take gradients at
    ``fast``, evaluate and deploy ``slow``."""

    fast: Any
    slow: Any

    @classmethod
    def init_synced(cls, params: Any) -> LookaheadParams:
        """Fast and slow weights both equal to ``params``; the slow ones are a copy (so a jitted
        step may donate the pair)."""
        return cls(fast=params, slow=jax.tree.map(lambda p: jnp.array(p, copy=True), params))


def _check_pair(params: Any) -> Any:
    """``params`` when it is a fast/slow pair (a ``NamedTuple`` with ``fast`` and ``slow``)."""
    if not all(hasattr(params, name) for name in ("fast", "slow", "_replace")):
        raise ValueError(
            "lookahead: update needs params=LookaheadParams(fast, slow) "
            f"(see LookaheadParams.init_synced); got {type(params).__name__}"
        )
    return params


def lookahead(
    fast_optimizer: optax.GradientTransformation,
    sync_period: int,
    slow_step_size: float,
    reset_state: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""Lookahead (optax's semantics): every ``sync_period`` fast steps, pull the slow weights.

    With fast weights :math:`\theta`, slow weights :math:`\phi`, the fast optimizer's update
    :math:`u_t` and :math:`\alpha` = ``slow_step_size``: on the step that completes a period
    (``steps_since_sync == k - 1``), with :math:`d = \theta + u_t - \phi`,

    .. math:: \phi \leftarrow \phi + \alpha d, \qquad \theta \leftarrow \phi + \alpha d,

    and on every other step :math:`\theta \leftarrow \theta + u_t`, :math:`\phi` unchanged.
    ``update`` returns both as one ``LookaheadParams(fast, slow)`` of updates (the type of
    ``params``, so optax's ``LookaheadParams`` works too); apply it unchanged with
    ``optax.apply_updates``. ``reset_state=True`` re-initializes the fast optimizer's state
    (at the current fast weights) on each synchronizing step. Integer and bool leaves get
    zero updates; extra keyword arguments of ``update`` reach the fast optimizer.

    Args:
      fast_optimizer: the inner optimizer, fed gradients taken at ``params.fast``.
      sync_period: :math:`k \ge 1`, fast steps per synchronization (an int).
      slow_step_size: :math:`\alpha \in [0, 1]` (a number: optax takes no schedule here).
      reset_state: re-initialize the fast optimizer's state when synchronizing.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`LookaheadState`.
      ``init`` takes ``LookaheadParams`` (or, as optax, the fast weights alone).

    Example:
      >>> import jax, jax.numpy as jnp, optax, optchain
      >>> tx = optchain.lookahead(optchain.sgd(0.5), sync_period=2, slow_step_size=0.5)
      >>> params = optchain.LookaheadParams.init_synced(jnp.array([4.0]))
      >>> state = tx.init(params)
      >>> for _ in range(2):  # loss w**2 / 2: two fast steps take w to 2 then 1
      ...     updates, state = tx.update(params.fast, state, params)
      ...     params = optax.apply_updates(params, updates)
      >>> params  # slow moved half way, from 4 to 1; fast restarts there
      LookaheadParams(fast=Array([2.5], dtype=float32), slow=Array([2.5], dtype=float32))

    References:
      Zhang, Lucas, Hinton & Ba, *Lookahead Optimizer: k steps forward, 1 step back*,
      NeurIPS 2019 (arXiv:1907.08610).
    """
    _core.check_hyperparameter(
        "sync_period", sync_period, low=1.0, integer=True, allow_schedule=False
    )
    _core.check_hyperparameter(
        "slow_step_size", slow_step_size, low=0.0, high=1.0, allow_schedule=False
    )
    if not isinstance(reset_state, bool):
        raise ValueError(f"reset_state must be True or False; got {reset_state!r}")
    inner = optax.with_extra_args_support(fast_optimizer)

    def init_fn(params):
        fast = getattr(params, "fast", params)
        if not hasattr(params, "fast"):  # optax's convenience: the fast weights alone
            _LOG.warning("lookahead: params has no `fast`; taking params as the fast weights")
        return LookaheadState(inner.init(fast), _core.zero_count())

    def update_fn(updates, state, params=None, **extra_args):
        params = _check_pair(params)
        fast_updates, fast_state = inner.update(
            updates, state.fast_state, params.fast, **extra_args
        )
        sync = state.steps_since_sync == sync_period - 1
        pair = (params.fast, params.slow)

        def pull(u, fast, slow):
            """(fast update, slow update) of one leaf, in the update's dtype."""
            dtype = _core.compute_dtype(u.dtype)
            difference = fast.astype(dtype) + u.astype(dtype) - slow.astype(dtype)
            alpha = _core.as_scalar(slow_step_size, dtype)
            keep = _core.as_scalar(1 - slow_step_size, dtype)
            fast_update = jnp.where(sync, u.astype(dtype) - keep * difference, u.astype(dtype))
            slow_update = jnp.where(sync, alpha * difference, jnp.zeros_like(difference))
            return fast_update.astype(u.dtype), slow_update.astype(u.dtype)

        fast_out = _core.map_floats(lambda *leaves: pull(*leaves)[0], fast_updates, *pair)
        slow_out = _core.map_floats(lambda *leaves: pull(*leaves)[1], fast_updates, *pair)
        if reset_state:
            fresh = inner.init(params.fast)
            fast_state = jax.tree.map(lambda now, new: jnp.where(sync, new, now), fast_state, fresh)
        steps = _core.next_count(state.steps_since_sync) % sync_period
        new_params = params._replace(fast=fast_out, slow=slow_out)
        return new_params, LookaheadState(fast_state, steps.astype(jnp.int32))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class SlowWeightsState(NamedTuple):
    """State of :func:`slow_weights_in_state`.

    Attributes:
      slow: the slow weights (the tree of the parameters).
      lookahead: the wrapped lookahead's :class:`LookaheadState`.
    """

    slow: Any
    lookahead: Any


def slow_weights_in_state(
    lookahead_optimizer: optax.GradientTransformation,
) -> optax.GradientTransformationExtraArgs:
    """A lookahead on a plain parameter tree: the slow weights live in the optimizer state.

    :func:`lookahead` (like ``optax.lookahead``) takes ``LookaheadParams(fast, slow)`` as its
    parameters, which training loops that own the parameters (``flax.nnx.Optimizer``, a
    ``TrainState``) cannot pass. This wrapper takes the fast weights as ``params``, keeps the
    slow weights in its state (initialized to a copy of ``params``) and returns the fast
    weights' updates alone, so the pair is used like any other optimizer. The values are those
    of ``lookahead_optimizer`` on ``LookaheadParams.init_synced(params)``.

    Args:
      lookahead_optimizer: a transform whose ``update`` takes and returns
        ``LookaheadParams`` (:func:`lookahead` or ``optax.lookahead``).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`SlowWeightsState`;
      extra keyword arguments of ``update`` reach the fast optimizer.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.slow_weights_in_state(optchain.lookahead(optchain.sgd(0.5), 2, 0.5))
      >>> w = jnp.array([4.0])
      >>> state = tx.init(w)
      >>> for _ in range(2):  # the lookahead example above, on the fast weights alone
      ...     updates, state = tx.update(w, state, w)
      ...     w = optax.apply_updates(w, updates)
      >>> w, state.slow
      (Array([2.5], dtype=float32), Array([2.5], dtype=float32))
    """
    inner = optax.with_extra_args_support(lookahead_optimizer)

    def init_fn(params):
        slow = jax.tree.map(lambda p: jnp.array(p, copy=True), params)
        return SlowWeightsState(slow, inner.init(LookaheadParams(params, slow)))

    def update_fn(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError(
                "slow_weights_in_state: update needs the parameters (the fast weights)"
            )
        pair = LookaheadParams(params, state.slow)
        out, inner_state = inner.update(updates, state.lookahead, pair, **extra_args)
        fast, slow = getattr(out, "fast"), getattr(out, "slow")  # noqa: B009 (a LookaheadParams)
        return fast, SlowWeightsState(optax.apply_updates(state.slow, slow), inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
