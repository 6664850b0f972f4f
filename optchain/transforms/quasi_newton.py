"""Quasi-Newton preconditioning: the L-BFGS two-loop recursion over a memory of secant pairs."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain.transforms.linesearch import max_abs, real_parts

__all__ = ["ScaleByLBFGSState", "scale_by_lbfgs"]


@_core.shares_count()
class ScaleByLBFGSState(NamedTuple):
    """State of :func:`scale_by_lbfgs` (optax's fields).

    Attributes:
      count: updates seen so far.
      params: the parameters of the last update.
      updates: the (raw) updates of the last update.
      diff_params_memory: the last ``memory_size`` parameter differences
        :math:`\\delta w`, stacked on a leading axis (a ring buffer).
      diff_updates_memory: the matching update differences :math:`\\delta u`.
      weights_memory: :math:`\\rho = 1 / \\mathrm{Re}\\langle \\delta u, \\delta w\\rangle`
        of each pair (0 where the curvature is 0), in the default float dtype.
    """

    count: jax.Array
    params: Any
    updates: Any
    diff_params_memory: Any
    diff_updates_memory: Any
    weights_memory: jax.Array


def _vdot(a: list, b: list) -> jax.Array:
    r""":math:`\mathrm{Re} \sum \bar a b` over lists of leaves (leaves of several dtypes sum
    under standard promotion, as in optax's ``tree.vdot``). A product and a sum, not a dot:
    a dot over a sharded axis needs an output sharding under explicit mesh axes."""
    with jax.numpy_dtype_promotion("standard"):
        parts = [jnp.sum(jnp.real(jnp.conj(x) * y)) for x, y in zip(a, b)]
        return sum(parts, jnp.zeros([], _real())).astype(_real())


def _sq_norm(a: list) -> jax.Array:
    with jax.numpy_dtype_promotion("standard"):
        return optax.tree.norm(a, squared=True).astype(_real())


def _abs_sum(a: list) -> jax.Array:
    r""":math:`\|a\|_1` over lists of leaves, real and imaginary parts apart (torch's view)."""
    parts = [jnp.sum(jnp.abs(p)).astype(_real()) for x in a for p in real_parts(x)]
    return sum(parts, jnp.zeros([], _real()))


def _real() -> Any:
    """The default real dtype (float32; float64 under x64), optax's ``weights_memory`` dtype."""
    return jnp.zeros([]).dtype


def _axpy(x: list, s: jax.Array, y: list) -> list:
    """``x + s y`` leaf by leaf, in ``x``'s dtypes."""
    return [(xi + _core.as_scalar(s, xi.dtype) * yi).astype(xi.dtype) for xi, yi in zip(x, y)]


def _two_loop(u, dw, du, rho, gamma, start):
    r""":math:`P u` by the two-loop recursion (Nocedal & Wright, algorithm 7.4): ``dw``, ``du``
    are lists of stacked memories, ``rho`` their weights, ``start`` the oldest slot."""
    size = rho.shape[0]
    order = (start + jnp.arange(size)) % size

    def backward(vec, i):
        alpha = rho[i] * _vdot([m[i] for m in dw], vec)
        return _axpy(vec, -alpha, [m[i] for m in du]), alpha

    vec, alphas = jax.lax.scan(backward, u, order, reverse=True)
    vec = [_core.as_scalar(gamma, v.dtype) * v for v in vec]

    def forward(vec, i_alpha):
        i, alpha = i_alpha
        beta = rho[i] * _vdot([m[i] for m in du], vec)
        return _axpy(vec, alpha - beta, [m[i] for m in dw]), beta

    vec, _ = jax.lax.scan(forward, vec, (order, alphas))
    return vec


def scale_by_lbfgs(
    memory_size: int = 10,
    scale_init_precond: bool = True,
    *,
    min_curvature: float | None = None,
    first_step_norm: int = 2,
    tolerance_grad: float | None = None,
) -> optax.GradientTransformation:
    r"""The L-BFGS direction :math:`P_k u_k` (optax's ``scale_by_lbfgs``): no step size, no sign.

    Each update first stores the secant pair :math:`\delta w = w_k - w_{k-1}`,
    :math:`\delta u = u_k - u_{k-1}`, :math:`\rho = 1/\mathrm{Re}\langle\delta u,\delta w\rangle`
    (nothing on the first update) in a ring of ``memory_size`` slots, then returns
    :math:`P_k u_k`, with :math:`P_k` the L-BFGS inverse-Hessian approximation built from the
    stored pairs on top of :math:`\gamma_k I` by the two-loop recursion:

    .. math::
        P_{k,j+1} = V_j^\top P_{k,j} V_j + \rho_j \delta w_j \delta w_j^\top,\quad
        V_j = I - \rho_j \delta u_j \delta w_j^\top,

    :math:`\gamma_k = \langle\delta u,\delta w\rangle / \|\delta u\|^2` of the newest pair
    with ``scale_init_precond`` (else 1), and :math:`\gamma_0 = \min(1, 1/\|u_0\|)` (optax's
    heuristic: the first step stays in the unit ball). Chain a step size (``scale(-1.0)``) and a
    line search after it (:func:`optchain.lbfgs`). Complex leaves use the real part of the
    Hermitian product; integer and bool leaves get zero updates and take no part in the
    products.

    torch.optim.LBFGS's conventions are keywords (:func:`optchain.lbfgs` with
    ``linesearch="strong_wolfe"`` sets them): ``min_curvature=1e-10`` stores a pair only when
    :math:`\mathrm{Re}\langle\delta u,\delta w\rangle` exceeds it (the memory then holds the
    stored pairs oldest first, slot :math:`m-1` the newest, and :math:`\gamma_k` comes from the
    newest stored pair, 1 before any); ``first_step_norm=1`` makes
    :math:`\gamma_0 = \min(1, 1/\|u_0\|_1)`; ``tolerance_grad`` returns a zero update and
    leaves the state as it was (the count aside) where :math:`\max|u| \le` ``tolerance_grad``.

    Args:
      memory_size: :math:`m \ge 1`, secant pairs kept (an int).
      scale_init_precond: scale the initial preconditioner by :math:`\gamma_k`.
      min_curvature: ``None`` (optax: every pair is stored, with :math:`\rho = 0` where the
        curvature is 0) or a float :math:`\ge 0` (torch: 1e-10), the curvature a pair needs.
      first_step_norm: 2 (optax; only with ``scale_init_precond``, else
        :math:`\gamma_0 = 1`) or 1 (torch; always), the norm in :math:`\gamma_0`.
      tolerance_grad: ``None`` (never) or :math:`\ge 0` (torch: 1e-7), the largest
        :math:`\max|u|` at which no step is taken.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByLBFGSState`; ``update``
      needs ``params``.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.scale_by_lbfgs(memory_size=3)
      >>> w = jnp.array([3.0, 4.0])
      >>> u, state = tx.update(w, tx.init(w), w)  # first step: u / max(1, |u|)
      >>> u
      Array([0.6, 0.8], dtype=float32)
      >>> w2 = w - u  # on |w|**2 / 2 the gradient is w: one secant pair makes P exact here
      >>> u, state = tx.update(w2, state, w2)
      >>> w2, w2 - u  # the Newton step reaches the minimum
      (Array([2.4, 3.2], dtype=float32), Array([0., 0.], dtype=float32))

    References:
      Nocedal & Wright, *Numerical Optimization*, 1999, algorithms 7.4 and 7.5.
      Liu & Nocedal, *On the limited memory BFGS method for large scale optimization*,
      Mathematical Programming 45, 1989.
    """
    _core.check_hyperparameter(
        "memory_size", memory_size, low=1.0, integer=True, allow_schedule=False
    )
    if not isinstance(scale_init_precond, bool):
        raise ValueError(f"scale_init_precond must be True or False; got {scale_init_precond!r}")
    if min_curvature is not None:
        _core.check_hyperparameter("min_curvature", min_curvature, low=0.0, allow_schedule=False)
    if type(first_step_norm) is not int or first_step_norm not in (1, 2):
        raise ValueError(f"first_step_norm must be one of (1, 2); got {first_step_norm!r}")
    if tolerance_grad is not None:
        _core.check_hyperparameter("tolerance_grad", tolerance_grad, low=0.0, allow_schedule=False)

    def init_fn(params):
        zeros = _core.tree_zeros(params)
        return ScaleByLBFGSState(
            count=_core.zero_count(),
            params=zeros,
            updates=_core.tree_zeros(params),
            # stacked copies of the zeros keep the parameters' sharding on their own axes
            diff_params_memory=jax.tree.map(lambda z: jnp.stack([z] * memory_size), zeros),
            diff_updates_memory=jax.tree.map(lambda z: jnp.stack([z] * memory_size), zeros),
            weights_memory=jnp.zeros([memory_size], _real()),
        )

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "scale_by_lbfgs")
        u_all, treedef = jax.tree.flatten(updates)
        u_all = [_core.as_leaf(x) for x in u_all]
        floats = [_core.is_float(x) for x in u_all]

        def pick(tree):
            return [_core.as_leaf(x) for x, f in zip(jax.tree.leaves(tree), floats) if f]

        u, w = pick(updates), pick(params)
        first = state.count == 0
        dw = [a - b for a, b in zip(w, pick(state.params))]
        du = [a - b for a, b in zip(u, pick(state.updates))]
        curvature = _vdot(du, dw)
        rho = jnp.where(curvature == 0.0, 0.0, 1.0 / curvature)
        dw, du, rho = jax.tree.map(lambda x: jnp.where(first, jnp.zeros_like(x), x), (dw, du, rho))
        old = pick(state.diff_params_memory), pick(state.diff_updates_memory)
        weights = state.weights_memory
        if min_curvature is None:  # optax: a ring buffer, written on every update
            slot = (state.count - 1) % memory_size
            dw_memory = [m.at[slot].set(d) for m, d in zip(old[0], dw)]
            du_memory = [m.at[slot].set(d) for m, d in zip(old[1], du)]
            weights = weights.at[slot].set(rho.astype(weights.dtype))
            start, newest_dw, newest_du = state.count % memory_size, dw, du
        else:  # torch: oldest first, a pair enters only with enough curvature
            keep = ~first & (curvature > min_curvature)
            dw_memory, du_memory, weights = jax.tree.map(
                lambda m, x: jnp.where(keep, jnp.concatenate([m[1:], x[None]]), m),
                (old[0], old[1], weights),
                (dw, du, rho.astype(weights.dtype)),
            )
            start = 0
            newest_dw, newest_du = [m[-1] for m in dw_memory], [m[-1] for m in du_memory]
        if scale_init_precond:
            squared = _sq_norm(newest_du)
            gamma = jnp.where(squared > 0.0, _vdot(newest_du, newest_dw) / squared, 1.0)
        else:
            gamma = jnp.ones([], _real())
        if scale_init_precond or first_step_norm == 1:
            norm = jnp.sqrt(_sq_norm(u)) if first_step_norm == 2 else _abs_sum(u)
            gamma = jnp.where(first, jnp.minimum(1.0, 1.0 / jax.lax.stop_gradient(norm)), gamma)
        direction = _two_loop(u, dw_memory, du_memory, weights, gamma, start)
        if tolerance_grad is not None:  # torch: no step, and nothing stored, at an optimum
            optimal = max_abs(u, _real()) <= tolerance_grad
            direction = [jnp.where(optimal, jnp.zeros_like(x), x) for x in direction]
            w, u, dw_memory, du_memory, weights = jax.tree.map(
                lambda a, b: jnp.where(optimal, b, a),
                (w, u, dw_memory, du_memory, weights),
                (pick(state.params), pick(state.updates), *old, state.weights_memory),
            )

        def unpick(new, old):
            """The full leaf list: ``new``'s leaves where the updates are floats, else ``old``."""
            new = iter(new)
            return [next(new) if f else o for f, o in zip(floats, old)]

        def rebuild(new, old_tree):
            return jax.tree.unflatten(treedef, unpick(new, jax.tree.leaves(old_tree)))

        zeros = [_core.zero_update(x) for x in u_all]
        out = jax.tree.unflatten(treedef, unpick(direction, zeros))
        return out, ScaleByLBFGSState(
            count=_core.next_count(state.count),
            params=rebuild(w, state.params),
            updates=rebuild(u, state.updates),
            diff_params_memory=rebuild(dw_memory, state.diff_params_memory),
            diff_updates_memory=rebuild(du_memory, state.diff_updates_memory),
            weights_memory=weights,
        )

    return optax.GradientTransformation(init_fn, update_fn)
