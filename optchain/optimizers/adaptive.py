"""Per-coordinate adaptive scaling by accumulated squares: AdaGrad, RMSprop, AdaDelta."""

from __future__ import annotations

from typing import Any

import optax

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.accumulators import scale_by_adadelta, scale_by_sum_of_squares
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.moments import momentum as heavy_ball
from optchain.transforms.rms import scale_by_rms, scale_by_stddev
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["adagrad", "rmsprop", "adadelta", "scale_by_rss"]


@named_optimizer
def adagrad(
    learning_rate: _core.ScalarOrSchedule,
    initial_accumulator_value: float = 0.1,
    eps: _core.ScalarOrSchedule = 1e-7,
    *,
    eps_in_sqrt: bool = True,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    accumulator_dtype: Any = None,
) -> GT:
    r"""AdaGrad: :math:`s_t = s_{t-1} + g_t^2`, :math:`w \leftarrow w - \alpha g_t / \sqrt{s_t + \epsilon}`.

    Recipe: ``chain(add_decayed_weights(weight_decay), scale_by_sum_of_squares(...),
    scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.adagrad`` defaults.
    * torch.optim.Adagrad(lr, eps=1e-10): ``adagrad(lr, initial_accumulator_value=0.0,
      eps=1e-10, eps_in_sqrt=False)``; torch's ``lr_decay`` is the schedule
      ``lambda t: lr / (1 + t * lr_decay)``.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      initial_accumulator_value: initial :math:`s_0`.
      eps: :math:`\epsilon`.
      eps_in_sqrt: add :math:`\epsilon` inside the square root (optax) or outside (torch).
      weight_decay: coupled L2 coefficient added to the gradient.
      accumulator_dtype: dtype of :math:`s` (``None``: the parameter's dtype).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-10, eps_in_sqrt=False)
      >>> state = tx.init(jnp.zeros(1))  # torch.optim.Adagrad's defaults
      >>> for _ in range(2):  # the steps shrink as 1 / sqrt(t)
      ...     u, state = tx.update(jnp.array([2.0]), state)
      ...     print(u)
      [-0.1]
      [-0.0707107]

    References:
      Duchi et al., JMLR 2011.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        scale_by_sum_of_squares(
            initial_accumulator_value,
            eps,
            eps_in_sqrt=eps_in_sqrt,
            accumulator_dtype=accumulator_dtype,
        ),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def rmsprop(
    learning_rate: _core.ScalarOrSchedule,
    decay: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: _core.ScalarOrSchedule | None = None,
    nesterov: bool = False,
    bias_correction: bool = False,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    accumulator_dtype: Any = None,
) -> GT:
    r"""RMSprop: :math:`w \leftarrow w - \alpha g_t / \sqrt{\nu_t + \epsilon}` (centered: :math:`\nu_t - \mu_t^2`).

    ``bias_correction`` (optax's) debiases :math:`\nu` (and :math:`\mu`) by
    :math:`1-\rho^t`. Momentum, if given, accumulates the *scaled* step (after the learning rate), as in
    optax and torch. Recipe: ``chain(add_decayed_weights, scale_by_rms | scale_by_stddev,
    scale_by_learning_rate, momentum)``.

    * optax: ``optax.rmsprop`` with the same arguments.
    * torch.optim.RMSprop(lr, alpha, eps, weight_decay, momentum, centered):
      ``rmsprop(lr, decay=alpha, eps=eps, eps_in_sqrt=False, centered=centered,
      momentum=momentum or None, weight_decay=weight_decay)``.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      decay: :math:`\rho`, the decay of :math:`\nu` (torch's ``alpha``).
      eps: :math:`\epsilon`.
      initial_scale: initial :math:`\nu_0` (torch 0, TF1 1).
      eps_in_sqrt: add :math:`\epsilon` inside the square root (optax) or outside (torch).
      centered: subtract the squared mean :math:`\mu_t^2`.
      momentum: heavy-ball coefficient, or ``None`` for no momentum link.
      nesterov: Nesterov momentum.
      bias_correction: debias :math:`\nu` (and :math:`\mu`).
      weight_decay: coupled L2 coefficient added to the gradient.
      accumulator_dtype: dtype of :math:`\nu` and :math:`\mu` (``None``: the parameter's).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.rmsprop(0.1, decay=0.5, eps=0.0, centered=True)
      >>> u, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> u, optax.tree.get(state, "mu"), optax.tree.get(state, "nu")  # 0.2 / sqrt(2 - 1)
      (Array([-0.2], dtype=float32), Array([1.], dtype=float32), Array([2.], dtype=float32))

    References:
      Tieleman & Hinton 2012; Graves 2013 (centered).
    """
    scaler = scale_by_stddev if centered else scale_by_rms
    return _chain(
        add_decayed_weights(weight_decay),
        scaler(
            decay,
            eps,
            eps_in_sqrt=eps_in_sqrt,
            initial_scale=initial_scale,
            bias_correction=bias_correction,
            accumulator_dtype=accumulator_dtype,
        ),
        scale_by_learning_rate(learning_rate),
        None if momentum is None else heavy_ball(momentum, nesterov=nesterov),
    )


@named_optimizer
def adadelta(
    learning_rate: _core.ScalarOrSchedule = 1.0,
    rho: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-6,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = None,
    *,
    accumulator_dtype: Any = None,
) -> GT:
    r"""AdaDelta: :math:`w \leftarrow w - \alpha\, g_t \sqrt{E[\Delta^2]_{t-1} + \epsilon} / \sqrt{E[g^2]_t + \epsilon}`.

    Recipe: ``chain(add_decayed_weights(weight_decay, weight_decay_mask),
    scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.adadelta`` with the same arguments (optax's default learning
      rate is ``None``; here it is torch's and Zeiler's 1.0).
    * torch.optim.Adadelta(lr, rho, eps, weight_decay): the same arguments.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      rho: decay of both running averages.
      eps: :math:`\epsilon`.
      weight_decay: coupled L2 coefficient added to the gradient.
      weight_decay_mask: tree of bools (or a function ``params -> tree``) selecting leaves to decay.
      accumulator_dtype: dtype of both averages (``None``: the parameter's dtype).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.adadelta()
      >>> u, state = tx.update(jnp.array([1.0, -1.0]), tx.init(jnp.zeros(2)))
      >>> u, optax.tree.get(state, "e_x")  # sqrt(1e-6 / (0.1 + 1e-6)), then its square / 10
      (Array([-0.00316,  0.00316], dtype=float32), Array([1.e-06, 1.e-06], dtype=float32))

    References:
      Zeiler 2012.
    """
    return _chain(
        add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_adadelta(rho, eps, accumulator_dtype=accumulator_dtype),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def scale_by_rss(
    initial_accumulator_value: float = 0.1, eps: _core.ScalarOrSchedule = 1e-7
) -> optax.GradientTransformation:
    r"""optax's ``scale_by_rss`` (AdaGrad's scaling): :math:`g_t / \sqrt{\sum_{i \le t} |g_i|^2 + \epsilon}`.

    :func:`scale_by_sum_of_squares` with optax's arguments (state field ``sum_of_squares``).

    Args:
      initial_accumulator_value: initial sum :math:`s_0 \ge 0`.
      eps: :math:`\epsilon`, inside the square root.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleBySumOfSquaresState`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.scale_by_rss()
      >>> _, state = tx.update(jnp.array([3.0]), tx.init(jnp.zeros(1)))
      >>> optax.tree.get(state, "sum_of_squares")  # optax's initial 0.1, plus 3 ** 2
      Array([9.1], dtype=float32)

    References:
      Duchi et al., JMLR 2011; ``optax.scale_by_rss``.
    """
    return scale_by_sum_of_squares(initial_accumulator_value, eps)
