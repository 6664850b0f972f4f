"""RAdam: Adam whose denominator is rectified while the variance of the adaptive rate is
intractable, as recipes in optax's form and, through documented keywords, torch's."""

from __future__ import annotations

import jax.numpy as jnp

from optchain import _core
from optchain.combine import divide
from optchain.optimizers._common import GT, _chain, _inner, named_optimizer
from optchain.optimizers.adam_like import _debiased_first_moment
from optchain.transforms.adaptive_moments import radam_rectification
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.moments import bias_correction, second_moment
from optchain.transforms.scaling import scale_by_learning_rate, sqrt

__all__ = ["radam", "scale_by_radam"]


def _debiased_eps(eps: _core.ScalarOrSchedule, b2: _core.ScalarOrSchedule) -> _core.Schedule:
    """torch's ``(sqrt(v) + eps) / sqrt(1 - b2**t)`` is ``sqrt(v_hat) + eps / sqrt(1 - b2**t)``:
    the epsilon schedule that puts optax's ``eps`` where torch has it (b2 and eps of this step;
    :math:`t` = ``count + 1``)."""

    def schedule(count):
        t = _core.next_count(count).astype(jnp.float32)
        beta = _core.as_scalar(_core.resolve(b2, count), jnp.float32)
        return _core.resolve(eps, count) / jnp.sqrt(1 - jnp.power(beta, t))

    return schedule


def _radam_direction(b1, b2, eps, eps_root, threshold, nesterov, eps_before_debias=False) -> GT:
    """RAdam's direction: Adam's ratio over the rectified denominator (``eps`` inside it; with
    ``eps_before_debias``, torch's placement)."""
    if eps_before_debias:
        eps = _debiased_eps(eps, b2)
    denominator = _inner(
        second_moment(b2),
        bias_correction(b2),
        sqrt(eps_root),
        radam_rectification(b2, eps, threshold),
    )
    return divide(_debiased_first_moment(b1, nesterov=nesterov), denominator)


@named_optimizer
def scale_by_radam(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    threshold: float = 5.0,
    *,
    nesterov: bool = False,
) -> GT:
    r"""optax's ``scale_by_radam`` as a chain: :math:`r_t \hat m_t / (\sqrt{\hat v_t + \bar\epsilon} + \epsilon)` once :math:`\rho_t \ge` ``threshold``, :math:`\hat m_t` before.

    Recipe: ``counted_chain(divide(chain(first_moment(b1), bias_correction(b1)),
    chain(second_moment(b2), bias_correction(b2), sqrt(eps_root), radam_rectification(b2, eps,
    threshold))))``: the rectification (see :func:`radam_rectification`) is one link after
    Adam's denominator. ``nesterov=True`` uses NAdam's numerator. The state holds optax's
    ``count``, ``mu`` and ``nu``.

    Args:
      b1, b2, eps, eps_root: as in :func:`adam`.
      threshold: :math:`\rho_{min}`: below it the step is the debiased momentum alone.
      nesterov: use NAdam's look-ahead numerator.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_radam()
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0].round(4)  # early: m_hat = g
      Array([ 2. , -0.5], dtype=float32)

    References:
      Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond*, ICLR 2020.
    """
    return _chain(_radam_direction(b1, b2, eps, eps_root, threshold, nesterov))


@named_optimizer
def radam(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    threshold: float = 5.0,
    *,
    nesterov: bool = False,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    decoupled_weight_decay: bool = False,
    eps_before_debias: bool = False,
) -> GT:
    r"""RAdam: :math:`w \leftarrow w - \alpha\, r_t \hat m_t / (\sqrt{\hat v_t} + \epsilon)` once the variance of the rate is tractable, :math:`w - \alpha \hat m_t` before.

    Recipe: :func:`scale_by_radam` then ``scale_by_learning_rate(learning_rate)``; the state
    holds optax's ``count``, ``mu`` and ``nu``. ``add_decayed_weights(weight_decay)`` comes
    first (coupled L2, a no-op by default, as in :func:`adam`) or, with
    ``decoupled_weight_decay``, after the direction (scaled by the learning rate, torch's
    ``param *= 1 - lr * weight_decay``).
    ``eps_before_debias`` adds :math:`\epsilon` to :math:`\sqrt{v_t}` before the bias
    correction divides it, as torch does: the rectification's epsilon is then the schedule
    :math:`\epsilon / \sqrt{1-\beta_2^t}`.

    * optax: ``optax.radam`` with the same arguments.
    * torch.optim.RAdam(lr, betas=(b1, b2), eps, weight_decay, decoupled_weight_decay):
      ``radam(lr, b1, b2, eps, weight_decay=weight_decay, decoupled_weight_decay=...,
      eps_before_debias=True)``, step for step. torch rectifies where :math:`\rho_t > 5`, here
      :math:`\rho_t \ge 5`: the same steps unless :math:`\rho_t` is exactly 5.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1, b2, eps, eps_root, threshold, nesterov: as in :func:`scale_by_radam`.
      weight_decay: :math:`\lambda \ge 0` (torch's ``weight_decay``).
      decoupled_weight_decay: decay after the direction instead of adding :math:`\lambda w`
        to the gradient.
      eps_before_debias: torch's placement of :math:`\epsilon` instead of optax's.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.radam(0.5)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0].round(4)  # -0.5 * m_hat
      Array([-1.  ,  0.25], dtype=float32)

    References:
      Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond*, ICLR 2020.
    """
    decay = add_decayed_weights(weight_decay)
    return _chain(
        None if decoupled_weight_decay else decay,
        _radam_direction(b1, b2, eps, eps_root, threshold, nesterov, eps_before_debias),
        decay if decoupled_weight_decay else None,
        scale_by_learning_rate(learning_rate),
    )
