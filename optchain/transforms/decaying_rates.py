"""Step sizes that decay by a rule of their own: averaged SGD's
:math:`\\eta_t = \\alpha / (1 + \\lambda \\alpha t)^p`."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

__all__ = ["scale_by_asgd_rate", "ScaleByAsgdRateState"]


@_core.shares_count()
class ScaleByAsgdRateState(NamedTuple):
    """State of :func:`scale_by_asgd_rate`: the step counter :math:`t` the rate decays with."""

    count: jax.Array


def scale_by_asgd_rate(
    learning_rate: _core.ScalarOrSchedule,
    lambd: _core.ScalarOrSchedule = 1e-4,
    alpha: _core.ScalarOrSchedule = 0.75,
) -> optax.GradientTransformation:
    r"""Averaged SGD's decaying descent step: :math:`u \mapsto -\eta_t u`, :math:`\eta_t = \alpha_t / (1 + \lambda \alpha_t t)^p`.

    :math:`t` is the number of earlier updates (0 on the first, so the first step is
    :math:`\alpha_0`), :math:`\alpha_t` the learning rate, :math:`\lambda` = ``lambd`` and
    :math:`p` = ``alpha`` (torch.optim.ASGD's names): the rate of Xu's averaged SGD, which
    :func:`optchain.asgd` chains after ``add_decayed_weights(lambd)`` (the shrink
    :math:`-\lambda \eta_t w`) and before :func:`polyak_average`. Computed in float32.

    Args:
      learning_rate: :math:`\alpha \ge 0`, a number or a schedule.
      lambd: :math:`\lambda \ge 0`, the decay term, or a schedule.
      alpha: :math:`p \ge 0`, the power of the decay, or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByAsgdRateState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_asgd_rate(0.5, lambd=2.0, alpha=1.0)
      >>> state = tx.init(jnp.zeros(1))
      >>> for _ in range(3):  # eta_t = 0.5 / (1 + t): 0.5, 0.25, 1/6
      ...     u, state = tx.update(jnp.ones(1), state)
      >>> u
      Array([-0.16666667], dtype=float32)

    References:
      Xu, *Towards Optimal One Pass Large Scale Learning with Averaged Stochastic Gradient
      Descent*, arXiv:1107.2490, 2011; Polyak & Juditsky, SIAM J. Control Optim. 1992.
    """
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0)
    _core.check_hyperparameter("lambd", lambd, low=0.0)
    _core.check_hyperparameter("alpha", alpha, low=0.0)

    def rate(count):
        rate0 = jnp.asarray(_core.resolve(learning_rate, count), jnp.float32)
        lam, power = _core.resolve(lambd, count), _core.resolve(alpha, count)
        return rate0 / jnp.power(1 + lam * rate0 * count.astype(jnp.float32), power)

    return _core.counted_map(rate, lambda u, eta: _core.scale_leaf(u, -eta), ScaleByAsgdRateState)
