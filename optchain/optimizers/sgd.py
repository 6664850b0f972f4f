"""Stochastic gradient descent: plain, with heavy-ball or Nesterov momentum, and with annealed gradient noise."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.moments import momentum as heavy_ball
from optchain.transforms.noise import add_noise
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["sgd", "noisy_sgd"]


@named_optimizer
def sgd(
    learning_rate: _core.ScalarOrSchedule,
    momentum: _core.ScalarOrSchedule | None = None,
    nesterov: bool = False,
    accumulator_dtype: Any = None,
    *,
    dampening: _core.ScalarOrSchedule = 0.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""Stochastic gradient descent, with optional heavy-ball or Nesterov momentum.

    :math:`g \leftarrow g + \lambda w`; :math:`b_t = \mu b_{t-1} + (1-\tau) g_t`;
    :math:`w \leftarrow w - \alpha (g_t + \mu b_t)` with Nesterov, else :math:`w - \alpha b_t`.

    Recipe: ``chain(add_decayed_weights(weight_decay), momentum(momentum, dampening,
    nesterov), scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.sgd`` with the same arguments.
    * torch.optim.SGD(lr, momentum, dampening, weight_decay, nesterov): the same
      arguments (``weight_decay`` is coupled, as in torch).
    * MXNet ``NAG(learning_rate, momentum)``: ``sgd(lr, momentum, nesterov=True)``.
      MXNet 1.9.1's NAG with ``wd > 0`` agrees with this (and with torch) on the first
      step only; its later steps are not reproduced.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      momentum: :math:`\mu`, or ``None`` for no momentum link.
      nesterov: use the Nesterov look-ahead :math:`g_t + \mu b_t`.
      accumulator_dtype: dtype of :math:`b` (``None``: the parameter's dtype).
      dampening: torch's :math:`\tau`.
      weight_decay: coupled L2 coefficient :math:`\lambda`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.sgd(0.1, momentum=0.9, nesterov=True)
      >>> state = tx.init(jnp.zeros(1))
      >>> for _ in range(2):  # -0.1 * (g + 0.9 b): b is 1, then 1.9
      ...     u, state = tx.update(jnp.ones(1), state)
      ...     print(u)
      [-0.19]
      [-0.271]
      >>> optax.tree.get(state, "trace")
      Array([1.9], dtype=float32)

    References:
      Robbins & Monro 1951; Polyak 1964; Sutskever et al., ICML 2013.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        None
        if momentum is None
        else heavy_ball(
            momentum, dampening=dampening, nesterov=nesterov, accumulator_dtype=accumulator_dtype
        ),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def noisy_sgd(
    learning_rate: _core.ScalarOrSchedule,
    eta: _core.ScalarOrSchedule = 0.01,
    gamma: _core.ScalarOrSchedule = 0.55,
    key: Any = None,
    *,
    seed: int | None = None,
) -> GT:
    r"""SGD with annealed Gaussian noise: :math:`w \leftarrow w - \alpha (g_t + N(0, \eta/(1+t)^\gamma))`.

    Recipe: ``chain(add_noise(eta, gamma, key, seed=seed), scale_by_learning_rate(learning_rate))``.
    optax: ``optax.noisy_sgd(learning_rate, eta, gamma, key, seed=seed)`` gives the same
    trajectory (same key stream; ``key`` and ``seed`` as in optax).

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      eta: initial noise variance :math:`\eta`.
      gamma: decay exponent :math:`\gamma` of the variance.
      key: a ``jax.random`` key or an int seed (``None``: seed 0, as optax).
      seed: an int seed, instead of ``key`` (optax's older argument).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.noisy_sgd(0.1, eta=0.01, seed=0)
      >>> w = jnp.array([1.0, -1.0]); u, _ = tx.update(w, tx.init(w), w)
      >>> u2, _ = tx.update(w, tx.init(w), w)  # the key is in the state: same noise
      >>> bool(jnp.array_equal(u, u2)), bool(jnp.allclose(u, -0.1 * w, atol=0.05))
      (True, True)

    References:
      Neelakantan et al., 2015.
    """
    return _chain(add_noise(eta, gamma, key, seed=seed), scale_by_learning_rate(learning_rate))
