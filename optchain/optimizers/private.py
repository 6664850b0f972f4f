"""DP-SGD: per-example clipping, the Gaussian mechanism on the clipped sum, then SGD, as
recipes in optax's form (``optax.contrib.dpsgd``, ``differentially_private_aggregate``)."""

from __future__ import annotations

from typing import Any

import optax

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.moments import momentum as _momentum
from optchain.transforms.noise import _check_key
from optchain.transforms.privacy import _private_aggregate
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["differentially_private_aggregate", "dpsgd"]


@named_optimizer
def differentially_private_aggregate(
    l2_norm_clip: Any,
    noise_multiplier: Any,
    key: Any = None,
    *,
    seed: int | None = None,
) -> GT:
    r"""The DP-SGD aggregate: :math:`u = \big(\sum_i g_i \min(1, c/\|g_i\|) + c\,\sigma\,z\big) / B`, :math:`z \sim N(0, I)`.

    Recipe: :func:`per_example_clip` (``l2_norm_clip``) then :func:`noisy_aggregate` (noise
    of standard deviation ``l2_norm_clip * noise_multiplier`` on the clipped sum, divided by
    the batch size :math:`B`), their one key held as optax's ``rng_key``. The updates carry a
    leading per-example axis (``jax.vmap(jax.grad(loss), (None, 0))(params, batch)``), which
    the output no longer has: place it first in a chain. The noise is optax's bit for bit
    (same key, same splits).

    * optax: ``optax.contrib.differentially_private_aggregate`` with the same arguments;
      optax warns when ``key`` is ``None`` (it uses seed 0, as here) and when ``seed`` is
      given (deprecated there, an accepted spelling here).

    Args:
      l2_norm_clip: :math:`c \ge 0`, the largest norm a per-example gradient keeps.
      noise_multiplier: :math:`\sigma \ge 0`, the noise's standard deviation over :math:`c`.
      key: a ``jax.random`` key or an int seed (``None``: seed 0).
      seed: an int seed instead of ``key``.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`DifferentiallyPrivateAggregateState`.

    Example:
      >>> import jax.numpy as jnp, optchain.contrib as contrib
      >>> tx = contrib.differentially_private_aggregate(1.0, 0.0, key=0)
      >>> g = {"w": jnp.array([[3.0, 4.0], [0.3, 0.4]])}  # two examples
      >>> tx.update(g, tx.init(None))[0]["w"]  # mean of [0.6, 0.8] and [0.3, 0.4]
      Array([0.45, 0.6 ], dtype=float32)

    References:
      Abadi et al., *Deep Learning with Differential Privacy*, CCS 2016.
    """
    if seed is not None:
        if key is not None:
            raise ValueError("give key or seed, not both")
        _check_key(seed, "seed")
        key = seed
    return _private_aggregate(l2_norm_clip, noise_multiplier, key)


@named_optimizer
def dpsgd(
    learning_rate: _core.ScalarOrSchedule,
    l2_norm_clip: Any,
    noise_multiplier: Any,
    seed: int,
    momentum: _core.ScalarOrSchedule | None = None,
    nesterov: bool = False,
) -> GT:
    r"""DP-SGD: :math:`w \leftarrow w - \alpha\,b_t`, :math:`b_t = \mu b_{t-1} + \tilde g_t`, :math:`\tilde g_t` the clipped, noised mean of per-example gradients.

    Recipe: ``chain(differentially_private_aggregate(l2_norm_clip, noise_multiplier,
    seed=seed), counted_chain(momentum(momentum, nesterov=nesterov),
    scale_by_learning_rate(learning_rate)))``; ``momentum=None`` leaves the momentum link out
    (plain SGD on :math:`\tilde g_t`). The aggregate comes first and outside the counted chain
    because its input has a leading per-example axis that the parameters do not have. The
    state holds optax's ``rng_key``, ``count`` and, with momentum, ``trace``.

    * optax: ``optax.contrib.dpsgd`` with the same arguments (the same noise).

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      l2_norm_clip: the largest norm a per-example gradient keeps.
      noise_multiplier: the noise's standard deviation over ``l2_norm_clip``.
      seed: the int seed of the noise's key.
      momentum: :math:`\mu` (optax's ``trace``), a schedule, or ``None``.
      nesterov: Nesterov momentum (:math:`\tilde g_t + \mu b_t`).

    Example:
      >>> import jax.numpy as jnp, optchain.contrib as contrib
      >>> tx = contrib.dpsgd(0.5, l2_norm_clip=1.0, noise_multiplier=0.0, seed=0)
      >>> per_example = jnp.array([[3.0, 4.0], [0.3, 0.4]])  # two examples
      >>> tx.update(per_example, tx.init(jnp.zeros(2)))[0]
      Array([-0.225, -0.3  ], dtype=float32)

    References:
      Abadi et al., *Deep Learning with Differential Privacy*, CCS 2016.
    """
    _check_key(seed, "seed")
    trace = None if momentum is None else _momentum(momentum, nesterov=nesterov)
    return optax.chain(  # type: ignore[return-value]
        _private_aggregate(l2_norm_clip, noise_multiplier, seed),
        _chain(trace, scale_by_learning_rate(learning_rate)),
    )
