"""Optimizers that extrapolate with the gradient difference: Adan and the optimistic methods."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.optimizers.adam import _adam_direction
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.extrapolation import scale_by_adan, scale_by_optimistic_gradient
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["adan", "optimistic_gradient_descent", "optimistic_adam", "optimistic_adam_v2"]


@named_optimizer
def adan(
    learning_rate: _core.ScalarOrSchedule,
    b1: float = 0.98,
    b2: float = 0.92,
    b3: float = 0.99,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 1e-8,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mask: Any = None,
) -> GT:
    r"""Adan: Nesterov-style momentum from debiased moments of the gradient and its difference.

    :math:`w \leftarrow w - \alpha \bigl((\hat m_t + (1-\beta_2)\hat v_t) / (\sqrt{\hat n_t +
    \bar\epsilon} + \epsilon) + \lambda w\bigr)` with the moments of :func:`scale_by_adan`.
    Recipe::

        counted_chain(
            scale_by_adan(b1, b2, b3, eps, eps_root),
            add_decayed_weights(weight_decay, mask),
            scale_by_learning_rate(learning_rate))

    * optax: ``optax.adan`` with the same arguments, values and state fields (``m``, ``v``,
      ``n``, ``g``, ``t``; ``t`` is Adan's own counter, optax's name, beside the chain's).

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1: :math:`\beta_1`, decay of the gradient average.
      b2: :math:`\beta_2`, decay of the gradient-difference average.
      b3: :math:`\beta_3`, decay of the squared look-ahead average.
      eps: :math:`\epsilon`, added outside the square root.
      eps_root: :math:`\bar\epsilon`, added inside the square root.
      weight_decay: :math:`\lambda`, decoupled from the moments, scaled by the rate.
      mask: tree of bools (or ``params -> tree``) selecting the leaves to decay.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.adan(0.1, eps_root=0.0)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]  # -0.1 * sign(g)
      Array([-0.1,  0.1], dtype=float32)

    References:
      Xie et al., *Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep
      Models*, IEEE TPAMI 2024 (arXiv:2208.06677).
    """
    return _chain(
        scale_by_adan(b1, b2, b3, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def optimistic_gradient_descent(
    learning_rate: _core.ScalarOrSchedule,
    alpha: _core.ScalarOrSchedule = 1.0,
    beta: _core.ScalarOrSchedule = 1.0,
) -> GT:
    r"""Optimistic gradient descent: :math:`w \leftarrow w - \eta\,((\alpha+\beta) g_t - \beta g_{t-1})`.

    Recipe: ``counted_chain(scale_by_optimistic_gradient(alpha, beta),
    scale_by_learning_rate(learning_rate))``. For min-max games (GANs) it damps the cycling of
    plain gradient descent-ascent.

    * optax: ``optax.optimistic_gradient_descent`` with the same arguments and values; the
      state holds ``is_initial_step`` and ``previous_gradient``. A scheduled ``alpha`` or
      ``beta`` works here (optax's signature allows one, its transform does not).

    Args:
      learning_rate: :math:`\eta`, a float or a schedule.
      alpha: :math:`\alpha \ge 0`, the weight of the current gradient.
      beta: :math:`\beta \ge 0`, the weight of the extrapolation :math:`g_t - g_{t-1}`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.optimistic_gradient_descent(0.1)
      >>> u, state = tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))
      >>> tx.update(jnp.array([2.0]), state)[0]  # -0.1 * (2 * 2 - 1)
      Array([-0.3], dtype=float32)

    References:
      Daskalakis et al., *Training GANs with Optimism*, ICLR 2018.
    """
    return _chain(scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(learning_rate))


@named_optimizer
def optimistic_adam_v2(
    learning_rate: _core.ScalarOrSchedule,
    *,
    alpha: _core.ScalarOrSchedule = 1.0,
    beta: _core.ScalarOrSchedule = 1.0,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-08,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    nesterov: bool = True,
    nu_dtype: Any = None,
) -> GT:
    r"""Optimistic Adam: the optimistic extrapolation of Adam's direction :math:`d_t`.

    :math:`w \leftarrow w - \eta\,((\alpha+\beta) d_t - \beta d_{t-1})`, :math:`d_t` the
    (NAdam, with ``nesterov=True``) direction of :func:`scale_by_adam`. Recipe::

        counted_chain(
            <adam direction>(b1, b2, eps, eps_root, mu_dtype, nesterov),
            scale_by_optimistic_gradient(alpha, beta),
            scale_by_learning_rate(learning_rate))

    * optax: ``optax.optimistic_adam_v2`` with the same arguments and values (``nu_dtype`` is
      extra); the state holds ``mu``, ``nu`` and ``previous_gradient``.

    Args:
      learning_rate: :math:`\eta`, a float or a schedule.
      alpha: :math:`\alpha \ge 0`, the weight of the current direction.
      beta: :math:`\beta \ge 0`, the weight of the extrapolation.
      b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`adam`.
      nesterov: NAdam's look-ahead numerator (optax's default ``True``).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.optimistic_adam_v2(0.1, nesterov=False)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]  # Adam's first step
      Array([-0.1,  0.1], dtype=float32)

    References:
      Daskalakis et al., *Training GANs with Optimism*, ICLR 2018.
    """
    return _optimistic_adam(
        learning_rate, alpha, beta, b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov
    )


def _optimistic_adam(
    learning_rate, alpha, beta, b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov
) -> GT:
    return _chain(
        _adam_direction(b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov=nesterov),
        scale_by_optimistic_gradient(alpha, beta),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def optimistic_adam(
    learning_rate: _core.ScalarOrSchedule,
    optimism: _core.ScalarOrSchedule | None = None,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-08,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    nu_dtype: Any = None,
) -> GT:
    r"""optax's first optimistic Adam: the learning rate is the extrapolation's :math:`\alpha`.

    :math:`w \leftarrow w - ((\eta+\omega) d_t - \omega d_{t-1})` with :math:`\omega` the
    ``optimism`` (``None``: :math:`\eta`). That is :func:`optimistic_adam_v2` with
    ``alpha=learning_rate, beta=optimism`` and a unit learning rate; prefer v2, where the
    learning rate scales both terms.

    * optax: ``optax.optimistic_adam`` (deprecated there) with the same arguments and values.
      optax refuses a scheduled ``learning_rate``; optchain accepts one.

    Args:
      learning_rate: :math:`\eta \ge 0`, the weight of the current direction.
      optimism: :math:`\omega \ge 0`, the weight of the extrapolation (``None``: :math:`\eta`).
      b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`adam`.
      nesterov: NAdam's look-ahead numerator (optax's default ``True``).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.optimistic_adam(0.1, nesterov=False)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]
      Array([-0.1,  0.1], dtype=float32)

    References:
      Daskalakis et al., *Training GANs with Optimism*, ICLR 2018.
    """
    beta = learning_rate if optimism is None else optimism
    return _optimistic_adam(
        1.0, learning_rate, beta, b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov
    )
