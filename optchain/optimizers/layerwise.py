"""Optimizers whose step is normalised per layer: NovoGrad and Fromage."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.decay import decoupled_weight_decay
from optchain.transforms.layer_moments import scale_by_novograd
from optchain.transforms.layerwise import scale_by_trust_ratio
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["novograd", "fromage"]


@named_optimizer
def novograd(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.25,
    eps: _core.ScalarOrSchedule = 1e-6,
    eps_root: _core.ScalarOrSchedule = 0.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""NovoGrad: momentum on the gradient normalised by a per-layer second moment.

    :math:`\mu_t = \beta_1 \mu_{t-1} + g_t / (\sqrt{\nu_t + \bar\epsilon} + \epsilon) + \lambda
    w`, :math:`w \leftarrow w - \alpha \mu_t`, with :math:`\nu_t` the EMA of
    :math:`\lVert g_t \rVert^2` per leaf (see :func:`scale_by_novograd`). Recipe:
    ``counted_chain(scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
    scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.novograd`` with the same arguments, values and state fields (``count``,
      ``mu``, ``nu``). A scheduled ``weight_decay`` works here too.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1: :math:`\beta_1`, decay of :math:`\mu`.
      b2: :math:`\beta_2`, decay of :math:`\nu`.
      eps: :math:`\epsilon`, added outside the square root.
      eps_root: :math:`\bar\epsilon`, added inside the square root.
      weight_decay: :math:`\lambda`, coupled decay inside the momentum.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.novograd(0.1, eps=0.0)
      >>> u, _ = tx.update(jnp.array([3.0, 4.0]), tx.init(jnp.zeros(2)))
      >>> jnp.round(u, 4)  # -0.1 * g / ||g||
      Array([-0.06, -0.08], dtype=float32)

    References:
      Ginsburg et al., *Stochastic Gradient Methods with Layer-wise Adaptive Moments for
      Training of Deep Networks*, arXiv:1905.11286, 2019.
    """
    return _chain(
        scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def fromage(learning_rate: _core.ScalarOrSchedule, min_norm: float = 1e-6) -> GT:
    r"""Fromage: a step of relative size :math:`\alpha` per layer, then a shrink that keeps norms.

    :math:`w_l \leftarrow (w_l - \alpha \lVert w_l \rVert / \lVert g_l \rVert\, g_l) /
    \sqrt{1+\alpha^2}`. Recipe::

        counted_chain(
            scale_by_trust_ratio(min_norm),                 # ||w|| / ||g|| per leaf
            scale_by_learning_rate(alpha * shrink),         # shrink = 1 / sqrt(1 + alpha^2)
            decoupled_weight_decay(1 - shrink))             # - (1 - shrink) w

    * optax: ``optax.fromage`` with the same arguments and values (optax writes the last link
      as ``add_decayed_weights(shrink - 1)``, the same numbers).

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      min_norm: floor on both norms of the trust ratio.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.fromage(0.75)
      >>> w = jnp.array([3.0, 4.0])
      >>> new = optax.apply_updates(w, tx.update(2 * w, tx.init(w), w)[0])
      >>> jnp.round(new, 4)  # (w - 0.75 w) / 1.25: the norm is kept
      Array([0.6, 0.8], dtype=float32)

    References:
      Bernstein et al., *On the distance between two neural networks and the stability of
      learning*, NeurIPS 2020.
    """
    rate: Any
    decay: Any
    if callable(learning_rate):
        schedule = learning_rate

        def shrink(step):  # 1 / sqrt(1 + alpha_t^2)
            return 1 / jnp.sqrt(1 + jnp.asarray(schedule(step), jnp.float32) ** 2)

        def rate_at(step):
            return shrink(step) * jnp.asarray(schedule(step), jnp.float32)

        def decay_at(step):
            return 1 - shrink(step)

        rate, decay = rate_at, decay_at

    else:
        constant = 1 / (1 + learning_rate**2) ** 0.5
        rate, decay = learning_rate * constant, 1 - constant
    return _chain(
        scale_by_trust_ratio(min_norm),
        scale_by_learning_rate(rate),
        decoupled_weight_decay(decay),
    )
