"""The Adam-like zoo: Lion, AdaBelief, Yogi, AdamaxW and NAdamW, as recipes (RAdam is in
``rectified.py``)."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.combine import divide, fork
from optchain.optimizers._common import GT, _chain, _inner, named_optimizer
from optchain.optimizers.adam import adamw
from optchain.transforms.adaptive_moments import (
    scale_by_belief,
    scale_by_lion,
    yogi_second_moment,
)
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.maxima import infinity_norm
from optchain.transforms.moments import bias_correction, first_moment
from optchain.transforms.scaling import scale, scale_by_learning_rate, sqrt

__all__ = [
    "lion",
    "adabelief",
    "yogi",
    "adamaxw",
    "nadamw",
    "scale_by_yogi",
]


def _debiased_first_moment(b1, *, nesterov=False, mu_dtype=None, initial_value=0.0) -> GT:
    """Adam's numerator :math:`\\hat m_t` (NAdam's look-ahead with ``nesterov``); state ``mu``."""
    moment = first_moment(b1, accumulator_dtype=mu_dtype, initial_value=initial_value)
    if not nesterov:
        return _inner(moment, bias_correction(b1))
    return fork(
        _inner(moment, bias_correction(b1, step_offset=1), scale(b1)),
        _inner(bias_correction(b1), scale(_core.one_minus(b1))),
        merge=lambda look_ahead, gradient: look_ahead + gradient,
    )


def _yogi_direction(b1, b2, eps, eps_root, initial_value) -> GT:
    """Yogi's ``m_hat / (sqrt(v_hat + eps_root) + eps)``; both moments start at ``initial_value``."""
    second = yogi_second_moment(b2, initial_value)  # first: its error names the argument
    return divide(
        _debiased_first_moment(b1, initial_value=initial_value),
        _inner(second, bias_correction(b2), sqrt(eps_root)),
        eps=eps,
    )


