"""Second-order (quasi-Newton) optimizers: L-BFGS."""

from __future__ import annotations

import inspect
from typing import Any

import optax

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms.linesearch import scale_by_strong_wolfe_linesearch
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
    *,
    tolerance_grad: float | None = None,
    tolerance_change: float | None = None,
    max_linesearch_steps: int | None = None,
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
    * torch.optim.LBFGS(lr, max_iter=1, max_eval=1 + max_linesearch_steps, tolerance_grad,
      tolerance_change, history_size, line_search_fn="strong_wolfe"): ``lbfgs(lr,
      memory_size=history_size, linesearch="strong_wolfe", tolerance_grad=...,
      tolerance_change=..., max_linesearch_steps=...)``, one update per ``step(closure)``. The
      recipe is then torch's::

          counted_chain(
              scale_by_lbfgs(memory_size, scale_init_precond, min_curvature=1e-10,
                             first_step_norm=1, tolerance_grad=tolerance_grad),
              scale(-1.0),
              scale_by_strong_wolfe_linesearch(max_linesearch_steps, initial_step=lr,
                                               tolerance_change=tolerance_change))

      (a pair is stored only when :math:`\langle y, s\rangle > 10^{-10}`, the first step
      starts at :math:`\min(1, 1/\|g\|_1)` times ``lr``, the others at ``lr``; no step where
      :math:`\max|g| \le` ``tolerance_grad`` or the slope is above ``-tolerance_change``;
      on the first update that slope is along the scaled direction, torch's along
      :math:`-g`).
      torch's ``max_eval`` must be given: for ``max_iter=1`` its default is 1, no search.
      torch with ``max_iter=k > 1`` runs up to ``k`` of these updates in one ``step``
      (``k`` optchain updates, while torch's early stops do not fire: its ``max_eval`` is
      shared by the ``k`` searches, and it stops when ``max|t d|`` or the change of the loss
      is below ``tolerance_change``). The first update sees :math:`\max|g|` of the first
      gradient: where that is already below ``tolerance_grad``, torch's next step is still
      its first, optchain's is not.

    Args:
      learning_rate: optional fixed or scheduled step size (``None``: 1, the line search's
        step alone); with ``"strong_wolfe"``, torch's ``lr``, where each search starts.
      memory_size: secant pairs kept, an int :math:`\ge 1`.
      scale_init_precond: scale the initial preconditioner by
        :math:`\langle\delta u,\delta w\rangle / \|\delta u\|^2`.
      linesearch: a transform choosing the step (``None``: none), or ``"strong_wolfe"``:
        torch.optim.LBFGS's algorithm (see above).
      tolerance_grad: with ``"strong_wolfe"``, :math:`\ge 0`, no step where
        :math:`\max|g|` is at most this (``None``: torch's 1e-7).
      tolerance_change: with ``"strong_wolfe"``, :math:`\ge 0` (``None``: torch's 1e-9).
      max_linesearch_steps: with ``"strong_wolfe"``, trials after the first, an int
        :math:`\ge 0` (``None``: 25).

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

      torch's ``LBFGS(line_search_fn="strong_wolfe", max_iter=1, max_eval=26)``, jitted:

      >>> import jax
      >>> tx = optchain.lbfgs(linesearch="strong_wolfe")
      >>> @jax.jit
      ... def step(w, state):
      ...     value, grad = value_and_grad(w, state=state)
      ...     u, state = tx.update(grad, state, w, value=value, grad=grad, value_fn=f)
      ...     return optax.apply_updates(w, u), state
      >>> w, state = jnp.zeros(2), tx.init(jnp.zeros(2))
      >>> for _ in range(8):
      ...     w, state = step(w, state)
      >>> jnp.round(w, 4), optax.tree.get(state, "num_linesearch_steps")
      (Array([1., 1.], dtype=float32), Array(0, dtype=int32))

    References:
      Nocedal & Wright, *Numerical Optimization*, 1999, algorithms 7.4 and 7.5.
      Liu & Nocedal, *On the limited memory BFGS method for large scale optimization*,
      Mathematical Programming 45, 1989.
    """
    torch_like = (tolerance_grad, tolerance_change, max_linesearch_steps)
    if isinstance(linesearch, str):
        _core.check_choice("linesearch", linesearch, ("strong_wolfe",))
        return _chain(
            scale_by_lbfgs(
                memory_size,
                scale_init_precond,
                min_curvature=1e-10,
                first_step_norm=1,
                tolerance_grad=1e-7 if tolerance_grad is None else tolerance_grad,
            ),
            scale(-1.0),
            scale_by_strong_wolfe_linesearch(
                25 if max_linesearch_steps is None else max_linesearch_steps,
                initial_step=1.0 if learning_rate is None else learning_rate,
                tolerance_change=1e-9 if tolerance_change is None else tolerance_change,
            ),
        )
    if any(value is not None for value in torch_like):
        raise ValueError(
            "tolerance_grad, tolerance_change and max_linesearch_steps apply to "
            f'linesearch="strong_wolfe" only; got linesearch={linesearch!r}'
        )
    step = scale(-1.0) if learning_rate is None else scale_by_learning_rate(learning_rate)
    return _chain(
        scale_by_lbfgs(memory_size, scale_init_precond),
        step,
        optax.identity() if linesearch is None else linesearch,
    )
