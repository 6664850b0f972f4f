"""Adam variants with another denominator: AMSGrad (running maximum) and Adamax (infinity norm)."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.combine import divide
from optchain.optimizers._common import GT, _chain, _inner, named_optimizer
from optchain.optimizers.adam import _adam_direction
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.maxima import infinity_norm
from optchain.transforms.moments import bias_correction, first_moment
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["amsgrad", "adamax", "scale_by_amsgrad", "scale_by_adamax"]


@named_optimizer
def amsgrad(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    max_of: str = "corrected",
    nu_dtype: Any = None,
    weight_decay: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""AMSGrad: Adam whose denominator uses the running maximum of the second moment.

    ``max_of="corrected"`` (optax): :math:`\hat v^{max}_t = \max(\hat v^{max}_{t-1}, v_t / (1-\beta_2^t))`.
    ``max_of="raw"`` (torch.optim.Adam with ``amsgrad=True``): the maximum of the raw
    :math:`v_t`, bias-corrected afterwards. The two differ: the correction shrinks
    over time, so the corrected maximum can freeze at an early, inflated value.
    ``bias_correction_mu``/``bias_correction_nu`` (optax's) drop a bias correction. The state
    holds optax's ``mu``, ``nu`` and ``nu_max``.
    Recipe: the denominator is ``chain(second_moment(b2), bias_correction(b2),
    running_max(), sqrt(eps_root))``, with the middle two swapped for ``"raw"``.

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nu_dtype, weight_decay: as in :func:`adam`.
      bias_correction_mu: debias the first moment.
      bias_correction_nu: debias the second moment.
      max_of: ``"corrected"`` (optax) or ``"raw"`` (torch).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.amsgrad(0.1, max_of="raw")
      >>> state = tx.init(jnp.zeros(1))
      >>> for g in (4.0, 0.0):  # nu decays; its maximum stays
      ...     u, state = tx.update(jnp.array([g]), state)
      >>> optax.tree.get(state, "nu"), optax.tree.get(state, "nu_max")
      (Array([0.015984], dtype=float32), Array([0.016], dtype=float32))

    References:
      Reddi et al., *On the Convergence of Adam and Beyond*, ICLR 2018.
    """
    _core.check_choice("max_of", max_of, ("corrected", "raw"))
    _core.check_choice("bias_correction_mu", bias_correction_mu, (True, False))
    _core.check_choice("bias_correction_nu", bias_correction_nu, (True, False))
    return _chain(
        add_decayed_weights(weight_decay),
        _adam_direction(
            b1,
            b2,
            eps,
            eps_root,
            mu_dtype,
            nu_dtype,
            amsgrad=max_of,
            debias=(bias_correction_mu, bias_correction_nu),
        ),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
def adamax(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GT:
    r"""Adamax: :math:`w \leftarrow w - \alpha\, \hat m_t / u_t`, :math:`u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)`.

    Recipe: ``divide(chain(first_moment(b1), bias_correction(b1)), infinity_norm(b2, eps))``
    then the learning rate. Same rule in optax.adamax and torch.optim.Adamax (same
    arguments; torch's ``weight_decay`` is coupled).

    Args:
      learning_rate, b1, weight_decay, mu_dtype: as in :func:`adam`.
      b2: decay :math:`\beta_2` of the infinity norm :math:`u`.
      eps: :math:`\epsilon`, added to :math:`|g_t|`.
      nu_dtype: dtype of :math:`u` (``None``: the parameter's dtype).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.adamax(0.1, eps=0.0)
      >>> u, state = tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))
      >>> u, optax.tree.get(state, "nu")  # nu holds |g|, the infinity norm
      (Array([-0.1,  0.1], dtype=float32), Array([3., 4.], dtype=float32))

    References:
      Kingma & Ba, ICLR 2015, section 7.1.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        divide(
            _inner(first_moment(b1, accumulator_dtype=mu_dtype), bias_correction(b1)),
            infinity_norm(b2, eps, accumulator_dtype=nu_dtype),
        ),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
@_core.same_signature_as(amsgrad, drop=("learning_rate", "max_of", "weight_decay"))
def scale_by_amsgrad(**arguments: Any) -> GT:
    r"""optax's ``scale_by_amsgrad`` as a chain: Adam's direction over the running maximum of
    the debiased second moment (see :func:`amsgrad`); state ``count``, ``mu``, ``nu``, ``nu_max``.
    :math:`\hat m_t / (\sqrt{\max_{i \le t} \hat v_i + \bar\epsilon} + \epsilon)`.

    Args:
      b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`adam`.
      bias_correction_mu, bias_correction_nu: as in :func:`amsgrad`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_amsgrad()
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([1.], dtype=float32)

    References:
      Reddi et al., *On the Convergence of Adam and Beyond*, ICLR 2018.
    """
    a = arguments
    debias = (a.pop("bias_correction_mu"), a.pop("bias_correction_nu"))
    return _chain(_adam_direction(**a, amsgrad="corrected", debias=debias))


@named_optimizer
def scale_by_adamax(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GT:
    r"""optax's ``scale_by_adamax`` as a chain: :math:`\hat m_t / u_t` with Adamax's infinity
    norm :math:`u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)`; state ``count``, ``mu``, ``nu``.

    Args:
      b1, b2, eps, mu_dtype, nu_dtype: as in :func:`adamax`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_adamax(eps=0.0)
      >>> tx.update(jnp.array([-4.0]), tx.init(jnp.zeros(1)))[0]
      Array([-1.], dtype=float32)

    References:
      Kingma & Ba, ICLR 2015, section 7.1.
    """
    return _chain(
        divide(
            _inner(first_moment(b1, accumulator_dtype=mu_dtype), bias_correction(b1)),
            infinity_norm(b2, eps, accumulator_dtype=nu_dtype),
        )
    )
