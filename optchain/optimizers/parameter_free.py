"""Parameter-free step sizes: DoG, DoWG and COCOB, as recipes in optax.contrib's form.

Each is one step-size primitive (:func:`scale_by_dog`, :func:`scale_by_dowg`,
:func:`scale_by_coin_betting`) between optional weight decay and the learning rate, in a
counted chain (one ``count``); the primitives' states keep optax's fields.
"""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.coin_betting import scale_by_coin_betting
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.distance_over_gradients import (
    check_init_step,
    scale_by_dog,
    scale_by_dowg,
)
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["cocob", "dog", "dowg", "scale_by_cocob"]


def _decay(weight_decay: Any, mask: Any) -> Any:
    """The weight decay link, always there: optax's ``weight_decay=None`` (no decay, ``mask``
    unused) is the no-op rate 0, so turning the decay on keeps every state path."""
    if weight_decay is None:
        return add_decayed_weights(0.0)
    return add_decayed_weights(weight_decay, mask)


@named_optimizer
def dog(
    learning_rate: _core.ScalarOrSchedule = 1.0,
    init_step: tuple[str, Any] = ("heuristic", 1e-6),
    eps: Any = 1e-8,
    weight_decay: Any = None,
    mask: Any = None,
) -> GT:
    r"""DoG: :math:`x_{t+1} = x_t - \alpha_t \frac{\bar r_t}{\sqrt{G_t + \epsilon}} g_t`, :math:`\bar r_t = \max_{k \le t} \lVert x_k - x_0 \rVert`, :math:`G_t = \sum_{k \le t} \lVert g_k \rVert^2`.

    Recipe: ``counted_chain(add_decayed_weights(weight_decay, mask), scale_by_dog(init_step,
    eps), scale_by_learning_rate(learning_rate))``; ``weight_decay=None`` (optax's default)
    is the no-op rate 0 and leaves ``mask`` unused (the link stays, so turning the decay on
    keeps the state's paths). The state holds optax's
    ``count``, ``is_init_step``, ``init_params``, ``max_dist`` and ``sum_sq_norm_grads``
    (see :func:`scale_by_dog` for ``init_step``; ``"heuristic"`` reads the parameters given
    to ``init``, so give it the real ones). The authors advise averaging the iterates (see
    :func:`polyak_average`).

    * optax: ``optax.contrib.dog`` with the same arguments, step for step.

    Args:
      learning_rate: :math:`\alpha_t`, a multiplier of DoG's step (1: none), or a schedule.
      init_step: ``(mode, value)``: ``("distance", r)``, ``("heuristic", a)`` (the first
        distance :math:`a (1 + \lVert x_0 \rVert)`; the authors suggest 1e-6, 1e-4 with batch
        normalization) or ``("learning_rate", eta)`` (the first step size); value > 0.
      eps: :math:`\epsilon \ge 0`, added to :math:`G_t`.
      weight_decay: :math:`\lambda \ge 0` added to the gradient as :math:`\lambda x`, or
        ``None`` for none.
      mask: a tree of bools (or a function ``params -> tree``) selecting the decayed leaves.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.dog(init_step=("learning_rate", 0.1))
      >>> x = jnp.array([1.0, 2.0])
      >>> tx.update(2 * x, tx.init(x), x)[0]  # the first step: -0.1 * g
      Array([-0.2, -0.4], dtype=float32)

    References:
      Ivgi et al., *DoG is SGD's Best Friend: A Parameter-Free Dynamic Step Size Schedule*,
      ICML 2023.
    """
    check_init_step(init_step)
    return _chain(
        _decay(weight_decay, mask),
        scale_by_dog(init_step, eps),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def dowg(
    learning_rate: _core.ScalarOrSchedule = 1.0,
    init_estim_sq_dist: Any = None,
    eps: Any = 1e-4,
    weight_decay: Any = None,
    mask: Any = None,
) -> GT:
    r"""DoWG: :math:`x_{t+1} = x_t - \alpha_t \frac{\bar r_t^2}{\sqrt{W_t} + \epsilon} g_t`, :math:`\bar r_t^2 = \max_{k \le t} \lVert x_k - x_0 \rVert^2`, :math:`W_t = \sum_{k \le t} \bar r_k^2 \lVert g_k \rVert^2`.

    Recipe: ``counted_chain(add_decayed_weights(weight_decay, mask),
    scale_by_dowg(init_estim_sq_dist, eps), scale_by_learning_rate(learning_rate))``;
    ``weight_decay=None`` is the no-op rate 0 (``mask`` unused), as in :func:`dog`. The
    state holds optax's
    ``count``, ``init_params``, ``weighted_sq_norm_grads`` and ``estim_sq_dist``.

    * optax: ``optax.contrib.dowg`` with the same arguments, step for step.

    Args:
      learning_rate: :math:`\alpha_t`, a multiplier of DoWG's step (1: none), or a schedule.
      init_estim_sq_dist: :math:`\bar r_0^2 > 0`, a guess of the squared distance to the
        solution; ``None``: ``eps``.
      eps: :math:`\epsilon \ge 0`, added to :math:`\sqrt{W_t}`.
      weight_decay: :math:`\lambda \ge 0` added to the gradient as :math:`\lambda x`, or
        ``None`` for none.
      mask: a tree of bools (or a function ``params -> tree``) selecting the decayed leaves.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.dowg(init_estim_sq_dist=1.0, eps=0.0)
      >>> x = jnp.array([3.0, 4.0])
      >>> tx.update(x, tx.init(x), x)[0]  # -1 / (1 * ||g||) * g
      Array([-0.6, -0.8], dtype=float32)

    References:
      Khaled et al., *DoWG Unleashed: An Efficient Universal Parameter-Free Gradient Descent
      Method*, NeurIPS 2023.
    """
    return _chain(
        _decay(weight_decay, mask),
        scale_by_dowg(init_estim_sq_dist, eps),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def scale_by_cocob(alpha: Any = 100.0, eps: Any = 1e-8) -> GT:
    r"""COCOB-Backprop's move: :math:`u = x_0 + \frac{\theta_t}{L_t \max(G_t + L_t, \alpha L_t)} (L_t + R_t) - x_t` per coordinate (see :func:`scale_by_coin_betting`).

    Recipe: ``counted_chain(scale_by_coin_betting(alpha, eps))``. The output is added to the
    parameters as it is. The state holds optax's ``init_particles``,
    ``cumulative_gradients``, ``scale``, ``subgradients`` and ``reward``, and the chain's
    ``count``. Complex parameters are rejected (coin betting is per real coordinate).

    * optax: ``optax.contrib.scale_by_cocob`` with the same arguments, step for step.

    Args:
      alpha: :math:`\alpha \ge 0`, caps the fraction of the wealth bet early on.
      eps: :math:`\epsilon \ge 0`, the initial :math:`L_0`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.scale_by_cocob()
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(x), x)[0]  # -sign(g) / max(2, alpha)
      Array([-0.01,  0.01], dtype=float32)

    References:
      Orabona & Tommasi, *Training Deep Networks without Learning Rates Through Coin Betting*,
      NeurIPS 2017 (Algorithm 2).
    """
    return _chain(scale_by_coin_betting(alpha, eps))


@named_optimizer
def cocob(
    learning_rate: _core.ScalarOrSchedule = 1.0,
    alpha: Any = 100.0,
    eps: Any = 1e-8,
    weight_decay: Any = 0.0,
    mask: Any = None,
) -> GT:
    r"""COCOB-Backprop: :math:`x_{t+1} = x_0 + \frac{\theta_t}{L_t \max(G_t + L_t, \alpha L_t)} (L_t + R_t)`, coin betting on :math:`\tilde g_t = \alpha_t (g_t + \lambda x_t)`.

    Recipe: ``counted_chain(add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate, flip_sign=False), scale_by_coin_betting(alpha,
    eps))``: as in optax, the learning rate scales the gradient the bettor sees (it is no
    step size), and the decay link stays at ``weight_decay=0``. The state holds the chain's
    ``count`` and optax's ``init_particles``, ``cumulative_gradients``, ``scale``,
    ``subgradients`` and ``reward`` (see :func:`scale_by_coin_betting`). Complex parameters
    are rejected.

    * optax: ``optax.contrib.cocob`` with the same arguments, step for step.

    Args:
      learning_rate: :math:`\alpha_t`, a multiplier of the gradient, or a schedule.
      alpha: :math:`\alpha \ge 0`, caps the fraction of the wealth bet early on.
      eps: :math:`\epsilon \ge 0`, the initial :math:`L_0`.
      weight_decay: :math:`\lambda \ge 0`, L2 added to the gradient.
      mask: a tree of bools (or a function ``params -> tree``) selecting the decayed leaves.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.cocob(alpha=4.0)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(x), x)[0]  # -sign(g) / max(2, alpha)
      Array([-0.25,  0.25], dtype=float32)

    References:
      Orabona & Tommasi, *Training Deep Networks without Learning Rates Through Coin Betting*,
      NeurIPS 2017 (Algorithm 2).
    """
    return _chain(
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate, flip_sign=False),
        scale_by_coin_betting(alpha, eps),
    )
