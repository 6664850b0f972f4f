"""Sharpness-aware minimization's pieces: the adversarial (ascent) perturbation and the two ways
of taking the outer step at the perturbed point, alternating calls or an inner loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


def adversarial_perturbation(rho: float = 0.05) -> optax.GradientTransformation:
    r"""SAM's adversarial step as an update: :math:`u \mapsto -\rho\, u / \lVert u \rVert`.

    :math:`\lVert u \rVert` is the norm of all leaves together. The sign is that of a descent
    update (``optax.chain(optax.contrib.normalize(), optax.sgd(rho))``): :func:`optchain.sam`
    negates its adversarial optimizer's updates, so the parameters move *up* the gradient to
    :math:`w + \rho g / \lVert g \rVert`, the worst point of the ball of radius :math:`\rho`
    to first order. A zero gradient gives a zero update (optax's ``normalize`` gives NaN).
    Complex updates are normalized by :math:`\sqrt{\sum |u|^2}`. No state: :func:`sam` resets
    its adversary after every outer step, so a counter would restart each period.

    Args:
      rho: :math:`\rho \ge 0`, the radius (a number).

    Returns:
      An ``optax.GradientTransformation`` with state ``optax.EmptyState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.adversarial_perturbation(0.5)
      >>> tx.update(jnp.array([3.0, 4.0]), tx.init(jnp.zeros(2)))[0]  # -0.5 * g / 5
      Array([-0.3, -0.4], dtype=float32)

    References:
      Foret et al., *Sharpness-Aware Minimization for Efficiently Improving Generalization*,
      ICLR 2021.
    """
    _core.check_hyperparameter("rho", rho, low=0.0, allow_schedule=False)

    def update_fn(updates, state, params=None):
        del params
        leaves = [_core.as_leaf(u) for u in jax.tree.leaves(updates) if _core.is_float(u)]
        norm = jnp.sqrt(sum((_core.square_sum(u) for u in leaves), jnp.zeros([], jnp.float32)))
        safe = jnp.where(norm > 0, norm, jnp.ones([], jnp.float32))
        factor = jnp.where(norm > 0, -_core.as_scalar(rho, jnp.float32) / safe, 0.0)
        out = _core.map_floats(lambda u: _core.scale_leaf(u, factor), updates)
        return out, state

    return optax.GradientTransformation(optax.init_empty_state, update_fn)


class SAMState(NamedTuple):
    """State of :func:`sharpness_aware` (optax's ``SAMState`` fields).

    Attributes:
      steps_since_sync: adversarial steps since the last outer step (int32).
      opt_state: the outer optimizer's state.
      adv_state: the adversarial optimizer's state.
      cache: the parameters of the last outer step (``None`` in the inner-loop mode).
    """

    steps_since_sync: jax.Array
    opt_state: Any
    adv_state: Any
    cache: Any


def _pick(flag: jax.Array, if_true: Any, if_false: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(flag, a, b), if_true, if_false)


def _negate(tree: Any) -> Any:
    return _core.map_floats(lambda x: -x, tree)  # integer and boolean leaves: a zero update


def _check_period(sync_period: int) -> None:
    _core.check_hyperparameter(
        "sync_period", sync_period, low=1.0, integer=True, allow_schedule=False
    )


def _forwarded(extra_args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extra_args.items() if k != "grad_fn"}


def sharpness_aware(
    optimizer: optax.GradientTransformation,
    adv_optimizer: optax.GradientTransformation,
    sync_period: int = 2,
    reset_state: bool = True,
) -> optax.GradientTransformationExtraArgs:
    r"""SAM by alternating calls: ``sync_period - 1`` adversarial steps, then the outer step from the cached point.

    Call :math:`k` of a period (:math:`k = 0, \dots, K-1`, :math:`K` = ``sync_period``) takes
    the adversarial step :math:`-A(g_k)` (:math:`A` = ``adv_optimizer``); the last call
    instead returns the update that moves the parameters from where they are back to the
    cached :math:`w_0` of the period's start and on by the outer optimizer's step
    :math:`O(g_{K-1})` (evaluated with :math:`w_0` as its parameters): the gradient taken at
    the perturbed point moves the real parameters. The adversarial state is reset after
    each outer step when ``reset_state``, else it stays where it was before that call.
    Extra keywords of ``update`` other than ``grad_fn`` reach both optimizers. optax's
    ``sam`` with ``opaque_mode=False``.

    Args:
      optimizer: the outer optimizer :math:`O`.
      adv_optimizer: the adversarial optimizer :math:`A` (e.g. :func:`adversarial_perturbation`).
      sync_period: :math:`K \ge 1`.
      reset_state: re-initialize :math:`A`'s state after each outer step.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`SAMState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.sharpness_aware(optchain.sgd(0.1), optchain.adversarial_perturbation(1.0))
      >>> w = jnp.array([3.0, 4.0])
      >>> u, state = tx.update(w, tx.init(w), w)  # ascent to w + g / |g|
      >>> u
      Array([0.6, 0.8], dtype=float32)
      >>> tx.update(w + u, state, w + u)[0]  # back to w, then -0.1 * g(w + u)
      Array([-0.96, -1.28], dtype=float32)

    References:
      Foret et al., *Sharpness-Aware Minimization for Efficiently Improving Generalization*,
      ICLR 2021.
    """
    _check_period(sync_period)
    outer = optax.with_extra_args_support(optimizer)
    adversary = optax.with_extra_args_support(adv_optimizer)

    def init_fn(params):
        cache = jax.tree.map(lambda p: jnp.array(p, copy=True), params)
        return SAMState(_core.zero_count(), outer.init(params), adversary.init(params), cache)

    def update_fn(updates, state, params=None, **extra_args):
        params = _core.require_params(params, updates, "sam")
        extra = _forwarded(extra_args)
        first = state.steps_since_sync == 0
        last = state.steps_since_sync == sync_period - 1
        adv_updates, adv_state = adversary.update(updates, state.adv_state, params, **extra)
        adv_updates = _negate(adv_updates)
        opt_updates, opt_state = outer.update(updates, state.opt_state, state.cache, **extra)
        opt_updates = _core.map_floats(
            lambda c, p, u: c - p + u.astype(c.dtype), state.cache, params, opt_updates
        )
        cache = _pick(first, params, state.cache)
        updates = _pick(last, opt_updates, adv_updates)
        kept = adversary.init(params) if reset_state else state.adv_state
        adv_state = _pick(last, kept, adv_state)
        opt_state = _pick(last, opt_state, state.opt_state)
        steps = (state.steps_since_sync + 1) % sync_period
        return updates, SAMState(steps, opt_state, adv_state, cache)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sharpness_aware_inner_loop(
    optimizer: optax.GradientTransformation,
    adv_optimizer: optax.GradientTransformation,
    sync_period: int = 2,
    reset_state: bool = True,
    batch_axis_name: str | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""SAM in one call: ``sync_period - 1`` adversarial steps with ``grad_fn``, then the outer step.

    Each call starts at the parameters :math:`w`, takes the adversarial steps
    :math:`w_{i+1} = w_i - A(g_i)` with :math:`g_0` the incoming gradient and
    :math:`g_{i+1}` = ``grad_fn(w_{i+1}, i)`` (averaged over ``batch_axis_name`` when given),
    and returns the outer optimizer's update :math:`O(g_{K-1})` at :math:`w`: the adversarial
    points are never seen outside (BatchNorm statistics stay in step with the parameters).
    ``update`` needs ``grad_fn=``; other extra keywords reach both optimizers. optax's ``sam``
    with ``opaque_mode=True``.

    Args:
      optimizer, adv_optimizer, sync_period, reset_state: as in :func:`sharpness_aware`.
      batch_axis_name: an axis name to ``pmean`` the adversarial gradients over, or ``None``.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`SAMState`
      (``cache`` ``None``, ``steps_since_sync`` 0).

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> tx = optchain.sharpness_aware_inner_loop(
      ...     optchain.sgd(0.1), optchain.adversarial_perturbation(1.0))
      >>> w = jnp.array([3.0, 4.0])
      >>> grad_fn = jax.grad(lambda w, i: 0.5 * jnp.sum(w**2))
      >>> tx.update(w, tx.init(w), w, grad_fn=grad_fn)[0]  # -0.1 * g(w + g / |g|)
      Array([-0.36, -0.48], dtype=float32)

    References:
      Foret et al., *Sharpness-Aware Minimization for Efficiently Improving Generalization*,
      ICLR 2021.
    """
    _check_period(sync_period)
    outer = optax.with_extra_args_support(optimizer)
    adversary = optax.with_extra_args_support(adv_optimizer)

    def init_fn(params):
        return SAMState(_core.zero_count(), outer.init(params), adversary.init(params), None)

    def update_fn(updates, state, params=None, *, grad_fn: Callable | None = None, **extra_args):
        if grad_fn is None:
            raise ValueError(
                "sam with opaque_mode=True needs grad_fn: call update(grads, state, params, "
                "grad_fn=jax.grad(lambda params, i: loss(params, batch)))"
            )
        params = _core.require_params(params, updates, "sam")
        adv_params, grads, adv_state = params, updates, state.adv_state
        for i in range(sync_period - 1):
            step, adv_state = adversary.update(grads, adv_state, adv_params, **extra_args)
            adv_params = optax.apply_updates(adv_params, _negate(step))
            grads = grad_fn(adv_params, i)
            if batch_axis_name is not None:
                grads = jax.lax.pmean(grads, axis_name=batch_axis_name)
        if reset_state:
            adv_state = adversary.init(params)
        updates, opt_state = outer.update(grads, state.opt_state, params, **extra_args)
        return updates, SAMState(_core.zero_count(), opt_state, adv_state, None)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
