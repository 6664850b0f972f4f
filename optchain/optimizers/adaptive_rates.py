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

    Recipe: ``chain(add_decayed_weights(weight_decay), clip(clip_gradient),
    scale_by_ftml(learning_rate, b1, b2, eps))``. With the same hyperparameters it
    reproduces ``mx.optimizer.FTML(learning_rate, beta1=b1, beta2=b2, epsilon=eps,
    wd=weight_decay, clip_gradient=clip_gradient)`` step for step.

    References:
      Zheng & Kwok, *Follow the Moving Leader in Deep Learning*, ICML 2017.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        None if clip_gradient is None else clip(clip_gradient),
        scale_by_ftml(learning_rate, b1, b2, eps, accumulator_dtype=accumulator_dtype),
    )


@named_optimizer
def delta_bar_delta(
    learning_rate: float,
    kappa: _core.ScalarOrSchedule = 1e-3,
    phi: _core.ScalarOrSchedule = 0.1,
    theta: _core.ScalarOrSchedule = 0.7,
    *,
    accumulator_dtype: Any = None,
) -> GT:
    r"""Jacobs' delta-bar-delta: a learning rate per weight that adapts to gradient-sign agreement.

    Recipe: ``chain(scale_by_delta_bar_delta(learning_rate, kappa, phi, theta),
    scale(-1))``; ``learning_rate`` is every weight's initial rate.

    References:
      Jacobs, Neural Networks 1(4), 1988.
    """
    return _chain(
        scale_by_delta_bar_delta(
            learning_rate, kappa, phi, theta, accumulator_dtype=accumulator_dtype
        ),
        scale(-1.0),
    )


@named_optimizer
def rprop(
    learning_rate: float,
    eta_minus: _core.ScalarOrSchedule = 0.5,
    eta_plus: _core.ScalarOrSchedule = 1.2,
    min_step_size: _core.ScalarOrSchedule = 1e-6,
    max_step_size: _core.ScalarOrSchedule = 50.0,
    *,
    torch_compatible: bool = False,
) -> GT:
    r"""Rprop (iRprop-): per-element steps that grow while the gradient keeps its sign.

    Recipe: ``chain(scale_by_rprop(...), scale(-1))``. By default optax 0.2.8's values (its
    update lags one step: the first update is zero; see :func:`optchain.scale_by_rprop`).
    ``torch_compatible=True`` reproduces torch.optim.Rprop(lr, etas=(eta_minus, eta_plus),
    step_sizes=(min, max)) step for step.

    References:
      Riedmiller & Braun, ICNN 1993; Igel & Huesken 2000.
    """
    return _chain(
        scale_by_rprop(
            learning_rate,
            eta_minus,
            eta_plus,
            min_step_size,
            max_step_size,
            torch_compatible=torch_compatible,
        ),
        scale(-1.0),
    )
