"""SGD with Polyak's step size (the loss gap over the squared gradient norm)."""

from __future__ import annotations

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.polyak_step import scale_by_polyak
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["polyak_sgd"]


@named_optimizer
def polyak_sgd(
    max_learning_rate: float = 1.0,
    scaling: _core.ScalarOrSchedule = 1.0,
    f_min: float = 0.0,
    eps: float = 0.0,
    variant: str = "sps",
) -> GT:
    r"""Polyak SGD: :math:`w \leftarrow w - \min\bigl(\frac{f(w) - f^\star}{c^2\lVert g \rVert^2 + \epsilon}, \gamma_{\max}\bigr) c\, g`.

    :math:`c` is ``scaling``. Recipe: ``counted_chain(scale_by_learning_rate(scaling),
    scale_by_polyak(f_min, max_learning_rate, eps, variant))``; the Polyak step is computed
    on the already scaled update, as optax does. ``update`` needs the loss:
    ``tx.update(grads, state, params, value=loss)``.

    * optax: ``optax.polyak_sgd`` with the same arguments and values.

    Args:
      max_learning_rate: :math:`\gamma_{\max} \ge 0`, the largest step.
      scaling: :math:`c \ge 0`, a float or a schedule, applied before the Polyak step.
      f_min: :math:`f^\star`, a lower bound on the loss.
      eps: :math:`\epsilon \ge 0`, added to the squared norm.
      variant: ``"sps"``, or ``"sps+"`` (the gap clipped at 0).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.polyak_sgd()
      >>> w = jnp.array([1.0, -2.0])  # f(w) = ||w||^2 / 2 = 2.5, g = w: step 0.5
      >>> tx.update(w, tx.init(w), w, value=jnp.array(2.5))[0]
      Array([-0.5,  1. ], dtype=float32)

    References:
      Loizou et al., *Stochastic Polyak Step-size for SGD: An Adaptive Learning Rate for Fast
      Convergence*, AISTATS 2021.
    """
    return _chain(
        scale_by_learning_rate(scaling),
        scale_by_polyak(f_min=f_min, max_learning_rate=max_learning_rate, eps=eps, variant=variant),
    )
