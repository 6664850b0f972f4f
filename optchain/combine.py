"""The combinators optax lacks: run several chains on the same input and merge their outputs.

``optax.chain`` composes transforms in sequence. Adam needs two chains side by side on the
*raw* gradient (a debiased first moment and a debiased RMS), merged by a division; these
combinators express that without fusing the techniques into one transform.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import optax

from optchain import _core


@_core.shares_count("branches")
class ForkState(NamedTuple):
    """State of :func:`fork`: one state per branch, in order."""

    branches: tuple


def _run_branches(branches, updates, states, params, extra_args):
    outputs, new_states = [], []
    for branch, branch_state in zip(branches, states):
        out, new_state = branch.update(updates, branch_state, params, **extra_args)
        outputs.append(out)
        new_states.append(new_state)
    return outputs, tuple(new_states)


def _as_extra_args(transforms):
    return tuple(optax.with_extra_args_support(t) for t in transforms)


def fork(
    *branches: optax.GradientTransformation, merge: Callable[..., jax.Array]
) -> optax.GradientTransformationExtraArgs:
    r"""Feed the same updates to every branch and merge their outputs leaf by leaf.

    :math:`u \mapsto \mathrm{merge}(T_1(u), \dots, T_k(u))`. Extra keyword arguments
    given to ``update`` (such as ``value=loss``) reach every branch.

    Args:
      *branches: transforms (or chains), at least one.
      merge: a function of ``len(branches)`` arrays returning one array, applied to
        each leaf.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`ForkState`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.fork(optchain.scale(2.0), optchain.scale(3.0), merge=lambda a, b: a + b)
      >>> tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))[0]
      Array([5., 5.], dtype=float32)

    References:
      Plumbing, no paper: ``optax.chain`` is the sequential counterpart.
    """
    if not branches:
        raise ValueError("fork needs at least one branch")
    if not callable(merge):
        raise ValueError(f"merge must be callable; got {merge!r}")
    branches = _as_extra_args(branches)

    def init_fn(params):
        return ForkState(tuple(b.init(params) for b in branches))

    def update_fn(updates, state, params=None, **extra_args):
        outputs, states = _run_branches(branches, updates, state.branches, params, extra_args)
        return _core.map_floats(merge, *outputs), ForkState(states)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@_core.shares_count("numerator", "denominator")
class DivideState(NamedTuple):
    """State of :func:`divide`."""

    count: jax.Array
    numerator: Any
    denominator: Any


def divide(
    numerator: optax.GradientTransformation,
    denominator: optax.GradientTransformation,
    *,
    eps: _core.ScalarOrSchedule = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""Ratio of two chains fed the same input: :math:`u \mapsto N(u) / (D(u) + \epsilon)`.

    Adam is ``divide(chain(ema(b1), bias_correction(b1)), chain(ema(b2, order=2),
    bias_correction(b2), sqrt(eps_root)), eps=eps)`` followed by the learning rate.
    The division runs in at least float32 and returns the numerator's dtype.

    Args:
      numerator: transform producing :math:`N(u)`.
      denominator: transform producing :math:`D(u)`.
      eps: :math:`\epsilon \ge 0` added to the denominator, or a schedule.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`DivideState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.divide(optchain.scale(6.0), optchain.scale(2.0), eps=1.0)
      >>> tx.update(jnp.ones(1), tx.init(jnp.zeros(1)))[0]
      Array([2.], dtype=float32)

    References:
      Plumbing, no paper: the division inside ``optax.scale_by_adam``, as a combinator.
    """
    _core.check_hyperparameter("eps", eps, low=0.0)
    branches = _as_extra_args((numerator, denominator))

    def init_fn(params):
        return DivideState(_core.zero_count(), *(b.init(params) for b in branches))

    def update_fn(updates, state, params=None, **extra_args):
        (num, den), (num_state, den_state) = _run_branches(
            branches, updates, (state.numerator, state.denominator), params, extra_args
        )
        e = _core.resolve(eps, state.count)

        def ratio(n, d):
            dtype = _core.compute_dtype(n.dtype)
            out = n.astype(dtype) / (d.astype(dtype) + _core.as_scalar(e, dtype))
            return out.astype(n.dtype)

        out = _core.map_floats(ratio, num, den)
        return out, DivideState(_core.next_count(state.count), num_state, den_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# optax.masked wraps an inner state: its links share the chain's counter too.
_core.shares_count("inner_state")(optax.MaskedState)


class CountedChainState(NamedTuple):
    """State of :func:`counted_chain`: the one step counter and the links' states."""

    count: jax.Array
    links: tuple


def counted_chain(*links: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    r"""``optax.chain(*links)`` with one step counter, which every link reads.

    Each link whose state counts its own updates (a state class registered with
    ``_core.shares_count``: momentum, moments, bias correction, scaling, schedules, ...) keeps
    that state without its ``count``; on every update the chain hands its counter
    :math:`t` (0 on the first update, saturating at :math:`2^{31}-1`) to each of them, so
    schedules inside any link see :math:`t` and the state holds one ``count``, as optax's
    fused optimizers do (``optax.tree.get(state, "count")``). Values are those of
    ``optax.chain(*links)``. Links whose counter means something else (a skip counter, an
    unregistered wrapper) keep their own state whole. Every named optimizer is one.

    Args:
      *links: transforms, applied in order.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`CountedChainState`.

    Example:
      >>> import jax, jax.numpy as jnp, optax, optchain
      >>> tx = optchain.counted_chain(optchain.momentum(0.9), optchain.scale_by_learning_rate(0.1))
      >>> state = tx.init(jnp.zeros(2))
      >>> [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(state)]
      ['.count', '.links[0].trace']
      >>> optax.tree.get(state, "count")
      Array(0, dtype=int32)
      >>> u, state = tx.update(jnp.ones(2), state)
      >>> u, optax.tree.get(state, "count")
      (Array([-0.1, -0.1], dtype=float32), Array(1, dtype=int32))

    References:
      ``optax.chain`` (the same values, one counter per link there).
    """
    inner = optax.chain(*links)

    def init_fn(params):
        return CountedChainState(_core.zero_count(), _core.strip_counts(inner.init(params)))

    def update_fn(updates, state, params=None, **extra_args):
        _core.check_updates_match_params(updates, params)
        states = _core.restore_counts(state.links, state.count)
        updates, states = inner.update(updates, states, params, **extra_args)
        return updates, CountedChainState(_core.next_count(state.count), _core.strip_counts(states))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
