"""Data-parallel optimizers whose communication is compressed: Signum with majority vote, DGC."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.distributed import buffer_density, dgc_sparsify, majority_vote, sparse_mean
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.clipping import clip_by_global_norm
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.moments import ema
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["signum_majority", "dgc_sgd"]


@named_optimizer
def signum_majority(
    learning_rate: _core.ScalarOrSchedule,
    axis_name: Any,
    beta: _core.ScalarOrSchedule = 0.9,
    accumulator_dtype: Any = None,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""Signum with majority vote: each device keeps its own momentum
    :math:`m^{(i)} = \beta m^{(i)} + (1-\beta) g^{(i)}` and votes with its sign;
    :math:`w \leftarrow w - \alpha\, \operatorname{sign}\big(\sum_i \operatorname{sign}(m^{(i)})\big)`.

    Recipe: ``chain(add_decayed_weights(weight_decay), ema(beta, debias=False), majority_vote(axis_name),
    scale_by_learning_rate(learning_rate))``. Run ``update`` inside ``pmap`` or ``shard_map``
    over ``axis_name``; one bit per parameter per device enters the collective. On one device
    it is :func:`signum` (with a zero momentum voting +1).

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      axis_name: the mapped axis the devices vote over.
      beta: momentum decay :math:`\beta`.
      accumulator_dtype: dtype of :math:`m` (``None``: the parameter's dtype).
      weight_decay: coupled L2 coefficient added to the gradient.

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> tx = optchain.signum_majority(0.1, "batch")
      >>> w = jnp.array([1.0, -1.0]); state = tx.init(w)
      >>> grads = jnp.array([[1.0, -1.0], [2.0, 1.0], [3.0, -2.0]])  # three devices
      >>> step = jax.vmap(lambda g: tx.update(g, state, w)[0], axis_name="batch")
      >>> step(grads)[0]  # the votes: (+, +, +) and (-, +, -)
      Array([-0.1,  0.1], dtype=float32)

    References:
      Bernstein et al., *signSGD with Majority Vote is Communication Efficient and Fault
      Tolerant*, ICLR 2019.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
        majority_vote(axis_name),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def dgc_sgd(
    learning_rate: _core.ScalarOrSchedule,
    axis_name: Any,
    density: _core.ScalarOrSchedule = 0.001,
    momentum: _core.ScalarOrSchedule = 0.9,
    *,
    momentum_masking: bool = True,
    max_density: float | None = None,
    local_clip_norm: float | None = None,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    accumulator_dtype: Any = None,
) -> GT:
    r"""Deep Gradient Compression momentum SGD: momentum correction and accumulation per
    device, the top :math:`\rho` of each layer exchanged as (index, value) pairs,
    :math:`w \leftarrow w - \alpha \frac{1}{n}\sum_i \operatorname{topk}(v^{(i)})`.

    Recipe: ``chain(clip_by_global_norm(local_clip_norm), add_decayed_weights(weight_decay),
    dgc_sparsify(density, momentum, ...), sparse_mean(axis_name, max_density),
    scale_by_learning_rate(learning_rate))``. ``local_clip_norm`` clips each device's gradient
    before accumulation; the paper scales a global threshold by :math:`n^{-1/2}`, so pass
    ``threshold / sqrt(n_devices)``. The warm-up density is ``schedules.dgc_warmup``.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      axis_name: the mapped axis to average over.
      density: fraction :math:`\rho` of each leaf sent per step, or a schedule.
      momentum: momentum of the local correction.
      momentum_masking: clear the velocity where entries were sent (the paper's masking).
      max_density: the most any step sends (static; default: ``density`` at step 0).
      local_clip_norm: clip each device's gradient to this global norm (``None``: no clip).
      weight_decay: coupled L2 coefficient added to the gradient.
      accumulator_dtype: dtype of the velocity and residual (``None``: at least float32).

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> tx = optchain.dgc_sgd(0.1, "batch", density=0.5)
      >>> w = jnp.zeros(4); state = tx.init(w)
      >>> grads = jnp.array([[4.0, -3.0, 0.5, 0.1], [0.1, 0.2, 2.0, -1.0]])  # two devices
      >>> step = jax.vmap(lambda g: tx.update(g, state, w)[0], axis_name="batch")
      >>> step(grads)[0]  # each sends its top 2: -0.1 * [4, -3, 2, -1] / 2
      Array([-0.2 ,  0.15, -0.1 ,  0.05], dtype=float32)

    References:
      Lin et al., *Deep Gradient Compression: Reducing the Communication Bandwidth for
      Distributed Training*, ICLR 2018.
    """
    sparsify = dgc_sparsify(
        density,
        momentum,
        momentum_masking=momentum_masking,
        max_density=max_density,
        accumulator_dtype=accumulator_dtype,
    )
    return _chain(
        None if local_clip_norm is None else clip_by_global_norm(local_clip_norm),
        add_decayed_weights(weight_decay),
        sparsify,
        sparse_mean(axis_name, buffer_density(density, max_density)),
        scale_by_learning_rate(learning_rate),
    )
