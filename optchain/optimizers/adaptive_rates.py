"""Per-weight step-size rules: FTML, delta-bar-delta, Rprop."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.adaptive_rates import (
    scale_by_delta_bar_delta,
    scale_by_ftml,
    scale_by_rprop,
)
from optchain.transforms.clipping import clip
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.scaling import scale

__all__ = ["ftml", "delta_bar_delta", "rprop"]


@named_optimizer
def ftml(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.6,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    clip_gradient: _core.ScalarOrSchedule | None = None,
    accumulator_dtype: Any = None,
) -> GT:
    r"""Follow the Moving Leader (Zheng & Kwok 2017), as Apache MXNet's ``FTML``.

    :math:`w_{t+1} = -z_t / d_t`, with :math:`z_t, d_t` as in :func:`scale_by_ftml`.
    Recipe: ``chain(add_decayed_weights(weight_decay), clip(clip_gradient),
    scale_by_ftml(learning_rate, b1, b2, eps))``. With the same hyperparameters it
    reproduces ``mx.optimizer.FTML(learning_rate, beta1=b1, beta2=b2, epsilon=eps,
    wd=weight_decay, clip_gradient=clip_gradient)`` step for step.

    Args:
      learning_rate: :math:`\alpha_t`, a float or a schedule.
      b1: :math:`\beta_1`.
      b2: :math:`\beta_2`.
      eps: :math:`\epsilon`.
      weight_decay: coupled L2 coefficient (MXNet's ``wd``).
      clip_gradient: clip each gradient element to :math:`[-c, c]` first (``None``: no clip).
      accumulator_dtype: dtype of :math:`d, v, z` (``None``: the parameter's dtype).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.ftml(0.1)
      >>> w = jnp.array([1.0]); state = tx.init(w)
      >>> for _ in range(3):  # three steps on w ** 2 / 2
      ...     u, state = tx.update(w, state, w)
      ...     w = optax.apply_updates(w, u)
      >>> w
      Array([0.79403], dtype=float32)

    References:
      Zheng & Kwok, *Follow the Moving Leader in Deep Learning*, ICML 2017.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        None if clip_gradient is None else clip(clip_gradient),
        scale_by_ftml(learning_rate, b1, b2, eps, accumulator_dtype=accumulator_dtype),
    )


@named_optimizer
@_core.same_signature_as(scale_by_delta_bar_delta)
def delta_bar_delta(**arguments: Any) -> GT:
    r"""Jacobs' delta-bar-delta: a learning rate per weight that adapts to gradient-sign agreement.

    :math:`w \leftarrow w - \epsilon_t g_t`; :math:`\epsilon_t` grows by :math:`\kappa` where
    :math:`\bar\delta_{t-1} g_t > 0` and by the factor :math:`1-\phi` where it is negative
    (:math:`\bar\delta`: EMA of gradients; see :func:`scale_by_delta_bar_delta`).
    Recipe: ``chain(scale_by_delta_bar_delta(learning_rate, kappa, phi, theta),
    scale(-1))``; ``learning_rate`` is every weight's initial rate.

    Args:
      learning_rate: initial rate :math:`\epsilon_0 > 0` (a float, not a schedule).
      kappa: additive increment :math:`\kappa`.
      phi: multiplicative decrement :math:`\phi`.
      theta: EMA factor :math:`\theta` of :math:`\bar\delta`.
      accumulator_dtype: dtype of rates and EMA (``None``: the parameter's dtype).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.delta_bar_delta(0.1, kappa=0.05)
      >>> state = tx.init(jnp.zeros(2))
      >>> for g in ([1.0, 1.0], [1.0, -1.0], [1.0, 1.0]):  # the second weight's sign flips
      ...     u, state = tx.update(jnp.array(g), state)
      >>> optax.tree.get(state, "rates")
      Array([0.2  , 0.081], dtype=float32)

    References:
      Jacobs, Neural Networks 1(4), 1988.
    """
    return _chain(scale_by_delta_bar_delta(**arguments), scale(-1.0))


@named_optimizer
@_core.same_signature_as(scale_by_rprop)
def rprop(**arguments: Any) -> GT:
    r"""Rprop (iRprop-): per-element steps that grow while the gradient keeps its sign.

    :math:`w \leftarrow w - \Delta_t \operatorname{sign}(g_t)`, :math:`\Delta_t` the previous
    step size times :math:`\eta_+` (same sign) or :math:`\eta_-` (sign flip, then no step),
    clipped to the bounds.
    Recipe: ``chain(scale_by_rprop(...), scale(-1))``. By default optax 0.2.8's values (its
    update lags one step: the first update is zero; see :func:`optchain.scale_by_rprop`).
    ``torch_compatible=True`` reproduces torch.optim.Rprop(lr, etas=(eta_minus, eta_plus),
    step_sizes=(min, max)) step for step.

    Args:
      learning_rate: initial step size :math:`\Delta_0 > 0` (a float, not a schedule).
      eta_minus: decrease factor :math:`\eta_-` in (0, 1].
      eta_plus: increase factor :math:`\eta_+ \ge 1`.
      min_step_size: lower bound on :math:`\Delta`.
      max_step_size: upper bound on :math:`\Delta`.
      torch_compatible: torch's rule (no one-step lag) instead of optax's.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> g = jnp.array([1.0, -1.0])
      >>> lagged, torch_like = optchain.rprop(0.1), optchain.rprop(0.1, torch_compatible=True)
      >>> lagged.update(g, lagged.init(g))[0], torch_like.update(g, torch_like.init(g))[0]
      (Array([-0., -0.], dtype=float32), Array([-0.1,  0.1], dtype=float32))

    References:
      Riedmiller & Braun, ICNN 1993; Igel & Huesken 2000.
    """
    return _chain(scale_by_rprop(**arguments), scale(-1.0))
