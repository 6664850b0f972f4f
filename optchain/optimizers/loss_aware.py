"""Optimizers that read the loss, or a function of the parameters, besides the gradient: SAM
(``grad_fn=`` in its inner-loop mode), Sophia (``obj_fn=`` for its Hessian estimate), MoMo and
MoMo-Adam (``value=``), in optax.contrib's forms."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain.combine import divide
from optchain.optimizers._common import GT, _chain, _inner, named_optimizer
from optchain.transforms.clipping import clip
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.hessian_diagonal import (
    hutchinson_estimator_diag_hessian,
    sophia_preconditioner,
)
from optchain.transforms.model_based_step import momo_adam_step, momo_step
from optchain.transforms.moments import bias_correction, first_moment
from optchain.transforms.scaling import scale_by_learning_rate
from optchain.transforms.sharpness_aware import sharpness_aware, sharpness_aware_inner_loop

__all__ = ["momo", "momo_adam", "sam", "sophia"]


@named_optimizer
def sam(
    optimizer: optax.GradientTransformation,
    adv_optimizer: optax.GradientTransformation,
    sync_period: int = 2,
    reset_state: bool = True,
    opaque_mode: bool = False,
    batch_axis_name: str | None = None,
) -> GT:
    r"""SAM: :math:`w \leftarrow w - O\bigl(\nabla f(w + \epsilon)\bigr)`, :math:`\epsilon` the adversarial step(s) of ``adv_optimizer`` (:math:`\rho g / \lVert g \rVert` for SAM).

    Recipe: :func:`sharpness_aware` (``opaque_mode=False``: the adversarial steps and the outer
    step alternate over ``sync_period`` calls, each call one gradient) or
    :func:`sharpness_aware_inner_loop` (``opaque_mode=True``: one call runs the
    ``sync_period - 1`` adversarial steps with ``update(..., grad_fn=grad_fn)``,
    ``grad_fn(params, i) -> grads``, and returns the outer update). The paper's SAM is
    ``sam(sgd(lr), adversarial_perturbation(rho))``. The state is :class:`SAMState`, optax's
    fields (``steps_since_sync``, ``opt_state``, ``adv_state``, ``cache``).

    * optax: ``optax.contrib.sam`` with the same arguments, step for step (``adv_optimizer``
      ``optax.chain(optax.contrib.normalize(), optax.sgd(rho))`` is
      :func:`adversarial_perturbation`, except at a zero gradient, where optax's is NaN).
      Extra keywords of ``update`` (other than ``grad_fn``) reach both optimizers; optax drops
      them in the alternating mode.

    Args:
      optimizer: the outer optimizer.
      adv_optimizer: the adversarial optimizer; its updates are negated (an ascent).
      sync_period: :math:`K \ge 1`, calls (or adversarial steps + 1) per outer step.
      reset_state: re-initialize the adversarial state after each outer step.
      opaque_mode: run the adversarial steps inside one call, with ``grad_fn``.
      batch_axis_name: in ``opaque_mode``, the axis to ``pmean`` adversarial gradients over.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`SAMState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.sam(optchain.sgd(0.1), optchain.adversarial_perturbation(0.05))
      >>> w = jnp.array([3.0, 4.0])
      >>> tx.update(w, tx.init(w), w)[0]  # first call: the ascent rho * g / |g|
      Array([0.03, 0.04], dtype=float32)

    References:
      Foret et al., *Sharpness-Aware Minimization for Efficiently Improving Generalization*,
      ICLR 2021.
    """
    if opaque_mode:
        return sharpness_aware_inner_loop(
            optimizer, adv_optimizer, sync_period, reset_state, batch_axis_name
        )
    return sharpness_aware(optimizer, adv_optimizer, sync_period, reset_state)


def _win_rate_report(clip_threshold: Any, every: int) -> optax.GradientTransformation:
    """Prints (``jax.debug.print``) every ``every`` steps the share of entries that the clip
    at ``clip_threshold`` leaves unchanged: Sophia's win rate. Updates pass unchanged."""

    def init_fn(params):
        del params
        return _core.CountState(_core.zero_count())

    def update_fn(updates, state, params=None):
        del params
        t = _core.next_count(state.count)
        floats = [_core.as_leaf(u) for u in jax.tree.leaves(updates) if _core.is_float(u)]
        inside = sum((jnp.sum(jnp.abs(u) < clip_threshold) for u in floats), jnp.zeros([], int))
        size = max(sum(u.size for u in floats), 1)
        jax.lax.cond(
            t % every == 0,
            lambda: jax.debug.print("Sophia optimizer win rate: {}", inside / size),
            lambda: None,
        )
        return updates, _core.CountState(t)

    return optax.GradientTransformation(init_fn, update_fn)


# optax's default estimator object, so that sophia's signature is optax's to the default;
# sophia replaces it by optchain's own estimator (the same draws, the same values).
_OPTAX_HUTCHINSON = (
    inspect.signature(optax.contrib.sophia).parameters["hessian_diagonal_fn"].default
)


@named_optimizer
def sophia(
    learning_rate: _core.ScalarOrSchedule,
    b1: float = 0.965,
    b2: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 1e-4,
    weight_decay_mask: Any | Callable[[Any], Any] | None = None,
    gamma: float = 0.01,
    clip_threshold: float | None = 1.0,
    update_interval: int = 10,
    hessian_diagonal_fn: optax.GradientTransformation = _OPTAX_HUTCHINSON,
    mu_dtype: Any | None = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: int = 0,
) -> GT:
    r"""Sophia: :math:`w \leftarrow w - \alpha\bigl(\mathrm{clip}\bigl(\hat m_t / \max(\gamma h_{t-1}, \epsilon), \pm c\bigr) + \lambda w\bigr)`, :math:`h` an EMA of the Hessian's diagonal.

    Recipe: ``counted_chain(divide(chain(first_moment(b1), bias_correction(b1)),
    sophia_preconditioner(b2, eps, gamma, update_interval, hessian_diagonal_fn)),
    clip(clip_threshold), add_decayed_weights(weight_decay, weight_decay_mask),
    scale_by_learning_rate(learning_rate))``. The Hessian estimate (by default
    :func:`hutchinson_estimator_diag_hessian`, Sophia-H) is refreshed on steps
    :math:`0, k, 2k, \dots` (:math:`k` = ``update_interval``) and needs the objective:
    ``update(grads, state, params, obj_fn=lambda p: loss(p, batch))``; every extra keyword
    reaches the estimator. ``clip_threshold=None`` drops the clip link; ``verbose`` with
    ``print_win_rate_every_n_steps > 0`` adds a link that prints the share of unclipped
    entries. The state holds optax's ``count``, ``mu``, ``nu`` and ``hessian_fn_state``
    (whose ``key`` is the estimator's).

    * optax: ``optax.contrib.sophia`` with the same arguments, step for step (the same keys,
      so the same Rademacher draws). With ``mu_dtype`` narrower than the gradient, the
      debiased momentum is read after its cast (optax's before). Complex parameters are
      rejected at ``init``.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1: :math:`\beta_1`, the momentum's decay.
      b2: :math:`\beta_2`, the Hessian EMA's decay (per estimate: effectively
        :math:`1 - (1-\beta_2)/k` per step).
      eps: :math:`\epsilon`, the floor of the denominator.
      weight_decay: :math:`\lambda`, decoupled (multiplied by :math:`\alpha`).
      weight_decay_mask: a tree of bools or a function of the parameters giving one.
      gamma: :math:`\gamma`, the Hessian's scale.
      clip_threshold: :math:`c > 0`, or ``None`` for no clipping.
      update_interval: :math:`k \ge 1`.
      hessian_diagonal_fn: the estimator of the Hessian's diagonal (a transform); the default
        (optax's default object, for an identical signature) runs
        :func:`hutchinson_estimator_diag_hessian` with its default key.
      mu_dtype: dtype of the momentum ``mu``.
      verbose: print the win rate.
      print_win_rate_every_n_steps: steps between two prints (0: none).

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> f = lambda w: jnp.sum(w**2)
      >>> tx, w = optchain.sophia(0.1), jnp.array([1.0, -2.0])
      >>> u, state = tx.update(jax.grad(f)(w), tx.init(w), w, obj_fn=f)
      >>> u.round(5)  # h_{-1} = 0: m_hat / eps clipped to +-1, plus 1e-4 w, times -0.1
      Array([-0.10001,  0.10002], dtype=float32)

    References:
      Liu et al., *Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
      Pre-training*, ICLR 2024.
    """
    if hessian_diagonal_fn is _OPTAX_HUTCHINSON:
        hessian_diagonal_fn = hutchinson_estimator_diag_hessian()
    report = verbose and clip_threshold is not None and print_win_rate_every_n_steps > 0
    return _chain(
        divide(
            _inner(first_moment(b1, accumulator_dtype=mu_dtype), bias_correction(b1)),
            sophia_preconditioner(b2, eps, gamma, update_interval, hessian_diagonal_fn),
        ),
        _win_rate_report(clip_threshold, print_win_rate_every_n_steps) if report else None,
        None if clip_threshold is None else clip(clip_threshold),
        add_decayed_weights(weight_decay, mask=weight_decay_mask),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def momo(
    learning_rate: _core.ScalarOrSchedule = 1.0,
    beta: float = 0.9,
    lower_bound: float = 0.0,
    weight_decay: float = 0.0,
    adapt_lower_bound: bool = False,
) -> GT:
    r"""MoMo: SGD with momentum and the step :math:`\tau_t = \min(\alpha, \text{Polyak step on the momentum model})` that reaches the lower bound on it.

    Recipe: ``counted_chain(momo_step(...))`` (see :func:`momo_step` for the model and the
    update rule). ``update`` needs the loss: ``update(grads, state, params, value=loss)``.
    The state holds optax's ``exp_avg``, ``barf``, ``gamma``, ``lb`` and ``count``.

    * optax: ``optax.contrib.momo`` with the same arguments, step for step.

    Args:
      learning_rate: :math:`\alpha`, the largest step, a float or a schedule.
      beta: the momentum's and the model's EMA weight, in [0, 1).
      lower_bound: a lower bound of the loss (0 for most losses).
      weight_decay: :math:`\lambda \ge 0`.
      adapt_lower_bound: estimate the lower bound on the fly.

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> f = lambda w: jnp.sum(w**2)
      >>> tx, w = optchain.momo(), jnp.array([1.0, 2.0, 3.0])
      >>> value, g = jax.value_and_grad(f)(w)
      >>> w + tx.update(g, tx.init(w), w, value=value)[0]  # the minimum, in one step
      Array([0.5, 1. , 1.5], dtype=float32)

    References:
      Schaipp et al., *MoMo: Momentum Models for Adaptive Learning Rates*, ICML 2024.
    """
    return _chain(momo_step(learning_rate, beta, lower_bound, weight_decay, adapt_lower_bound))


@named_optimizer
def momo_adam(
    learning_rate: _core.ScalarOrSchedule = 1e-2,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    lower_bound: float = 0.0,
    weight_decay: float = 0.0,
    adapt_lower_bound: bool = False,
) -> GT:
    r"""MoMo-Adam: Adam(W) with the step :math:`\tau_t = \min(\alpha / (1-\beta_1^t), \text{Polyak step on the model})` in Adam's geometry.

    Recipe: ``counted_chain(momo_adam_step(...))`` (see :func:`momo_adam_step`). ``update``
    needs the loss as ``value=``. The state holds optax's ``exp_avg``, ``exp_avg_sq``,
    ``barf``, ``gamma``, ``lb`` and ``count``.

    * optax: ``optax.contrib.momo_adam`` with the same arguments, step for step.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1, b2: Adam's decays, in [0, 1).
      eps: added to the root of the debiased second moment.
      lower_bound, weight_decay, adapt_lower_bound: as in :func:`momo`.

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> f = lambda w: jnp.sum(w**2)
      >>> tx, w = optchain.momo_adam(), jnp.array([1.0, 2.0])
      >>> value, g = jax.value_and_grad(f)(w)
      >>> tx.update(g, tx.init(w), w, value=value)[0]  # -alpha / (1 - b1) * sign(g)
      Array([-0.1, -0.1], dtype=float32)

    References:
      Schaipp et al., *MoMo: Momentum Models for Adaptive Learning Rates*, ICML 2024.
    """
    return _chain(
        momo_adam_step(learning_rate, b1, b2, eps, lower_bound, weight_decay, adapt_lower_bound)
    )
