"""Sign-compressed steps: signSGD and Signum."""

from __future__ import annotations

from typing import Any

import optax

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.moments import ema
from optchain.transforms.scaling import scale_by_learning_rate
from optchain.transforms.sign import sign

__all__ = ["sign_sgd", "signum", "scale_by_sign"]


@named_optimizer
def sign_sgd(
    learning_rate: _core.ScalarOrSchedule,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    wd_lh: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""signSGD: :math:`w \leftarrow w - \alpha \operatorname{sign}(g_t + \lambda w) - \alpha \lambda_{lh} w`.

    Recipe: ``chain(add_decayed_weights(weight_decay), sign(),
    add_decayed_weights(wd_lh), scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.sign_sgd``.
    * MXNet ``Signum(learning_rate, momentum=0, wd=wd)`` (its ``signsgd_update``):
      ``sign_sgd(lr, wd_lh=wd)``: with zero momentum MXNet's ``wd`` shrinks the weights
      by ``lr * wd`` after the sign instead of entering it.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      weight_decay: :math:`\lambda`, added to the gradient before the sign.
      wd_lh: :math:`\lambda_{lh}`, added after the sign (MXNet's ``wd`` here).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.sign_sgd(0.1, wd_lh=0.5)
      >>> w = jnp.array([1.0, -1.0])
      >>> tx.update(jnp.array([3.0, -0.2]), tx.init(w), w)[0]  # -0.1 * (sign(g) + 0.5 w)
      Array([-0.15,  0.15], dtype=float32)

    References:
      Bernstein et al., ICML 2018.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        sign(),
        add_decayed_weights(wd_lh),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def signum(
    learning_rate: _core.ScalarOrSchedule,
    beta: _core.ScalarOrSchedule = 0.9,
    accumulator_dtype: Any = None,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    wd_lh: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""Signum: :math:`m_t = \beta m_{t-1} + (1-\beta)(g_t + \lambda w)`, :math:`w \leftarrow w - \alpha (\operatorname{sign}(m_t) + \lambda_{lh} w)`.

    Recipe: ``chain(add_decayed_weights(weight_decay), ema(beta, debias=False), sign(),
    add_decayed_weights(wd_lh), scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.signum(learning_rate, beta)``.
    * MXNet ``Signum(learning_rate, momentum=beta, wd=weight_decay, wd_lh=wd_lh)``:
      the same values, step for step.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      beta: momentum decay :math:`\beta`.
      accumulator_dtype: dtype of :math:`m` (``None``: the parameter's dtype).
      weight_decay: :math:`\lambda`, added to the gradient before the momentum.
      wd_lh: :math:`\lambda_{lh}`, added after the sign.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.signum(0.1, beta=0.5)
      >>> state = tx.init(jnp.zeros(1))
      >>> for g in (1.0, -0.5, -2.0):  # the step follows the sign of the average
      ...     u, state = tx.update(jnp.array([g]), state)
      ...     print(u, optax.tree.get(state, "ema"))
      [-0.1] [0.5]
      [-0.] [0.]
      [0.1] [-1.]

    References:
      Bernstein et al., *signSGD: Compressed Optimisation for Non-Convex Problems*,
      ICML 2018.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
        sign(),
        add_decayed_weights(wd_lh),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def scale_by_sign() -> optax.GradientTransformation:
    r"""optax's ``scale_by_sign``: :math:`u \mapsto \operatorname{sign}(u)` (:func:`sign`;
    complex updates become :math:`u / |u|`, optax's convention).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`SignState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_sign()
      >>> tx.update(jnp.array([-0.5, 2.0]), tx.init(None))[0]
      Array([-1.,  1.], dtype=float32)

    References:
      Bernstein et al., ICML 2018; ``optax.scale_by_sign``.
    """
    return sign()
