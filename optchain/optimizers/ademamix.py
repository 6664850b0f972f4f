"""AdEMAMix and the simplified AdEMAMix (optax.contrib's): Adam whose momentum also remembers
old gradients, as recipes with optax's names, signatures, values and state fields."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.combine import divide
from optchain.optimizers._common import GT, _chain, _inner, named_optimizer
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.moments import bias_correction, second_moment
from optchain.transforms.scaling import scale_by_learning_rate, sqrt
from optchain.transforms.slow_moments import (
    accumulator_mixture,
    ema_mixture,
    squared_gradient_average,
)

__all__ = [
    "ademamix",
    "scale_by_ademamix",
    "scale_by_simplified_ademamix",
    "simplified_ademamix",
]


def _ademamix_direction(b1, b2, b3, alpha, eps, eps_root, mu_dtype) -> GT:
    denominator = _inner(
        second_moment(b2, accumulator_dtype=mu_dtype), bias_correction(b2), sqrt(eps_root)
    )
    return divide(ema_mixture(b1, b3, alpha, accumulator_dtype=mu_dtype), denominator, eps=eps)


@named_optimizer
def scale_by_ademamix(
    b1: float = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    b3: _core.ScalarOrSchedule = 0.9999,
    alpha: _core.ScalarOrSchedule = 6.0,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
) -> GT:
    r"""AdEMAMix's direction: :math:`(\hat m^{(1)}_t + \alpha_t m^{(2)}_t) / (\sqrt{\hat v_t + \bar\epsilon} + \epsilon)`.

    Recipe: ``counted_chain(divide(ema_mixture(b1, b3, alpha), chain(second_moment(b2),
    bias_correction(b2), sqrt(eps_root)), eps=eps))``: Adam with :func:`ema_mixture`'s fast
    plus slow momentum as numerator. ``b3`` and ``alpha`` may be schedules (optax's). The
    state holds optax's ``count``, ``count_m2`` (the same step, written from ``count``),
    ``m1``, ``m2`` and ``nu``; ``mu_dtype`` is the dtype of all three, as in optax.

    Args:
      b1: :math:`\beta_1` in [0, 1), the fast EMA's decay.
      b2: :math:`\beta_2` in [0, 1), the second moment's decay.
      b3: :math:`\beta_3` in [0, 1), the slow EMA's decay, or a schedule.
      alpha: :math:`\alpha \ge 0`, the slow EMA's weight, or a schedule.
      eps: :math:`\epsilon \ge 0`, outside the root.
      eps_root: :math:`\bar\epsilon \ge 0`, inside the root.
      mu_dtype: dtype of the moments (``None``: the parameter's).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.scale_by_ademamix(b3=0.5, alpha=2.0)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]  # (g + 2 g / 2) / |g|
      Array([ 2., -2.], dtype=float32)

    References:
      Pagliardini et al., *The AdEMAMix Optimizer: Better, Faster, Older*, ICLR 2025.
    """
    return _chain(_ademamix_direction(b1, b2, b3, alpha, eps, eps_root, mu_dtype))


@named_optimizer
def ademamix(
    learning_rate: _core.ScalarOrSchedule,
    b1: float = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    b3: _core.ScalarOrSchedule = 0.9999,
    alpha: _core.ScalarOrSchedule = 5.0,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mask: Any = None,
) -> GT:
    r"""AdEMAMix: :math:`w \leftarrow w - \eta\,\big((\hat m^{(1)}_t + \alpha_t m^{(2)}_t) / (\sqrt{\hat v_t + \bar\epsilon} + \epsilon) + \lambda w\big)`.

    Recipe: :func:`scale_by_ademamix`, ``add_decayed_weights(weight_decay, mask)`` (a no-op
    link by default), ``scale_by_learning_rate(learning_rate)``; the state holds optax's
    ``count``, ``count_m2``, ``m1``, ``m2`` and ``nu``. optax: ``optax.contrib.ademamix``
    with the same arguments (its default ``alpha`` is 5 here and 6 in
    :func:`scale_by_ademamix`, as in optax).

    Args:
      learning_rate: :math:`\eta`, a float or a schedule.
      b1, b2, b3, alpha, eps, eps_root, mu_dtype: as in :func:`scale_by_ademamix`.
      weight_decay: :math:`\lambda \ge 0`, multiplied by the learning rate (AdamW's).
      mask: tree of bools (or ``params -> tree``) selecting the leaves to decay.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> warm = optax.linear_schedule(0.0, 5.0, 1000)  # alpha warmed up, as in the paper
      >>> tx = optchain.contrib.ademamix(0.1, alpha=warm)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]  # alpha_0 = 0: Adam
      Array([-0.1,  0.1], dtype=float32)

    References:
      Pagliardini et al., *The AdEMAMix Optimizer: Better, Faster, Older*, ICLR 2025.
    """
    return _chain(
        _ademamix_direction(b1, b2, b3, alpha, eps, eps_root, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def _simplified_direction(b1, b2, alpha, eps, eps_root) -> GT:
    denominator = _inner(squared_gradient_average(b2), bias_correction(b2), sqrt(eps_root))
    return divide(accumulator_mixture(b1, alpha), denominator, eps=eps)


@named_optimizer
def scale_by_simplified_ademamix(
    b1: _core.ScalarOrSchedule = 0.99,
    b2: _core.ScalarOrSchedule = 0.95,
    alpha: _core.ScalarOrSchedule = 0.0,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""The simplified AdEMAMix's direction: :math:`(m_t + \alpha_t g_t) / (\sqrt{\hat n_t + \bar\epsilon} + \epsilon)`, :math:`m_t = \beta_1 m_{t-1} + g_t`.

    Recipe: ``counted_chain(divide(accumulator_mixture(b1, alpha),
    chain(squared_gradient_average(b2), bias_correction(b2), sqrt(eps_root)), eps=eps))``:
    Adam's denominator under an undamped momentum plus the gradient. The state holds
    optax's ``t`` (written from the chain's ``count``), ``m`` and ``n``. Complex parameters:
    :math:`n` averages :math:`|g|^2` (optax averages :math:`g^2`, no magnitude, and its
    steps lose the gradient's phase).

    Args:
      b1: :math:`\beta_1` in [0, 1), the accumulator's decay.
      b2: :math:`\beta_2` in [0, 1), the second moment's decay.
      alpha: :math:`\alpha \ge 0`, the extra weight of the gradient, or a schedule.
      eps: :math:`\epsilon \ge 0`, outside the root.
      eps_root: :math:`\bar\epsilon \ge 0`, inside the root.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.scale_by_simplified_ademamix(alpha=1.0)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]  # (g + g) / |g|
      Array([ 2., -2.], dtype=float32)

    References:
      Morwani et al., *Connections between Schedule-Free Optimizers, AdEMAMix, and
      Accelerated SGD Variants*, 2025.
    """
    return _chain(_simplified_direction(b1, b2, alpha, eps, eps_root))


@named_optimizer
def simplified_ademamix(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.99,
    b2: _core.ScalarOrSchedule = 0.95,
    alpha: _core.ScalarOrSchedule = 0.0,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mask: Any = None,
) -> GT:
    r"""The simplified AdEMAMix: :math:`w \leftarrow w - \eta\,\big((m_t + \alpha_t g_t) / (\sqrt{\hat n_t + \bar\epsilon} + \epsilon) + \lambda w\big)`.

    Recipe: :func:`scale_by_simplified_ademamix`, ``add_decayed_weights(weight_decay,
    mask)`` (a no-op link by default), ``scale_by_learning_rate(learning_rate)``; the state
    holds optax's ``t``, ``m`` and ``n``. :math:`\alpha = 0` is Adam with an undamped
    momentum. optax: ``optax.contrib.simplified_ademamix`` with the same arguments.

    Args:
      learning_rate: :math:`\eta`, a float or a schedule.
      b1, b2, alpha, eps, eps_root: as in :func:`scale_by_simplified_ademamix`.
      weight_decay: :math:`\lambda \ge 0`, multiplied by the learning rate (AdamW's).
      mask: tree of bools (or ``params -> tree``) selecting the leaves to decay.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.simplified_ademamix(0.1)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]  # -0.1 * g / |g|
      Array([-0.1,  0.1], dtype=float32)

    References:
      Morwani et al., *Connections between Schedule-Free Optimizers, AdEMAMix, and
      Accelerated SGD Variants*, 2025.
    """
    return _chain(
        _simplified_direction(b1, b2, alpha, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