@named_optimizer
def lion(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.99,
    mu_dtype: Any = None,
    weight_decay: _core.ScalarOrSchedule = 1e-3,
    mask: Any = None,
) -> GT:
    r"""Lion: :math:`w \leftarrow w - \alpha (\operatorname{sign}((1-\beta_1) g_t + \beta_1 m_{t-1}) + \lambda w)`, :math:`m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t`.

    Recipe: ``counted_chain(scale_by_lion(b1, b2, mu_dtype), add_decayed_weights(weight_decay,
    mask), scale_by_learning_rate(learning_rate))``; the state holds optax's ``count`` and
    ``mu``. Lion's steps are signs, so its learning rate is typically 3-10x smaller and its
    weight decay 3-10x larger than AdamW's.

    * optax: ``optax.lion`` with the same arguments.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1: :math:`\beta_1`, the weight of the momentum in the sign's argument.
      b2: :math:`\beta_2`, the momentum's decay.
      mu_dtype: dtype of :math:`m` (``None``: the parameter's dtype).
      weight_decay: :math:`\lambda`, decoupled from the sign, scaled by the learning rate.
      mask: tree of bools (or a function ``params -> tree``) selecting leaves to decay.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.lion(0.1, weight_decay=0.0)
      >>> w = jnp.array([1.0, -1.0])
      >>> tx.update(jnp.array([0.3, -2.0]), tx.init(w), w)[0]  # -0.1 * sign(g)
      Array([-0.1,  0.1], dtype=float32)

    References:
      Chen et al., *Symbolic Discovery of Optimization Algorithms*, NeurIPS 2023.
    """
    return _chain(
        scale_by_lion(b1, b2, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def adabelief(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-16,
    eps_root: _core.ScalarOrSchedule = 1e-16,
    *,
    nesterov: bool = False,
    weight_decay: _core.ScalarOrSchedule | None = None,
    weight_decay_mask: Any = None,
) -> GT:
    r"""AdaBelief: :math:`w \leftarrow w - \alpha\, \hat m_t / (\sqrt{\hat s_t} + \epsilon)`, :math:`s` the EMA of :math:`(g_t - m_t)^2 + \bar\epsilon`.

    Recipe: ``counted_chain(scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov),
    add_decayed_weights(weight_decay, weight_decay_mask), scale_by_learning_rate(lr))``; the
    decay link is there when ``weight_decay`` is a number (``None``, optax's default, leaves it
    out; 0 keeps it as a no-op). The state holds optax's ``count``, ``mu`` and ``nu``.

    * optax: ``optax.adabelief`` with the same arguments (the paper's defaults are
      ``eps=1e-8``, ``eps_root=0``). ``weight_decay`` and ``weight_decay_mask`` are
      keyword-only here: optax 0.2.8 has no weight decay in AdaBelief (later optax adds them,
      positionally, with these defaults).

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1, b2, eps, eps_root, nesterov: as in :func:`scale_by_belief`.
      weight_decay: :math:`\lambda`, decoupled and scaled by the learning rate; ``None``: none.
      weight_decay_mask: tree of bools (or a function ``params -> tree``) selecting leaves to
        decay.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.adabelief(0.1)
      >>> u, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
      >>> u.round(4), optax.tree.get(state, "mu")
      (Array([-0.1111,  0.1111], dtype=float32), Array([ 0.1, -0.2], dtype=float32))

    References:
      Zhuang et al., *AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
      Gradients*, NeurIPS 2020.
    """
    decay = None if weight_decay is None else add_decayed_weights(weight_decay, weight_decay_mask)
    return _chain(
        scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov),
        decay,
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def scale_by_yogi(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-3,
    eps_root: _core.ScalarOrSchedule = 0.0,
    initial_accumulator_value: float = 1e-6,
) -> GT:
    r"""optax's ``scale_by_yogi`` as a chain: :math:`\hat m_t / (\sqrt{\hat v_t + \bar\epsilon} + \epsilon)` with Yogi's :math:`v`.

    Recipe: ``counted_chain(divide(chain(first_moment(b1, initial_value=v0),
    bias_correction(b1)), chain(yogi_second_moment(b2, v0), bias_correction(b2),
    sqrt(eps_root)), eps=eps))`` with :math:`v_0` = ``initial_accumulator_value`` (both
    moments start there, as in optax). The state holds optax's ``count``, ``mu`` and ``nu``.

    Args:
      b1: decay :math:`\beta_1` of the first moment.
      b2: decay :math:`\beta_2` of Yogi's second moment.
      eps: :math:`\epsilon`, added outside the square root.
      eps_root: :math:`\bar\epsilon`, added inside the square root.
      initial_accumulator_value: :math:`v_0 \ge 0`, the start of both moments.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_yogi(eps=0.0, initial_accumulator_value=0.0)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]
      Array([ 1., -1.], dtype=float32)

    References:
      Zaheer et al., *Adaptive Methods for Nonconvex Optimization*, NeurIPS 2018.
    """
    return _chain(_yogi_direction(b1, b2, eps, eps_root, initial_accumulator_value))


@named_optimizer
def yogi(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-3,
) -> GT:
    r"""Yogi: Adam whose second moment moves additively, :math:`v_t = v_{t-1} - (1-\beta_2)\operatorname{sign}(v_{t-1} - g_t^2) g_t^2`.

    :math:`w \leftarrow w - \alpha\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)`. Recipe:
    :func:`scale_by_yogi` (moments started at ``1e-6``) then
    ``scale_by_learning_rate(learning_rate)``; the state holds optax's ``count``, ``mu``, ``nu``.

    * optax: ``optax.yogi`` with the same arguments.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1, b2, eps: as in :func:`scale_by_yogi`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.yogi(0.1)
      >>> u, state = tx.update(jnp.array([1.0, -1.0]), tx.init(jnp.zeros(2)))
      >>> u.round(4), optax.tree.get(state, "nu")
      (Array([-0.0999,  0.0998], dtype=float32), Array([0.001001, 0.001001], dtype=float32))

    References:
      Zaheer et al., *Adaptive Methods for Nonconvex Optimization*, NeurIPS 2018.
    """
    return _chain(
        _yogi_direction(b1, b2, eps, 0.0, 1e-6),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def adamaxw(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    weight_decay: _core.ScalarOrSchedule = 1e-4,
    mask: Any = None,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GT:
    r"""AdamaxW: :math:`w \leftarrow w - \alpha (\hat m_t / u_t + \lambda w)`, :math:`u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)`.

    Recipe: Adamax's direction ``divide(chain(first_moment(b1), bias_correction(b1)),
    infinity_norm(b2, eps))``, then ``add_decayed_weights(weight_decay, mask)``, then the
    learning rate: the decay is decoupled from the moments but scaled by the learning rate.

    * optax: ``optax.adamaxw`` with the same arguments.

    Args:
      learning_rate, b1, b2, eps, mu_dtype, nu_dtype: as in :func:`adamax`.
      weight_decay: :math:`\lambda`, applied after the moments.
      mask: tree of bools (or a function ``params -> tree``) selecting leaves to decay.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> w = jnp.array([2.0, 2.0])
      >>> tx = optchain.adamaxw(0.1, eps=0.0, weight_decay=0.5)
      >>> u, _ = tx.update(jnp.array([3.0, -4.0]), tx.init(w), w)
      >>> u.round(4) + 0.0  # -0.1 * (sign(g) + 0.5 w)
      Array([-0.2,  0. ], dtype=float32)

    References:
      Kingma & Ba, ICLR 2015, section 7.1; Loshchilov & Hutter, *Decoupled Weight Decay
      Regularization*, ICLR 2019.
    """
    return _chain(
        divide(
            _debiased_first_moment(b1, mu_dtype=mu_dtype),
            infinity_norm(b2, eps, accumulator_dtype=nu_dtype),
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
@_core.same_signature_as(adamw, nesterov=True)
def nadamw(**arguments: Any) -> GT:
    r"""NAdamW: AdamW with NAdam's look-ahead numerator, :math:`\hat m_t = \beta_1 m_t / (1-\beta_1^{t+1}) + (1-\beta_1) g_t / (1-\beta_1^t)`.

    Recipe: :func:`adamw` with ``nesterov=True`` (the numerator of :func:`nadam`, then the
    decoupled ``add_decayed_weights(weight_decay, mask)`` and the learning rate), as optax
    defines it. The state holds optax's ``count``, ``mu`` and ``nu``.

    * optax: ``optax.nadamw`` with the same arguments (``nesterov=False`` is AdamW).

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`adam`.
      weight_decay, mask: as in :func:`adamw`.
      nesterov: ``False`` gives plain AdamW.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> w = jnp.zeros(2)
      >>> tx = optchain.nadamw(0.1)
      >>> tx.update(jnp.array([1.0, -1.0]), tx.init(w), w)[0]
      Array([-0.147,  0.147], dtype=float32)

    References:
      Dozat, *Incorporating Nesterov Momentum into Adam*, ICLR workshop 2016; Loshchilov &
      Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019.
    """
    return adamw(**arguments)
