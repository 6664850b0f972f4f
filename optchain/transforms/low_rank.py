"""Low-rank gradient projection (GaLore): an inner optimizer that runs in a rank-r subspace of
each weight matrix's gradient, refreshed from the gradient's SVD every few steps."""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from optax.contrib import GaLoreDimensionNumbers

from optchain import _core

__all__ = ["GaLoreState", "galore_projection"]


@_core.shares_count()
class GaLoreState(NamedTuple):
    """State of :func:`galore_projection` (optax's ``GaLoreState`` fields): the step counter,
    the inner optimizer's state (on the low-rank tree) and one projector per leaf (a
    ``(0, 0)`` array where the leaf is not projected)."""

    count: jax.Array
    base_optimizer_state: Any
    projector: Any


class _Plan(NamedTuple):
    """How one leaf is seen as a matrix: axis order, matrix shape, side and rank."""

    order: tuple[int, ...]
    rows: int
    cols: int
    left: bool  # project the columns' space (rows >= cols): P^H G, else G P
    rank: int


def _axes(axes: Any, ndim: int, where: str) -> tuple[int, ...]:
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    for axis in axes:
        if not -ndim <= int(axis) < ndim:
            raise ValueError(f"galore: axis {axis} is out of range for the {ndim}-d leaf {where}")
    return tuple(int(axis) % ndim for axis in axes)


def _plan(leaf: Any, dims: Any, rank: int, where: str) -> _Plan | None:
    if dims is None or not _core.is_float(leaf):
        return None
    if not isinstance(dims, GaLoreDimensionNumbers):
        raise ValueError(
            f"galore: weight_dimension_numbers at {where} must be a GaLoreDimensionNumbers or "
            f"None; got {dims!r}"
        )
    shape = tuple(jnp.shape(leaf))
    if len(shape) < 2:
        raise ValueError(f"galore: the leaf {where} of shape {shape} is no matrix (rank < 2)")
    reduction = _axes(dims.reduction_axis, len(shape), where)
    output = _axes(dims.output_axis, len(shape), where)
    if sorted(reduction + output) != list(range(len(shape))):
        raise ValueError(
            f"galore: the reduction axes {reduction} and output axes {output} of the leaf "
            f"{where} must split its {len(shape)} axes into two disjoint groups"
        )
    rows = math.prod(shape[a] for a in reduction)
    cols = math.prod(shape[a] for a in output)
    return _Plan(reduction + output, rows, cols, rows >= cols, min(rank, rows, cols))


def _to_matrix(x: jax.Array, plan: _Plan) -> jax.Array:
    return jnp.transpose(x, plan.order).reshape(plan.rows, plan.cols)


def _from_matrix(m: jax.Array, plan: _Plan, shape: tuple[int, ...]) -> jax.Array:
    permuted = tuple(shape[a] for a in plan.order)
    return jnp.transpose(m.reshape(permuted), tuple(int(a) for a in np.argsort(plan.order)))


def _basis(m: jax.Array, plan: _Plan, dtype: Any) -> jax.Array:
    """The top ``rank`` singular vectors of ``m`` (left ones as columns where ``plan.left``,
    else the right ones as columns), from an SVD in at least float32 (complex stays complex)."""
    u, _, vh = jnp.linalg.svd(m.astype(_core.compute_dtype(m.dtype)), full_matrices=False)
    basis = u[:, : plan.rank] if plan.left else jnp.conj(vh[: plan.rank, :]).T
    return basis.astype(dtype)


def _finite_basis(m: jax.Array, plan: _Plan, old: jax.Array) -> jax.Array:
    """:func:`_basis` of a finite ``m``; ``old`` for a non-finite one: LAPACK's SVD of NaN or
    inf need not converge (it hangs), and that step is garbage anyway (``skip_nonfinite``).
    Checked inside the refresh branch, so the steps between refreshes read ``m`` once."""
    return jax.lax.cond(
        jnp.all(jnp.isfinite(m)), functools.partial(_basis, m, plan, old.dtype), lambda: old
    )


def _adjoint(p: jax.Array) -> jax.Array:
    return jnp.conj(p).T if _core.is_complex(p) else p.T


def _check_projector(where: str, g: Any, plan: _Plan | None, p: jax.Array) -> None:
    """A gradient of another shape than the parameters' asks for another projector: say so by
    the leaf's path (at trace time) instead of failing inside the refresh."""
    want = (0, 0) if plan is None else ((plan.rows if plan.left else plan.cols), plan.rank)
    if tuple(p.shape) != want:
        raise ValueError(
            f"updates{where} has shape {tuple(jnp.shape(g))} but galore's projector there has "
            f"shape {tuple(p.shape)}: the gradient does not match the parameters the optimizer "
            "was initialised with"
        )


