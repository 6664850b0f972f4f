"""Polyak's step size: the step that would reach the optimal value on a linear model of the loss.

Not Polyak averaging (:func:`optchain.polyak_average`): optax's name ``scale_by_polyak`` is kept
for the step size, as optax uses it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optchain import _core

# optax guards the division with the machine epsilon of a Python float (float64's).
_TINY = float(np.finfo(float).eps)


def scale_by_polyak(
    f_min: float = 0.0,
    max_learning_rate: float = 1.0,
    eps: float = 0.0,
    variant: str = "sps",
) -> optax.GradientTransformationExtraArgs:
    r"""Scale by Polyak's step size: :math:`u \mapsto \min\bigl(\frac{f(w) - f^\star}{\lVert u \rVert^2 + \epsilon}, \gamma_{\max}\bigr)\, u`.

    :math:`\lVert u \rVert^2` is the squared norm of all leaves together. ``variant="sps+"``
    uses :math:`\max(f(w) - f^\star, 0)`. Where :math:`\lVert u \rVert^2 + \epsilon` is below
    float64's machine epsilon the step is 0 (optax's guard). ``update`` needs the loss as the
    keyword ``value`` (``tx.update(grads, state, params, value=loss)``); a chain passes it on.
    optax's values; the state is ``optax.EmptyState``.

    Args:
      f_min: :math:`f^\star`, a lower bound on the loss (finite).
      max_learning_rate: :math:`\gamma_{\max} \ge 0`, the largest step.
      eps: :math:`\epsilon \ge 0`, added to the squared norm.
      variant: ``"sps"`` or ``"sps+"``.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state ``optax.EmptyState``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_polyak(max_learning_rate=10.0)
      >>> g = jnp.array([1.0, 1.0])  # ||g||^2 = 2, loss 1: step 0.5
      >>> tx.update(g, tx.init(g), value=jnp.array(1.0))[0]
      Array([0.5, 0.5], dtype=float32)

    References:
      Polyak, *Introduction to Optimization*, 1987. Loizou et al., *Stochastic Polyak
      Step-size for SGD: An Adaptive Learning Rate for Fast Convergence*, AISTATS 2021.
    """
    _core.check_hyperparameter("f_min", f_min, allow_schedule=False)
    _core.check_hyperparameter(
        "max_learning_rate", max_learning_rate, low=0.0, allow_schedule=False
    )
    _core.check_hyperparameter("eps", eps, low=0.0, allow_schedule=False)
    _core.check_choice("variant", variant, ("sps", "sps+"))

    def update_fn(updates, state, params=None, *, value: Any = None, **extra_args):
        del params, extra_args
        if value is None:
            raise ValueError(
                "scale_by_polyak needs the loss: call update(updates, state, params, value=loss)"
            )
        leaves = [_core.as_leaf(u) for u in jax.tree.leaves(updates) if _core.is_float(u)]
        norm_sq = sum((_core.square_sum(u) for u in leaves), jnp.zeros([], jnp.float32))
        gap = jnp.asarray(value).astype(norm_sq.dtype) - jnp.asarray(f_min, norm_sq.dtype)
        if variant == "sps+":
            gap = jnp.maximum(gap, jnp.zeros([], gap.dtype))
        denominator = norm_sq + _core.as_scalar(eps, norm_sq.dtype)
        step = jnp.minimum(gap / denominator, _core.as_scalar(max_learning_rate, gap.dtype))
        step = jnp.where(denominator <= _TINY, jnp.zeros([], step.dtype), step)
        return _core.map_floats(lambda u: _core.scale_leaf(u, step), updates), state

    return optax.GradientTransformationExtraArgs(optax.init_empty_state, update_fn)
