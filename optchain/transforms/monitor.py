"""Training health in the optimizer state: gradient and update norms, exploding/vanishing flags;
and the lottery-ticket link that keeps pruned weights at zero."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


@_core.shares_count("inner_state")
class MonitoredState(NamedTuple):
    """State of :func:`monitored` (optax's ``MonitorState`` is another transform's). Norms are
    float32; per-leaf trees mirror the params' structure (integer leaves hold 0). Flags
    describe the last step, counts the whole run (saturating at ``2**31 - 1``)."""

    inner_state: Any
    count: jax.Array
    grad_norm: jax.Array
    leaf_grad_norms: Any
    update_norm: jax.Array
    update_ratio: jax.Array
    leaf_update_ratios: Any
    exploding: jax.Array
    vanishing: jax.Array
    nonfinite: jax.Array
    exploding_steps: jax.Array
    vanishing_steps: jax.Array


def _leaf_norm(x: Any) -> jax.Array:
    if not _core.is_float(x):
        return jnp.zeros([], jnp.float32)
    return jnp.sqrt(_core.square_sum(x)).astype(jnp.float32)


def _global(tree_of_norms: Any) -> jax.Array:
    return jnp.sqrt(
        sum((n * n for n in jax.tree.leaves(tree_of_norms)), jnp.zeros([], jnp.float32))
    )


def monitored(
    inner: optax.GradientTransformation,
    explode_threshold: float = 1e3,
    vanish_threshold: float = 1e-7,
) -> optax.GradientTransformationExtraArgs:
    r"""Run ``inner`` and record, in the state, what went in and what came out: the global and
    per-leaf gradient norms, the update norm, the update-to-parameter ratio
    :math:`\lVert u \rVert / \lVert w \rVert` (global and per leaf), and flags for exploding
    (gradient norm above ``explode_threshold`` or non-finite) and vanishing (below
    ``vanish_threshold``) gradients, with running counts.

    Everything stays on the device: nothing synchronises with the host inside ``jit``; read the
    fields when you log. The updates pass through unchanged.

    Args:
      inner: the optimizer to watch.
      explode_threshold: gradient-norm level flagged as exploding.
      vanish_threshold: gradient-norm level flagged as vanishing.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`MonitoredState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.monitored(optchain.sgd(0.1))
      >>> w = {"a": jnp.array([3.0, 4.0]), "b": jnp.ones(2)}
      >>> u, s = tx.update({"a": jnp.array([3.0, 4.0]), "b": jnp.zeros(2)}, tx.init(w), w)
      >>> float(s.grad_norm), float(s.leaf_update_ratios["a"]), bool(s.vanishing)
      (5.0, 0.1, False)

    References:
      Pascanu et al., ICML 2013 (exploding and vanishing gradients); the update-to-weight
      ratio check of Stanford's CS231n notes (*Neural Networks Part 3*).
    """
    _core.check_hyperparameter(
        "explode_threshold", explode_threshold, low=0.0, low_open=True, allow_schedule=False
    )
    _core.check_hyperparameter("vanish_threshold", vanish_threshold, low=0.0, allow_schedule=False)
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        # every leaf its own buffer: the state may be donated
        def zeros():
            return jax.tree.map(lambda _: jnp.zeros([], jnp.float32), params)

        def zero(dtype=jnp.float32):
            return jnp.zeros([], dtype)

        return MonitoredState(
            inner.init(params),
            _core.zero_count(),
            zero(),
            zeros(),
            zero(),
            zero(),
            zeros(),
            zero(bool),
            zero(bool),
            zero(bool),
            zero(jnp.int32),
            zero(jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        leaf_grads = jax.tree.map(_leaf_norm, updates)
        grad_norm = _global(leaf_grads)
        out, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        leaf_updates = jax.tree.map(_leaf_norm, out)
        update_norm = _global(leaf_updates)
        if params is None:
            nan = jnp.full([], jnp.nan, jnp.float32)
            ratio, leaf_ratios = nan, jax.tree.map(lambda _: nan, leaf_updates)
        else:
            leaf_params = jax.tree.map(_leaf_norm, params)
            ratio = update_norm / _global(leaf_params)
            leaf_ratios = jax.tree.map(lambda u, w: u / w, leaf_updates, leaf_params)
        nonfinite = ~jnp.isfinite(grad_norm)
        exploding = nonfinite | (grad_norm > explode_threshold)
        vanishing = grad_norm < vanish_threshold
        return out, MonitoredState(
            inner_state,
            _core.next_count(state.count),
            grad_norm,
            leaf_grads,
            update_norm,
            ratio,
            leaf_ratios,
            exploding,
            vanishing,
            nonfinite,
            _core.count_if(state.exploding_steps, exploding),
            _core.count_if(state.vanishing_steps, vanishing),
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class KeepPrunedState(NamedTuple):
    """State of :func:`keep_pruned_at_zero` (it keeps nothing)."""


def keep_pruned_at_zero(mask: Any) -> optax.GradientTransformation:
    r"""Lottery-ticket training: :math:`u \mapsto u` where ``mask`` keeps a weight and
    :math:`-w` where it prunes, so pruned weights become exactly 0 and stay there. Put it last
    (after the learning rate). Needs ``params``.

    Args:
      mask: a tree of bools like the params (``True`` = keep), e.g. from
        :func:`optchain.diagnostics.magnitude_prune_mask`, or ``params -> tree``.

    Returns:
      An ``optax.GradientTransformation`` with the empty state :class:`KeepPrunedState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.keep_pruned_at_zero(jnp.array([True, False]))
      >>> tx.update(jnp.array([0.5, 0.5]), tx.init(None), jnp.array([1.0, 2.0]))[0]
      Array([ 0.5, -2. ], dtype=float32)

    References:
      Frankle and Carbin, *The Lottery Ticket Hypothesis*, ICLR 2019.
    """

    def init_fn(params):
        del params
        return KeepPrunedState()

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "keep_pruned_at_zero")
        keep = mask(params) if callable(mask) else mask
        _core.check_trees_match(updates, keep, "pruning mask")

        def apply(u, w, m):
            return jnp.where(m, u, (-w).astype(u.dtype))

        return _core.map_floats(apply, updates, params, keep), state

    return optax.GradientTransformation(init_fn, update_fn)
