"""Schedule-free SGD and AdamW: a momentum-free base step under :func:`schedule_free`'s
interpolation and averaging, in optax's form and, through documented keywords, the authors'."""

from __future__ import annotations

from typing import Any

import optax

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.rms import scale_by_rms
from optchain.transforms.scaling import scale_by_learning_rate
from optchain.transforms.schedule_free import schedule_free

__all__ = ["schedule_free_adamw", "schedule_free_sgd"]


def _rates(learning_rate: Any, warmup_steps: int | None, torch_warmup: bool) -> tuple[Any, Any]:
    """(the base step's rate, read at the base chain's count from 0; the averaging's rate, read
    at ``step_count`` from 1). Without warmup both are ``learning_rate``; with it, optax's
    linear warmup from 0 is read at each counter, so the base step lags one step behind (its
    first step is 0); ``torch_warmup`` reads it one step later in the base step, so both use
    :math:`\\gamma \\min(1, (k + 1) / W)` at step :math:`k`, as ``schedulefree`` does."""
    if warmup_steps is None:
        return learning_rate, learning_rate
    warmup = optax.warmup_constant_schedule(
        init_value=0.0, peak_value=learning_rate, warmup_steps=warmup_steps
    )
    if not torch_warmup:
        return warmup, warmup
    return (lambda count: warmup(_core.next_count(count))), warmup


@named_optimizer
def schedule_free_sgd(
    learning_rate: float = 1.0,
    warmup_steps: int | None = None,
    b1: float = 0.9,
    weight_decay: float | None = None,
    weight_lr_power: float = 2.0,
    state_dtype: Any = None,
    *,
    r: float = 0.0,
    torch_warmup: bool = False,
) -> GT:
    r"""Schedule-free SGD: :math:`z \leftarrow z - \gamma_t (g + \lambda y)`, :math:`y = \beta_1 x + (1-\beta_1) z`, :math:`x` the weighted average of :math:`z`.

    Recipe: ``schedule_free(counted_chain(add_decayed_weights(weight_decay),
    scale_by_learning_rate(lr)), lr, b1, weight_lr_power, state_dtype, r=r)``: the weight
    decay link is left out when ``weight_decay`` is ``None`` (optax's default) and, as the
    gradient, is evaluated at the train point :math:`y`. Evaluate at
    :func:`schedule_free_eval_params`. ``warmup_steps`` warms :math:`\gamma` linearly from 0
    (``optax.warmup_constant_schedule``); the base step reads it at its count from 0, the
    weights at ``step_count`` from 1, as optax does.

    * optax: ``optax.contrib.schedule_free_sgd`` with the same arguments.
    * ``schedulefree.SGDScheduleFree(lr, momentum, weight_decay, warmup_steps, r,
      weight_lr_power)`` (the authors' torch release, 1.4): ``schedule_free_sgd(lr,
      warmup_steps or None, b1=momentum, weight_decay=weight_decay or None, weight_lr_power=...,
      r=r, torch_warmup=True)``; its ``train()`` parameters are :math:`y`, its ``eval()``
      parameters :func:`schedule_free_eval_params`.

    Args:
      learning_rate: :math:`\gamma \ge 0` (a number, as in optax; the peak after warmup).
      warmup_steps: length :math:`W \ge 1` of the linear warmup, or ``None``.
      b1: :math:`\beta_1 \in (0, 1]`, the interpolation weight (the authors' ``momentum``).
      weight_decay: :math:`\lambda \ge 0` (L2, scaled by the learning rate) or ``None``.
      weight_lr_power: power of the largest learning rate in the averaging weights.
      state_dtype: dtype of :math:`z` (``None``: the parameters' dtypes).
      r: power of the step number in the averaging weights (the authors' ``r``; 0 in optax).
      torch_warmup: the base step uses :math:`\min(1, (k+1)/W)\,\gamma` at step :math:`k`
        (0-based) as ``schedulefree`` does, instead of optax's :math:`\min(1, k/W)\,\gamma`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.schedule_free_sgd(0.5, b1=0.5)
      >>> y = jnp.array([4.0]); state = tx.init(y)
      >>> tx.update(y, state, y)[0]  # z = 4 - 0.5 * 4 = 2 = x = y: the update is -2
      Array([-2.], dtype=float32)

    References:
      Defazio et al., *The Road Less Scheduled*, NeurIPS 2024 (arXiv:2405.15682).
    """
    base_rate, rate = _rates(learning_rate, warmup_steps, torch_warmup)
    base = _chain(
        None if weight_decay is None else add_decayed_weights(weight_decay),
        scale_by_learning_rate(base_rate),
    )
    return schedule_free(base, rate, b1, weight_lr_power, state_dtype, r=r)


