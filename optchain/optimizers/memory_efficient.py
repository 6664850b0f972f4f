"""Optimizers with sublinear second-moment memory: Adafactor (factored RMS) and SM3 (a cover of
per-axis maxima)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.clipping import clip_by_block_rms
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.factored import (
    scale_by_factored_rms,
    scale_by_param_block_rms,
    scale_by_sm3,
)
from optchain.transforms.factored_torch import scale_by_factored_rms_torch, scale_by_relative_step
from optchain.transforms.moments import ema
from optchain.transforms.scaling import scale, scale_by_learning_rate

__all__ = ["adafactor", "adafactor_torch", "sm3"]


@named_optimizer
def adafactor(
    learning_rate: _core.ScalarOrSchedule | None = None,
    min_dim_size_to_factor: int = 128,
    decay_rate: float = 0.8,
    decay_offset: int = 0,
    multiply_by_parameter_scale: bool = True,
    clipping_threshold: _core.ScalarOrSchedule | None = 1.0,
    momentum: _core.ScalarOrSchedule | None = None,
    dtype_momentum: Any = jnp.float32,
    weight_decay_rate: _core.ScalarOrSchedule | None = None,
    eps: _core.ScalarOrSchedule = 1e-30,
    factored: bool = True,
    weight_decay_mask: Any = None,
) -> GT:
    r"""Adafactor: :math:`w \leftarrow w - \alpha\, \max(\mathrm{RMS}(w), 10^{-3})\, \mathrm{clip}(g / \sqrt{\hat v})`.

    :math:`\hat v` is the factored second moment of :func:`scale_by_factored_rms` (row and
    column statistics for leaves with two axes of at least ``min_dim_size_to_factor``, the
    full moment otherwise; decay :math:`1 - (t+1)^{-c}`), :math:`\mathrm{clip}` rescales each
    leaf to RMS at most ``clipping_threshold``. Recipe (``None`` leaves a link out)::

        counted_chain(
            scale_by_factored_rms(factored, decay_rate, decay_offset,
                                  min_dim_size_to_factor, eps),
            clip_by_block_rms(clipping_threshold),
            scale_by_learning_rate(learning_rate, flip_sign=False),
            scale_by_param_block_rms(),                   # multiply_by_parameter_scale
            ema(momentum, debias=False, accumulator_dtype=dtype_momentum),
            add_decayed_weights(weight_decay_rate, weight_decay_mask),
            scale(-1.0))

    * optax: ``optax.adafactor`` with the same arguments and values; the state holds
      optax's ``count``, ``v_row``, ``v_col``, ``v`` (and ``ema`` with momentum).

    Args:
      learning_rate: :math:`\alpha \ge 0`, or a schedule; ``None``: no scaling.
      min_dim_size_to_factor: factor only leaves with two axes at least this long.
      decay_rate: :math:`c \ge 0`, the exponent of the second-moment decay.
      decay_offset: integer step offset of the decay (fine-tuning).
      multiply_by_parameter_scale: scale the step by each leaf's parameter RMS.
      clipping_threshold: :math:`> 0`, the largest update RMS per leaf; ``None``: no clipping.
      momentum: EMA decay in [0, 1] of the updates; ``None``: no momentum (and no buffer).
      dtype_momentum: dtype of the momentum buffer.
      weight_decay_rate: decoupled decay :math:`\lambda \ge 0` (added after the step size,
        not multiplied by it); ``None``: no decay.
      eps: :math:`\epsilon \ge 0` added to :math:`|g|^2`.
      factored: factor the second moments at all.
      weight_decay_mask: tree of bools (or ``params -> tree``) selecting leaves to decay.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.adafactor(0.1, min_dim_size_to_factor=2)
      >>> params = {"kernel": jnp.ones((2, 3)), "bias": jnp.ones(3)}
      >>> state = tx.init(params)
      >>> optax.tree.get(state, "v_row")["kernel"].shape, optax.tree.get(state, "v")["bias"].shape
      ((2,), (3,))
      >>> u, state = tx.update(params, state, params)  # the first step: -0.1 * RMS(w) * sign(g)
      >>> u["bias"]
      Array([-0.1, -0.1, -0.1], dtype=float32)

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*,
      ICML 2018.
    """
    return _chain(
        scale_by_factored_rms(factored, decay_rate, decay_offset, min_dim_size_to_factor, eps),
        None if clipping_threshold is None else clip_by_block_rms(clipping_threshold),
        None if learning_rate is None else scale_by_learning_rate(learning_rate, flip_sign=False),
        scale_by_param_block_rms() if multiply_by_parameter_scale else None,
        None if momentum is None else ema(momentum, debias=False, accumulator_dtype=dtype_momentum),
        None
        if weight_decay_rate is None
        else add_decayed_weights(weight_decay_rate, weight_decay_mask),
        scale(-1.0),
    )


def _times(a: _core.ScalarOrSchedule, b: _core.ScalarOrSchedule) -> _core.ScalarOrSchedule:
    """``a * b`` for numbers, else the schedule ``t -> a(t) * b(t)`` (a constant 0 stays 0)."""
    if not callable(b) and _core.concrete_float(b) == 0.0:
        return 0.0
    if callable(a) or callable(b):
        return lambda step: _core.resolve(a, step) * _core.resolve(b, step)
    return a * b


@named_optimizer
def adafactor_torch(
    learning_rate: _core.ScalarOrSchedule = 1e-2,
    beta2_decay: float = -0.8,
    eps1: _core.ScalarOrSchedule | None = None,
    eps2: float = 1e-3,
    d: _core.ScalarOrSchedule = 1.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    *,
    maximize: bool = False,
    accumulator_dtype: Any = None,
) -> GT:
    r"""torch's Adafactor: :math:`w \leftarrow (1 - \alpha\lambda) w - \rho_t \max(\epsilon_2, \mathrm{RMS}(w))\, \mathrm{clip}_d(g / \max(\sqrt{\hat V}, \epsilon_1))`.

    :math:`\rho_t = \min(\alpha, 1/\sqrt t)` (:math:`t = 1` on the first update),
    :math:`\hat V` the factored second moment of :func:`scale_by_factored_rms_torch`
    (decay :math:`1 - t^{\tau}`, every leaf with two axes factored over its last two),
    :math:`\mathrm{clip}_d` rescales each leaf to RMS at most :math:`d`, and
    :math:`\mathrm{RMS}(w)` is taken before the decay. Recipe (``maximize`` adds the first
    link)::

        counted_chain(
            scale(-1.0),                                        # maximize=True only
            scale_by_factored_rms_torch(beta2_decay, eps1, accumulator_dtype=accumulator_dtype),
            clip_by_block_rms(d),
            scale_by_param_block_rms(eps2),
            scale_by_relative_step(learning_rate),
            add_decayed_weights(learning_rate * weight_decay),  # a product schedule if scheduled
            scale(-1.0))

    * torch: ``torch.optim.Adafactor(params, lr, beta2_decay, (eps1, eps2), d,
      weight_decay, maximize=)`` step for step, with torch's defaults (the pair ``eps`` is
      two arguments here, so that each can be checked and scheduled).
    * optax: a separate name, not keywords of :func:`adafactor`, whose arguments, defaults
      and values stay optax's. The two parametrize the method differently: torch's ``lr``
      caps the relative step :math:`1/\sqrt t` and scales the weight decay, optax's
      ``learning_rate`` replaces the relative step and its ``weight_decay_rate`` is not
      scaled; torch's decay exponent ``beta2_decay=-0.8`` is optax's ``decay_rate=0.8``;
      torch factors every matrix over its last two axes, optax the two largest axes of at
      least ``min_dim_size_to_factor=128``; torch clamps with :math:`\epsilon_1` where optax
      adds ``eps=1e-30`` to :math:`g^2`. Keywords on :func:`adafactor` would give one
      argument two meanings, so a torch user renames ``lr`` and splits ``eps`` here instead.
    * State: ``count``, ``v_row``, ``v_col``, ``v`` (torch's ``step``, ``row_var``,
      ``col_var``, ``variance``, without torch's singleton axes).

    Args:
      learning_rate: :math:`\alpha \ge 0` (torch's ``lr``), or a schedule: the largest
        relative step and the weight decay's factor.
      beta2_decay: :math:`\tau \le 0`, the exponent of the second-moment decay.
      eps1: :math:`\epsilon_1 \ge 0`, the clamp of the second moment's row mean and root,
        or a schedule; ``None``: each leaf's machine epsilon (torch's ``eps[0]``).
      eps2: :math:`\epsilon_2 \ge 0`, the smallest parameter scale (torch's ``eps[1]``).
      d: :math:`d > 0`, the largest update RMS per leaf, or a schedule (torch asks
        :math:`d \ge 1`).
      weight_decay: :math:`\lambda \ge 0`, decoupled, multiplied by :math:`\alpha`, or a
        schedule.
      maximize: ascend the objective (negate the gradient), as torch's ``maximize``.
      accumulator_dtype: the dtype of ``v_row``, ``v_col`` and ``v`` (``None``: each
        parameter's, as torch); float32 for float16 parameters, whose :math:`|g|^2`
        overflows above 255.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.adafactor_torch(1.0)  # torch.optim.Adafactor(params, lr=1.0)
      >>> w = jnp.ones((2, 3))  # any matrix is factored (optax's adafactor: from 128 on)
      >>> state = tx.init(w)
      >>> for _ in range(2):  # steps of min(lr, 1/sqrt(t)) * RMS(w), RMS(w) = 1 here
      ...     u, state = tx.update(w, state, w)
      ...     print(u[0, 0])
      -1.0
      -0.70710677

    References:
      Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*,
      ICML 2018; ``torch.optim.Adafactor`` (torch 2.13).
    """
    return _chain(
        scale(-1.0) if maximize else None,
        scale_by_factored_rms_torch(beta2_decay, eps1, accumulator_dtype=accumulator_dtype),
        clip_by_block_rms(d),
        scale_by_param_block_rms(eps2),
        scale_by_relative_step(learning_rate),
        add_decayed_weights(_times(learning_rate, weight_decay)),
        scale(-1.0),
    )


@named_optimizer
def sm3(learning_rate: _core.ScalarOrSchedule, momentum: float | None = 0.9) -> GT:
    r"""SM3: :math:`w \leftarrow w - \alpha\, m`, :math:`m` the momentum of :math:`g / \sqrt{\nu}`.

    :math:`\nu_i = g_i^2 + \min_k \mu^{(k)}_{i_k}` with one accumulator of maxima
    :math:`\mu^{(k)}` per axis of each leaf (SM3-II, :func:`scale_by_sm3`): memory grows
    with the sum of the axis lengths, not their product. Recipe::

        counted_chain(scale_by_sm3(momentum), scale_by_learning_rate(learning_rate))

    * optax: ``optax.sm3`` with the same arguments and values; the state holds optax's
      ``mu`` (the per-axis maxima) and ``nu`` (the momentum). ``momentum=None`` is
      momentum 0 (optax documents ``None`` as no momentum but fails on it).

    Args:
      learning_rate: :math:`\alpha \ge 0`, or a schedule (optax takes a number).
      momentum: :math:`\beta_1` in [0, 1], a number.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.sm3(0.1)
      >>> params = {"kernel": jnp.ones((2, 3))}
      >>> state = tx.init(params)
      >>> [m.shape for m in optax.tree.get(state, "mu")["kernel"]]  # one vector per axis
      [(2,), (3,)]
      >>> tx.update(params, state)[0]["kernel"]  # -0.1 * (1 - 0.9) * g / |g|
      Array([[-0.01, -0.01, -0.01],
             [-0.01, -0.01, -0.01]], dtype=float32)

    References:
      Anil et al., *Memory-Efficient Adaptive Optimization*, NeurIPS 2019.
    """
    _core.check_hyperparameter(
        "momentum", 0.0 if momentum is None else momentum, low=0.0, high=1.0, allow_schedule=False
    )
    return _chain(
        scale_by_sm3(0.0 if momentum is None else momentum),
        scale_by_learning_rate(learning_rate),
    )
