"""Optimizers whose answer is an average of their iterates: averaged SGD (torch.optim.ASGD)."""

from __future__ import annotations

from typing import Any

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.averaging import polyak_average
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.decaying_rates import scale_by_asgd_rate

__all__ = ["asgd"]

_LAST_STEP = 2**31 - 1  # the step counter saturates there: no later start can be reached


@named_optimizer
def asgd(
    learning_rate: _core.ScalarOrSchedule,
    lambd: _core.ScalarOrSchedule = 1e-4,
    alpha: _core.ScalarOrSchedule = 0.75,
    t0: float = 1e6,
    weight_decay: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""Averaged SGD: :math:`w \leftarrow w (1 - \lambda \eta_t) - \eta_t g_t`, :math:`\eta_t = \alpha / (1 + \lambda \alpha t)^p`, and the average :math:`\bar w` of the iterates after step :math:`t_0`.

    :math:`g_t` includes the coupled ``weight_decay`` term :math:`\lambda_w w`; :math:`t` counts
    the earlier updates. The average is :math:`\bar w \leftarrow \bar w + \mu_t (w - \bar w)`
    with :math:`\mu_t = 1 / \max(1, t - t_0)`: it follows the iterate up to step
    :math:`t_0 + 1` and is the mean of the iterates from there on. Recipe::

        counted_chain(
            add_decayed_weights(weight_decay),          # torch's coupled weight_decay
            add_decayed_weights(lambd),                 # the shrink, scaled by eta_t next
            scale_by_asgd_rate(learning_rate, lambd, alpha),
            polyak_average(t0 + 1))                     # last: averages params + updates

    The updates move the parameters along the SGD iterate; the averaged parameters, which
    ASGD returns as its answer, are in the state: ``optchain.averaged_params(state)`` (or
    ``optax.tree.get(state, "average")``), a tree like the parameters. ``update`` needs
    ``params``.

    * torch.optim.ASGD(lr, lambd, alpha, t0, weight_decay): ``asgd(lr, lambd, alpha, t0,
      weight_decay)``, step for step; torch's ``state["ax"]`` is ``averaged_params(state)``.
      torch accepts a fractional ``t0``, whose weights :math:`1/(t - t_0)` average nothing;
      here it is a whole number.
    * optax has no ASGD.

    Args:
      learning_rate: :math:`\alpha \ge 0`, the initial step size (a number or a schedule).
      lambd: :math:`\lambda \ge 0`, the decay term (torch's default ``1e-4``).
      alpha: :math:`p \ge 0`, the power of the step-size decay (torch's default 0.75).
      t0: :math:`t_0 \ge 0`, a whole number: the step after which averaging starts (torch's
        default ``1e6``).
      weight_decay: :math:`\lambda_w \ge 0`, coupled L2 added to the gradient.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.asgd(0.5, lambd=0.0, t0=0)
      >>> w = jnp.zeros(1); state = tx.init(w)
      >>> for _ in range(3):  # constant gradient -1: w = 0.5, 1.0, 1.5
      ...     u, state = tx.update(-jnp.ones(1), state, w); w = optax.apply_updates(w, u)
      >>> w, optchain.averaged_params(state)
      (Array([1.5], dtype=float32), Array([1.], dtype=float32))

    References:
      Polyak & Juditsky, *Acceleration of Stochastic Approximation by Averaging*, SIAM J.
      Control Optim. 1992; Xu, *Towards Optimal One Pass Large Scale Learning with Averaged
      Stochastic Gradient Descent*, arXiv:1107.2490, 2011.
    """
    start: Any
    if _core.concrete_float(t0) is None:  # injected (inject_hyperparams): a traced t0
        start = t0 + 1
    elif float(t0).is_integer():
        start = min(int(t0) + 1, _LAST_STEP)  # t0 is finite: RULES checked it
    else:
        raise ValueError(f"t0 must be a whole number >= 0; got {t0!r}")
    return _chain(
        add_decayed_weights(weight_decay),
        add_decayed_weights(lambd),
        scale_by_asgd_rate(learning_rate, lambd, alpha),
        polyak_average(start),
    )
