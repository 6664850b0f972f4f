"""Adam fixed by asynchrony or dual averaging (optax.contrib's ADOPT, AcProp and MADGRAD), as
recipes with optax's names, signatures, values and state fields."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax.contrib

from optchain import _core
from optchain.combine import divide, fork
from optchain.optimizers._common import GT, _chain, _inner, named_optimizer
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.dual_averaging import dual_averaging
from optchain.transforms.moments import first_moment
from optchain.transforms.previous_moments import normalize_by_previous_rms, previous_centered_rms
from optchain.transforms.scaling import scale, scale_by_learning_rate

__all__ = ["acprop", "adopt", "madgrad", "scale_by_acprop", "scale_by_adopt", "scale_by_madgrad"]


def _optax_default(factory: Callable[..., Any], name: str) -> Any:
    """optax's default object for an argument (ADOPT's ``clip_value_fn``, :math:`t^{1/4}`):
    the same object, so that the signatures compare equal."""
    return inspect.signature(factory).parameters[name].default


_SCALE_BY_ADOPT_CLIP = _optax_default(optax.contrib.scale_by_adopt, "clip_value_fn")
_ADOPT_CLIP = _optax_default(optax.contrib.adopt, "clip_value_fn")


def _from_second_step(b1: _core.ScalarOrSchedule) -> _core.Schedule:
    """ADOPT's momentum decay: 1 on the first update (the momentum stays 0 while the second
    moment has seen no gradient), ``b1`` after."""

    def schedule(count):
        return jnp.where(count > 0, _core.resolve(b1, count), 1.0)

    return schedule


def _adopt_direction(b1, b2, eps, mu_dtype, nesterov, use_clipping, clip_value_fn) -> GT:
    decay = _from_second_step(b1)
    moment = first_moment(decay, accumulator_dtype=mu_dtype)
    if nesterov:  # b1 m_t + (1 - b1) u_t: the momentum one step ahead
        moment = fork(
            _inner(moment, scale(decay)),
            scale(_core.one_minus(decay)),
            merge=lambda ahead, normalized: ahead + normalized,
        )
    normalize = normalize_by_previous_rms(
        b2, eps, use_clipping=use_clipping, clip_value_fn=clip_value_fn
    )
    return _inner(normalize, moment)


@named_optimizer
def scale_by_adopt(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.9999,
    eps: _core.ScalarOrSchedule = 1e-6,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], Any] = _SCALE_BY_ADOPT_CLIP,
) -> GT:
    r"""ADOPT's direction: :math:`m_t = \beta_1 m_{t-1} + (1-\beta_1)\,\mathrm{clip}(g_t / \max(\sqrt{v_{t-1}}, \epsilon), c_t)`, output :math:`m_t`.

    Recipe: ``counted_chain(normalize_by_previous_rms(b2, eps, use_clipping=...,
    clip_value_fn=...), first_moment(b1'))`` with :math:`\beta_1' = 1` on the first update
    (the momentum starts with the second gradient, once :math:`v` has seen one) and
    :math:`\beta_1` after; ``nesterov=True`` outputs :math:`\beta_1 m_t + (1-\beta_1) u_t`
    (a :func:`fork`). The state holds optax's ``count``, ``mu`` and ``nu``. Complex
    parameters: optax refuses to clip them; here the modulus is clipped (the phase kept),
    and without clipping the values are optax's.

    Args:
      b1: :math:`\beta_1` in [0, 1).
      b2: :math:`\beta_2` in [0, 1).
      eps: :math:`\epsilon \ge 0`, the floor of :math:`\sqrt{v_{t-1}}`.
      mu_dtype: dtype of :math:`m` (``None``: the parameter's).
      nesterov: output the look-ahead momentum.
      use_clipping: clip the normalised gradient to :math:`[-c_t, c_t]`.
      clip_value_fn: :math:`t \mapsto c_t` (:math:`t^{1/4}` by default), a callable of the step.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.scale_by_adopt()
      >>> u, state = tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))
      >>> u, state.count  # the first update only measures v
      (Array([0., 0.], dtype=float32), Array(1, dtype=int32))

    References:
      Taniguchi et al., *ADOPT: Modified Adam Can Converge with Any* :math:`\beta_2` *with
      the Optimal Rate*, NeurIPS 2024.
    """
    return _chain(_adopt_direction(b1, b2, eps, mu_dtype, nesterov, use_clipping, clip_value_fn))


@named_optimizer
def adopt(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.9999,
    eps: _core.ScalarOrSchedule = 1e-6,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], Any] = _ADOPT_CLIP,
) -> GT:
    r"""ADOPT: :math:`w \leftarrow w - \alpha m_t`, :math:`m_t` the momentum of the gradients normalised by the RMS of the *previous* steps.

    Recipe: :func:`scale_by_adopt` then ``scale_by_learning_rate(learning_rate)``; the
    state holds optax's ``count``, ``mu`` and ``nu``. The first update is zero (it only
    measures :math:`v_1 = g_1^2`). optax: ``optax.contrib.adopt`` with the same arguments.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1, b2, eps, mu_dtype, nesterov, use_clipping, clip_value_fn: as in
        :func:`scale_by_adopt`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.adopt(0.1, use_clipping=False)
      >>> state = tx.init(jnp.zeros(2))
      >>> u, state = tx.update(jnp.array([2.0, -0.5]), state)
      >>> tx.update(jnp.array([1.0, 1.0]), state)[0].round(4)  # -0.1 * 0.1 * g / |g_1|
      Array([-0.005, -0.02 ], dtype=float32)

    References:
      Taniguchi et al., *ADOPT: Modified Adam Can Converge with Any* :math:`\beta_2` *with
      the Optimal Rate*, NeurIPS 2024.
    """
    return _chain(
        _adopt_direction(b1, b2, eps, mu_dtype, nesterov, use_clipping, clip_value_fn),
        scale_by_learning_rate(learning_rate),
    )


def _acprop_direction(b1, b2, eps, eps_root) -> GT:
    return divide(scale(1.0), previous_centered_rms(b1, b2, eps_root), eps=eps)


@named_optimizer
def scale_by_acprop(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: float = 0.999,
    eps: _core.ScalarOrSchedule = 1e-16,
    eps_root: _core.ScalarOrSchedule = 1e-16,
) -> GT:
    r"""AcProp's direction: :math:`g_t / (\sqrt{\hat s_{t-1}} + \epsilon)`, :math:`s` the centered second moment of the previous steps.

    Recipe: ``counted_chain(divide(scale(1.0), previous_centered_rms(b1, b2, eps_root),
    eps=eps))``: the raw gradient over the root of AdaBelief's belief one step old
    (:math:`\hat s_0 = 1`). The state holds optax's ``count``, ``mu`` and ``nu``.

    Args:
      b1: :math:`\beta_1` in [0, 1), the decay of the first moment the belief is centered on.
      b2: :math:`\beta_2` in [0, 1), a number.
      eps: :math:`\epsilon \ge 0`, outside the root.
      eps_root: :math:`\bar\epsilon \ge 0`, added to the belief.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.scale_by_acprop()
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]  # g / (1 + eps)
      Array([ 2. , -0.5], dtype=float32)

    References:
      Zhuang et al., *Momentum Centering and Asynchronous Update for Adaptive Gradient
      Methods*, NeurIPS 2021.
    """
    return _chain(_acprop_direction(b1, b2, eps, eps_root))


@named_optimizer
def acprop(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: float = 0.999,
    eps: _core.ScalarOrSchedule = 1e-16,
    eps_root: _core.ScalarOrSchedule = 1e-16,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mask: Any = None,
) -> GT:
    r"""AcProp: :math:`w \leftarrow w - \alpha\,(g_t / (\sqrt{\hat s_{t-1}} + \epsilon) + \lambda w)`.

    Recipe: :func:`scale_by_acprop`, ``add_decayed_weights(weight_decay, mask)`` (a no-op
    link by default), ``scale_by_learning_rate(learning_rate)``; the state holds optax's
    ``count``, ``mu`` and ``nu``. optax: ``optax.contrib.acprop`` with the same arguments.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1, b2, eps, eps_root: as in :func:`scale_by_acprop`.
      weight_decay: :math:`\lambda \ge 0`, multiplied by the learning rate.
      mask: tree of bools (or ``params -> tree``) selecting the leaves to decay.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.acprop(0.1)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(jnp.zeros(2)))[0]
      Array([-0.2 ,  0.05], dtype=float32)

    References:
      Zhuang et al., *Momentum Centering and Asynchronous Update for Adaptive Gradient
      Methods*, NeurIPS 2021.
    """
    return _chain(
        _acprop_direction(b1, b2, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def scale_by_madgrad(
    learning_rate: _core.ScalarOrSchedule,
    momentum: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-6,
) -> GT:
    r"""MADGRAD's step: :math:`x_{k+1} - x_k`, :math:`x_{k+1} = \beta x_k + (1-\beta)(x_0 - s_k / (G_k^{1/3} + \epsilon))`.

    Recipe: ``counted_chain(dual_averaging(learning_rate, momentum, eps))`` (see
    :func:`dual_averaging`: the learning rate weighs the gradients, so it is inside the
    link). The state holds optax's ``count``, ``grad_sum_sq``, ``s`` and ``x0``; ``update``
    needs the parameters. Complex parameters (which optax rejects) use :math:`|g|^2`.

    Args:
      learning_rate: :math:`\gamma \ge 0`, a float or a schedule.
      momentum: :math:`\beta` in [0, 1].
      eps: :math:`\epsilon \ge 0`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.scale_by_madgrad(1.0, momentum=0.0, eps=0.0)
      >>> x = jnp.array([1.0])
      >>> tx.update(jnp.array([8.0]), tx.init(x), x)[0]  # to 1 - 8 / 64**(1/3)
      Array([-2.], dtype=float32)

    References:
      Defazio & Jelassi, *Adaptivity without Compromise: A Momentumized, Adaptive, Dual
      Averaged Gradient Method for Stochastic Optimization*, JMLR 2022.
    """
    return _chain(dual_averaging(learning_rate, momentum, eps))


@named_optimizer
def madgrad(
    learning_rate: _core.ScalarOrSchedule,
    momentum: _core.ScalarOrSchedule = 0.9,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    eps: _core.ScalarOrSchedule = 1e-6,
) -> GT:
    r"""MADGRAD: :math:`x_{k+1} = \beta x_k + (1-\beta)(x_0 - s_k / (G_k^{1/3} + \epsilon))` on the gradient plus :math:`\lambda x_k`.

    Recipe: ``add_decayed_weights(weight_decay)`` (coupled L2, a no-op link by default) then
    :func:`scale_by_madgrad`'s :func:`dual_averaging`; the state holds optax's ``count``,
    ``grad_sum_sq``, ``s`` and ``x0`` (one counter: the chain's ``count``). optax:
    ``optax.contrib.madgrad`` with the same arguments.

    Args:
      learning_rate: :math:`\gamma \ge 0`, a float or a schedule.
      momentum, eps: as in :func:`scale_by_madgrad`.
      weight_decay: :math:`\lambda \ge 0`, added to the gradient.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.contrib.madgrad(0.1)
      >>> x = jnp.array([1.0, -1.0])
      >>> u, state = tx.update(jnp.array([1.0, 1.0]), tx.init(x), x)
      >>> u.round(4)  # -(1 - 0.9) * s / G**(1/3), s = G = 0.1
      Array([-0.0215, -0.0215], dtype=float32)

    References:
      Defazio & Jelassi, *Adaptivity without Compromise: A Momentumized, Adaptive, Dual
      Averaged Gradient Method for Stochastic Optimization*, JMLR 2022.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        dual_averaging(learning_rate, momentum, eps),
    )
