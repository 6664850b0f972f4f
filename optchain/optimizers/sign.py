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
      finite_guard: wrap in :func:`skip_nonfinite` (see :func:`named_optimizer`).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` (a :func:`counted_chain`).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.sign_sgd(0.1, wd_lh=0.5)
      >>> w = jnp.array([1.0, -1.0]); state = tx.init(w)
      >>> u, state = tx.update(jnp.array([3.0, -0.2]), state, w)  # 0.1 * (sign(g) + 0.5 w)
      >>> optax.apply_updates(w, u)
      Array([ 0.85, -0.85], dtype=float32)

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
      finite_guard: wrap in :func:`skip_nonfinite` (see :func:`named_optimizer`).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` (a :func:`counted_chain`).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.signum(0.1)
      >>> w = jnp.array([1.0, -1.0]); state = tx.init(w)
      >>> u, state = tx.update(jnp.array([3.0, -0.2]), state, w)
      >>> optax.apply_updates(w, u), optax.tree.get(state, "ema")
      (Array([ 0.9, -0.9], dtype=float32), Array([ 0.3 , -0.02], dtype=float32))

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

    Args:
      finite_guard: wrap in :func:`skip_nonfinite` (see :func:`named_optimizer`).

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
