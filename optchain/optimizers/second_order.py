"""Second-order (quasi-Newton) optimizers: L-BFGS."""

from __future__ import annotations

import inspect
from typing import Any

import optax

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.quasi_newton import scale_by_lbfgs
from optchain.transforms.scaling import scale, scale_by_learning_rate

__all__ = ["lbfgs"]

# optax's default line search object itself (a zoom line search of at most 20 steps that
# starts from a step of 1), so that ``lbfgs()`` is optax's ``lbfgs()``, default included.
_ZOOM = inspect.signature(optax.lbfgs).parameters["linesearch"].default


@named_optimizer
def lbfgs(
    learning_rate: _core.ScalarOrSchedule | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: Any = _ZOOM,
) -> GT:
    r"""L-BFGS: :math:`w \leftarrow w - \eta_k P_k \nabla f(w)`, :math:`\eta_k` from a line search.

    :math:`P_k` is the limited-memory inverse-Hessian approximation of
    :func:`optchain.scale_by_lbfgs`. Recipe::

        counted_chain(
            scale_by_lbfgs(memory_size, scale_init_precond),  # P_k g (two-loop recursion)
            scale(-1.0),                 # or scale_by_learning_rate(learning_rate)
            linesearch)                  # optax's zoom line search by default

    The line search is optax's own ``scale_by_zoom_linesearch`` object (optax's default,
    ``max_linesearch_steps=20, initial_guess_strategy='one'``): its ``update`` takes
    ``value=``, ``grad=`` and ``value_fn=``, and the state holds its ``value`` and ``grad``, so
    ``optax.value_and_grad_from_state`` reuses them as with optax. ``linesearch=None`` takes the
    step ``learning_rate`` (or 1) without a search.

    * optax: ``optax.lbfgs`` with the same arguments (the same values; the state is one
      :class:`optchain.CountedChainState` holding optax's ``count``, ``diff_params_memory``,
      ``weights_memory``, ``value``, ``grad``, ... fields).

    Args:
      learning_rate: optional fixed or scheduled step size (``None``: 1, the line search's
        step alone).
      memory_size: secant pairs kept, an int :math:`\ge 1`.
      scale_init_precond: scale the initial preconditioner by
        :math:`\langle\delta u,\delta w\rangle / \|\delta u\|^2`.
      linesearch: a transform choosing the step (``None``: none).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> f = lambda w: jnp.sum((w - 1.0) ** 2 * jnp.array([1.0, 10.0]))
      >>> tx = optchain.lbfgs()
      >>> w = jnp.zeros(2)
      >>> state = tx.init(w)
      >>> value_and_grad = optax.value_and_grad_from_state(f)
      >>> for _ in range(5):
      ...     value, grad = value_and_grad(w, state=state)
      ...     u, state = tx.update(grad, state, w, value=value, grad=grad, value_fn=f)
      ...     w = optax.apply_updates(w, u)
      >>> w
      Array([1., 1.], dtype=float32)

    References:
      Nocedal & Wright, *Numerical Optimization*, 1999, algorithms 7.4 and 7.5.
      Liu & Nocedal, *On the limited memory BFGS method for large scale optimization*,
      Mathematical Programming 45, 1989.
    """
    step = scale(-1.0) if learning_rate is None else scale_by_learning_rate(learning_rate)
    return _chain(
        scale_by_lbfgs(memory_size, scale_init_precond),
        step,
        optax.identity() if linesearch is None else linesearch,
    )