def galore_projection(
    base_optimizer: optax.GradientTransformation,
    rank: int = 128,
    update_proj_gap: int = 200,
    scale: _core.ScalarOrSchedule = 1.0,
    weight_dimension_numbers: Any = None,
) -> optax.GradientTransformation:
    r"""Runs ``base_optimizer`` on rank-r projections of matrix gradients: :math:`u = s\,P\,B(P^H G)` (or :math:`s\,B(G P) P^H`).

    For each matrix leaf :math:`G` (:math:`m \times n`), :math:`P` holds the top
    :math:`r = \min(\text{rank}, m, n)` left singular vectors of :math:`G` where
    :math:`m \ge n` (the base optimizer sees :math:`P^H G`, :math:`r \times n`), else the top
    right ones (it sees :math:`G P`, :math:`m \times r`). :math:`P` is recomputed from the
    gradient's SVD (in at least float32) on the steps :math:`t` with
    :math:`t \bmod` ``update_proj_gap`` :math:`= 0` (:math:`t` the counter, 0 on the first
    update) and kept in between; the base optimizer's output is projected back and scaled by
    :math:`s`. Leaves that are not projected go through the base optimizer in full and are
    not scaled (as in optax). Integer and boolean leaves get a zero update. Complex matrices
    use the complex SVD and :math:`P^H` (optax drops the imaginary part of the gradient before
    its SVD). The base optimizer gets no ``params``: it must be a pure gradient
    transformation (``scale_by_adam``, not ``adamw``).

    Args:
      base_optimizer: the transform run in the subspace (optax's ``scale_by_adam`` in
        :func:`optchain.scale_by_galore` by default).
      rank: the target rank :math:`r \ge 1`.
      update_proj_gap: steps between two SVDs (:math:`\ge 1`).
      scale: :math:`s`, applied to the projected leaves, or a schedule.
      weight_dimension_numbers: which axes form each leaf's matrix: ``None`` (every 2-d leaf,
        rows axis 0, columns axis 1), one ``GaLoreDimensionNumbers`` (every leaf of rank
        >= 2), a tree of them (``None`` where a leaf is not projected), or a function of the
        parameters that returns such a tree.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`GaLoreState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.galore_projection(optchain.scale(1.0), rank=1)
      >>> g = jnp.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
      >>> tx.update(g, tx.init(g))[0]  # the rank-1 part of g
      Array([[3., 0.],
             [0., 0.],
             [0., 0.]], dtype=float32)

    References:
      Zhao et al., *GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection*,
      ICML 2024.
    """
    _core.check_hyperparameter("rank", rank, low=1.0, integer=True, allow_schedule=False)
    _core.check_hyperparameter(
        "update_proj_gap", update_proj_gap, low=1.0, integer=True, allow_schedule=False
    )
    _core.check_hyperparameter("scale", scale)
    spec = weight_dimension_numbers

    def plans(tree: Any) -> tuple[Any, list[tuple[str, Any]], list[_Plan | None]]:
        leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
        if spec is None:  # every 2-d leaf, axes (0, 1)
            dims = [GaLoreDimensionNumbers() if jnp.ndim(x) == 2 else None for _, x in leaves]
        elif isinstance(spec, GaLoreDimensionNumbers):  # every leaf of rank >= 2
            dims = [spec if jnp.ndim(x) >= 2 else None for _, x in leaves]
        else:
            given = spec(tree) if callable(spec) else spec
            try:
                dims = treedef.flatten_up_to(given)
            except (ValueError, TypeError) as error:
                raise ValueError(
                    f"galore: weight_dimension_numbers must have the parameters' structure: {error}"
                ) from None
        named = [(jax.tree_util.keystr(path), x) for path, x in leaves]
        return treedef, named, [_plan(x, d, rank, w) for (w, x), d in zip(named, dims)]

    def init_fn(params):
        treedef, leaves, leaf_plans = plans(params)
        projectors, proxies = [], []
        for (_, p), plan in zip(leaves, leaf_plans):
            p = _core.as_leaf(p)
            if plan is None:
                projectors.append(jnp.zeros((0, 0), p.dtype))
                proxies.append(jnp.zeros_like(p))
                continue
            side = plan.rows if plan.left else plan.cols
            low = (plan.rank, plan.cols) if plan.left else (plan.rows, plan.rank)
            projectors.append(jnp.zeros((side, plan.rank), p.dtype))
            proxies.append(jnp.zeros(low, p.dtype))
        base_state = base_optimizer.init(treedef.unflatten(proxies))
        return GaLoreState(_core.zero_count(), base_state, treedef.unflatten(projectors))

    def update_fn(updates, state, params=None):
        del params
        treedef, leaves, leaf_plans = plans(updates)
        refresh = state.count % update_proj_gap == 0
        s = _core.resolve(scale, state.count)
        old = treedef.flatten_up_to(state.projector)
        low, projectors = [], []
        for (where, g), plan, p in zip(leaves, leaf_plans, old):
            _check_projector(where, g, plan, p)
            if plan is None:
                low.append(g)
                projectors.append(p)
                continue
            m = _to_matrix(g, plan)
            p = jax.lax.cond(refresh, functools.partial(_finite_basis, m, plan, p), lambda: p)
            projectors.append(p)
            q = p.astype(g.dtype)
            low.append(_adjoint(q) @ m if plan.left else m @ q)
        out, base_state = base_optimizer.update(
            treedef.unflatten(low), state.base_optimizer_state, None
        )
        full = []
        for (_, g), plan, p, u in zip(leaves, leaf_plans, projectors, treedef.flatten_up_to(out)):
            if not _core.is_float(g):
                full.append(_core.zero_update(g))
            elif plan is None:
                full.append(u)
            else:
                q = p.astype(g.dtype)
                back = q @ u if plan.left else u @ _adjoint(q)
                back = _from_matrix(back, plan, tuple(g.shape))
                full.append((_core.as_scalar(s, back.dtype) * back).astype(g.dtype))
        new_state = GaLoreState(
            _core.next_count(state.count), base_state, treedef.unflatten(projectors)
        )
        return treedef.unflatten(full), new_state

    return optax.GradientTransformation(init_fn, update_fn)