@named_optimizer
def schedule_free_adamw(
    learning_rate: float = 0.0025,
    warmup_steps: int | None = None,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    weight_lr_power: float = 2.0,
    state_dtype: Any = None,
    *,
    r: float = 0.0,
    torch_warmup: bool = False,
) -> GT:
    r"""Schedule-free AdamW: :math:`z \leftarrow z - \gamma_t (g / (\sqrt{\hat v_t} + \epsilon) + \lambda y)`, :math:`y = \beta_1 x + (1-\beta_1) z`, :math:`x` the weighted average of :math:`z`.

    Recipe: ``schedule_free(counted_chain(scale_by_rms(b2, eps, eps_in_sqrt=False,
    bias_correction=True), add_decayed_weights(weight_decay), scale_by_learning_rate(lr)),
    lr, b1, weight_lr_power, state_dtype, r=r)``: Adam without momentum (the averaging
    replaces it), its denominator debiased, the decoupled weight decay evaluated at the train
    point :math:`y`. Evaluate at :func:`schedule_free_eval_params`. The state holds optax's
    ``b1``, ``weight_sum``, ``step_count``, ``max_lr``, ``z``, and the base chain's ``count``
    and ``nu``. ``warmup_steps`` as in :func:`schedule_free_sgd`.

    * optax: ``optax.contrib.schedule_free_adamw`` with the same arguments.
    * ``schedulefree.AdamWScheduleFree(lr, betas=(b1, b2), eps, weight_decay, warmup_steps, r,
      weight_lr_power)`` (the authors' torch release, 1.4): ``schedule_free_adamw(lr,
      warmup_steps or None, b1, b2, eps, weight_decay, weight_lr_power, r=r,
      torch_warmup=True)``; its ``train()`` parameters are :math:`y`, its ``eval()``
      parameters :func:`schedule_free_eval_params`.

    Args:
      learning_rate: :math:`\gamma \ge 0` (a number, as in optax; the peak after warmup).
      warmup_steps: length :math:`W \ge 1` of the linear warmup, or ``None``.
      b1: :math:`\beta_1 \in (0, 1]`, the interpolation weight.
      b2: :math:`\beta_2 \in [0, 1)`, the decay of the second moment.
      eps: :math:`\epsilon \ge 0`, added to :math:`\sqrt{\hat v_t}`.
      weight_decay: :math:`\lambda \ge 0`, scaled by the learning rate.
      weight_lr_power, state_dtype, r, torch_warmup: as in :func:`schedule_free_sgd`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.schedule_free_adamw(0.5)
      >>> y = jnp.array([4.0, -1.0]); state = tx.init(y)
      >>> tx.update(y, state, y)[0]  # the first Adam step is -0.5 * sign(g), c = 1
      Array([-0.5,  0.5], dtype=float32)

    References:
      Defazio et al., *The Road Less Scheduled*, NeurIPS 2024 (arXiv:2405.15682).
    """
    base_rate, rate = _rates(learning_rate, warmup_steps, torch_warmup)
    base = _chain(
        scale_by_rms(b2, eps, eps_in_sqrt=False, bias_correction=True),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(base_rate),
    )
    return schedule_free(base, rate, b1, weight_lr_power, state_dtype, r=r)
