"""Layer-wise trust-ratio optimizers for large batches: LARS and LAMB."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.optimizers._common import GT, _all_is_none, _chain, named_optimizer
from optchain.optimizers.adam import _adam_direction
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.layerwise import scale_by_trust_ratio
from optchain.transforms.moments import momentum as heavy_ball
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["lars", "lamb"]


@named_optimizer
def lars(
    learning_rate: _core.ScalarOrSchedule,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = True,
    trust_coefficient: _core.ScalarOrSchedule = 0.001,
    eps: float = 0.0,
    trust_ratio_mask: Any = True,
    momentum: _core.ScalarOrSchedule = 0.9,
    nesterov: bool = False,
    *,
    accumulator_dtype: Any = None,
) -> GT:
    r"""LARS: SGD with momentum on the trust-ratio-scaled, decayed gradient.

    :math:`u_l = \eta \lVert w_l \rVert / \lVert g_l + \lambda w_l \rVert \,(g_l + \lambda w_l)`, then
    :math:`-\alpha` and heavy-ball momentum. Recipe: ``chain(add_decayed_weights(weight_decay,
    weight_decay_mask), scale_by_trust_ratio(trust_coefficient, eps, mask=trust_ratio_mask),
    scale_by_learning_rate(learning_rate), momentum(momentum, nesterov=nesterov))``. Same
    arguments, defaults and trajectory as optax 0.2.8's ``lars`` (a mask of ``True`` or
    ``None`` means every leaf). Pass ``optchain.layerwise_mask`` as either mask to spare
    biases and normalisation scales.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      weight_decay: :math:`\lambda`, added before the trust ratio.
      weight_decay_mask: where to decay (tree of bools or ``params -> tree``; ``True``: all).
      trust_coefficient: :math:`\eta`.
      eps: added to the update norm in the trust ratio.
      trust_ratio_mask: where to apply the trust ratio (as ``weight_decay_mask``).
      momentum: heavy-ball coefficient.
      nesterov: Nesterov momentum.
      accumulator_dtype: dtype of the momentum (``None``: the parameter's dtype).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.lars(0.1, trust_coefficient=1.0)
      >>> w = jnp.array([3.0, -4.0]); state = tx.init(w)
      >>> u, state = tx.update(100 * w, state, w)  # the gradient's scale cancels
      >>> optax.apply_updates(w, u)
      Array([ 2.7, -3.6], dtype=float32)

    References:
      You et al., *Large Batch Training of Convolutional Networks*, 2017.
    """
    return _chain(
        add_decayed_weights(weight_decay, _all_is_none(weight_decay_mask)),
        scale_by_trust_ratio(
            trust_coefficient=trust_coefficient, eps=eps, mask=_all_is_none(trust_ratio_mask)
        ),
        scale_by_learning_rate(learning_rate),
        heavy_ball(momentum, nesterov=nesterov, accumulator_dtype=accumulator_dtype),
    )


@named_optimizer
def lamb(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-6,
    eps_root: _core.ScalarOrSchedule = 0.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mask: Any = None,
    *,
    trust_ratio_mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GT:
    r"""LAMB: Adam's direction plus decoupled decay, scaled per layer by the trust ratio.

    :math:`r_l = \hat m_l / (\sqrt{\hat v_l} + \epsilon) + \lambda w_l`,
    :math:`w_l \leftarrow w_l - \alpha \lVert w_l \rVert / \lVert r_l \rVert \, r_l`.
    Recipe: ``chain(<adam direction>, add_decayed_weights(weight_decay, mask),
    scale_by_trust_ratio(mask=trust_ratio_mask), scale_by_learning_rate(learning_rate))``.
    Same arguments and trajectory as optax 0.2.8's ``lamb``.

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`adam`.
      weight_decay: :math:`\lambda`, added after the moments.
      mask: where to decay (tree of bools or ``params -> tree``; ``None``: all).
      trust_ratio_mask: where to apply the trust ratio (``None``: all).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> params = {"a": jnp.array([3.0, -4.0]), "b": jnp.array([0.5])}
      >>> tx = optchain.lamb(0.1)
      >>> tx.update(params, tx.init(params), params)[0]  # each layer moves 0.1 * its norm
      {'a': Array([-0.35355,  0.35355], dtype=float32), 'b': Array([-0.05], dtype=float32)}

    References:
      You et al., *Large Batch Optimization for Deep Learning: Training BERT in 76
      minutes*, ICLR 2020.
    """
    return _chain(
        _adam_direction(b1, b2, eps, eps_root, mu_dtype, nu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(mask=trust_ratio_mask),
        scale_by_learning_rate(learning_rate),
    )
