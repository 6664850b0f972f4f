"""Apache MXNet's remaining optimizers: FTRL-Proximal, delay-compensated SGD and SGLD."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.clipping import clip
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.langevin import add_langevin_noise
from optchain.transforms.moments import momentum as heavy_ball
from optchain.transforms.online import delay_compensation, ftrl_proximal
from optchain.transforms.scaling import scale, scale_by_learning_rate

__all__ = ["ftrl", "dcasgd", "sgld"]


@named_optimizer
def ftrl(
    learning_rate: _core.ScalarOrSchedule,
    lamda1: _core.ScalarOrSchedule = 0.01,
    beta: _core.ScalarOrSchedule = 1.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    *,
    clip_gradient: _core.ScalarOrSchedule | None = None,
    accumulator_dtype: Any = None,
) -> GT:
    r"""FTRL-Proximal (McMahan et al. 2013), as Apache MXNet's ``Ftrl``.

    :math:`w_{t+1} = (\lambda_1 \operatorname{sign}(z_t) - z_t) / ((\beta + \sqrt{n_t}) / \alpha_t + \lambda_2)`
    where :math:`|z_t| > \lambda_1`, else 0, with the accumulators :math:`z, n` of
    :func:`ftrl_proximal`. Recipe: ``chain(clip(clip_gradient), ftrl_proximal(learning_rate,
    lamda1, beta, lamda2=weight_decay))``. It reproduces ``mx.optimizer.Ftrl(learning_rate,
    lamda1=lamda1, beta=beta, wd=weight_decay, clip_gradient=clip_gradient)`` step for step
    (MXNet's ``wd`` is FTRL's L2 strength: it enters the denominator, not the gradient).
    MXNet's ``rescale_grad=r`` is ``optax.chain(optchain.scale(r), ftrl(...))``.

    Args:
      learning_rate: :math:`\alpha_t > 0` (MXNet's default is 0.1), a float or a schedule.
      lamda1: L1 strength :math:`\lambda_1 \ge 0`.
      beta: :math:`\beta \ge 0`.
      weight_decay: L2 strength :math:`\lambda_2 \ge 0` (MXNet's ``wd``).
      clip_gradient: clip each gradient element to :math:`[-c, c]` first (``None``: no clip).
      accumulator_dtype: dtype of ``z`` and ``n`` (``None``: the parameter's dtype; float32
        for float16 parameters).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.ftrl(0.1, lamda1=0.5)
      >>> w = jnp.zeros(2); state = tx.init(w)
      >>> for g in ([2.0, 0.2], [2.0, 0.2]):  # |z| of the second weight stays <= lamda1
      ...     u, state = tx.update(jnp.array(g), state, w)
      ...     w = optax.apply_updates(w, u)
      >>> w, optax.tree.get(state, "z")
      (Array([-0.10224,  0.     ], dtype=float32), Array([4.41421, 0.4    ], dtype=float32))

    References:
      McMahan et al., *Ad Click Prediction: a View from the Trenches*, KDD 2013.
    """
    return _chain(
        None if clip_gradient is None else clip(clip_gradient),
        ftrl_proximal(
            learning_rate, lamda1, beta, weight_decay, accumulator_dtype=accumulator_dtype
        ),
    )


@named_optimizer
def dcasgd(
    learning_rate: _core.ScalarOrSchedule,
    momentum: _core.ScalarOrSchedule = 0.0,
    lamda: _core.ScalarOrSchedule = 0.04,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    *,
    clip_gradient: _core.ScalarOrSchedule | None = None,
    accumulator_dtype: Any = None,
) -> GT:
    r"""Delay-compensated SGD (Zheng et al. 2017), as Apache MXNet's ``DCASGD``.

    :math:`b_t = \mu b_{t-1} + g_t + \lambda_{wd} w_t + \lambda g_t \odot g_t \odot (w_t - w_{t-1})`,
    :math:`w_{t+1} = w_t - \alpha b_t`, :math:`w_{t-1}` the parameters of the previous step
    (see :func:`delay_compensation`). Recipe: ``chain(clip(clip_gradient),
    delay_compensation(lamda), add_decayed_weights(weight_decay), momentum(momentum),
    scale_by_learning_rate(learning_rate))``; ``momentum=0`` keeps its (no-op) link.

    * MXNet ``DCASGD(learning_rate, momentum=0, lamda, wd=weight_decay,
      clip_gradient=clip_gradient)``: the same values, step for step.
    * With momentum, MXNet 1.9.1's Python ``DCASGD.update`` fails (it tests an NDArray's truth
      value, which raises for more than one element, and asserts ``momentum == 0`` when its
      one element is 0); this follows its evident intent, ``mom = momentum * mom - lr * (...)``,
      which with a constant rate is the same as the trace here (the rate outside the
      momentum; a scheduled rate scales the whole trace at each step, as in :func:`sgd`).
    * MXNet's ``rescale_grad=r``: ``optax.chain(optchain.scale(r), dcasgd(...))``.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      momentum: :math:`\mu \in [0, 1)`.
      lamda: delay-compensation strength :math:`\lambda \ge 0` (MXNet's spelling).
      weight_decay: coupled L2 coefficient :math:`\lambda_{wd}` (MXNet's ``wd``).
      clip_gradient: clip each gradient element to :math:`[-c, c]` first (``None``: no clip).
      accumulator_dtype: dtype of the momentum :math:`b` (``None``: the parameter's dtype).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.dcasgd(0.1, lamda=1.0)
      >>> w = jnp.array([1.0]); state = tx.init(w)
      >>> for _ in range(2):  # on w ** 2 / 2: the second g is 0.9 + 0.81 * (0.9 - 1)
      ...     u, state = tx.update(w, state, w)
      ...     w = optax.apply_updates(w, u)
      >>> w, optax.tree.get(state, "previous_params")
      (Array([0.8181], dtype=float32), Array([0.9], dtype=float32))

    References:
      Zheng et al., *Asynchronous Stochastic Gradient Descent with Delay Compensation*,
      ICML 2017.
    """
    return _chain(
        None if clip_gradient is None else clip(clip_gradient),
        delay_compensation(lamda),
        add_decayed_weights(weight_decay),
        heavy_ball(momentum, accumulator_dtype=accumulator_dtype),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def sgld(
    learning_rate: _core.ScalarOrSchedule,
    key: Any = None,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    clip_gradient: _core.ScalarOrSchedule | None = None,
) -> GT:
    r"""Stochastic-gradient Langevin dynamics (Welling & Teh 2011), as Apache MXNet's ``SGLD``.

    :math:`w_{t+1} = w_t - \tfrac{\alpha_t}{2}(g_t + \lambda w_t) + \xi_t`,
    :math:`\xi_t \sim N(0, \alpha_t I)`. Recipe: ``chain(clip(clip_gradient),
    add_decayed_weights(weight_decay), scale(0.5), scale_by_learning_rate(learning_rate),
    add_langevin_noise(learning_rate, key))``. The key lives in the state (same key, same
    trajectory; a restored checkpoint continues bit for bit). MXNet ``SGLD(learning_rate,
    wd=weight_decay, clip_gradient=clip_gradient)`` has the same drift and noise variance;
    its random stream is its own, so the two agree in distribution, not in values. With a
    decreasing schedule :math:`\alpha_t` (``sum alpha_t = inf``, ``sum alpha_t^2 < inf``) the
    iterates sample from the posterior :math:`\propto e^{-f}`.

    Args:
      learning_rate: :math:`\alpha_t \ge 0` (step and noise variance), a float or a schedule.
      key: a ``jax.random`` key or an int seed (``None``: seed 0).
      weight_decay: coupled L2 coefficient :math:`\lambda` (MXNet's ``wd``; a Gaussian prior).
      clip_gradient: clip each gradient element to :math:`[-c, c]` first (``None``: no clip).

    Example:
      >>> import jax, jax.numpy as jnp, optax, optchain
      >>> tx = optchain.sgld(0.01, key=0)
      >>> w = jnp.zeros(20_000); state = tx.init(w)
      >>> step = jax.jit(lambda w, s: tx.update(w, s, w))  # f = |w|^2 / 2: e^-f is N(0, 1)
      >>> for _ in range(500):
      ...     u, state = step(w, state)
      ...     w = optax.apply_updates(w, u)
      >>> round(float(jnp.var(w)), 1)
      1.0

    References:
      Welling & Teh, *Bayesian Learning via Stochastic Gradient Langevin Dynamics*, ICML 2011.
    """
    return _chain(
        None if clip_gradient is None else clip(clip_gradient),
        add_decayed_weights(weight_decay),
        scale(0.5),
        scale_by_learning_rate(learning_rate),
        add_langevin_noise(learning_rate, key),
    )
