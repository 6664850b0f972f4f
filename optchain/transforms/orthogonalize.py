"""Orthogonalization of matrix updates by a Newton-Schulz iteration (Muon's core), as a pure
function on one tensor and as a transform on a tree.

A tensor is read as a batch of matrices through :class:`MuonDimensionNumbers` (optax's type):
the reduction axes form the rows, the output axes the columns, every other axis is a batch
axis. Each matrix :math:`X` is brought near its polar factor :math:`UV^H` (:math:`X = USV^H`)
by a few steps of :math:`X \\leftarrow aX + b(XX^H)X + c(XX^H)^2X`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeAlias

import jax
import jax.numpy as jnp
import optax
from jax.core import Tracer
from optax.contrib import MuonDimensionNumbers

from optchain import _core

__all__ = [
    "PRECONDITIONINGS",
    "NS_COEFFS_PRESETS",
    "MuonDimensionNumbers",
    "OrthogonalizeState",
    "newton_schulz",
    "orthogonalize_matrices",
    "ns_coefficients",
    "dimension_numbers_per_leaf",
    "matrix_fans",
]

PRECONDITIONINGS = ("frobenius", "spectral", "aol", "schatten")
"""How a matrix is scaled before the iteration (its singular values must lie below 1)."""

NS_COEFFS_PRESETS: dict[str, Any] = {
    "standard": (3.4445, -4.7750, 2.0315),
    "dion": (
        (4.0848, -6.8946, 2.9270),
        (3.9505, -6.3029, 2.6377),
        (3.7418, -5.5913, 2.3037),
        (2.8769, -3.1427, 1.2046),
        (2.8366, -3.0525, 1.2012),
    ),
}
"""Named coefficient sets: Jordan's quintic (one triple for every step) and Dion's (one per
step)."""


def ns_coefficients(ns_coeffs: Any, ns_steps: Any) -> jax.Array:
    """The coefficients as the float32 array the iteration reads: shape ``(3,)`` (the same
    triple every step) or ``(n, 3)`` (one triple per step, ``n <= ns_steps``; the last
    ``ns_steps`` rows are kept, as optax does). A string names a preset of
    :data:`NS_COEFFS_PRESETS`.

    Raises:
      ValueError: for an unknown preset, another shape, or too many rows.
    """
    if isinstance(ns_coeffs, str):
        if ns_coeffs not in NS_COEFFS_PRESETS:
            raise ValueError(
                f"ns_coeffs must be one of {tuple(NS_COEFFS_PRESETS)} or coefficients; "
                f"got {ns_coeffs!r}"
            )
        ns_coeffs = NS_COEFFS_PRESETS[ns_coeffs]
    try:
        coeffs = jnp.asarray(ns_coeffs, jnp.float32)
    except (TypeError, ValueError):
        raise ValueError(
            f"ns_coeffs must be numbers of shape (3,) or (n, 3); got {ns_coeffs!r}"
        ) from None
    if coeffs.ndim not in (1, 2) or coeffs.shape[-1] != 3:
        raise ValueError(f"ns_coeffs must have shape (3,) or (n, 3); got shape {coeffs.shape}")
    if coeffs.ndim == 2:
        if coeffs.shape[0] > int(ns_steps):
            raise ValueError(
                f"ns_coeffs has {coeffs.shape[0]} rows (one per step): more than ns_steps="
                f"{ns_steps} (optax raises 'Not enough coeffs' here)"
            )
        coeffs = coeffs[-int(ns_steps) :]
    return coeffs


def _axes(dims: MuonDimensionNumbers, ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    def tup(axes: int | Sequence[int]) -> tuple[int, ...]:
        return tuple(a % ndim for a in ((axes,) if isinstance(axes, int) else axes))

    return tup(dims.reduction_axis), tup(dims.output_axis)


def matrix_fans(shape: Sequence[int], dims: MuonDimensionNumbers | None) -> tuple[int, int]:
    """``(fan_in, fan_out)``: the products of the reduction and of the output axes' sizes
    (``None``: a matrix, rows then columns)."""
    rows, cols = _axes(dims or MuonDimensionNumbers(), len(shape))
    return math.prod(shape[a] for a in rows), math.prod(shape[a] for a in cols)


def _as_matrices(x: jax.Array, dims: MuonDimensionNumbers):
    """``x`` as a stack ``(batch, rows, cols)`` and the function that undoes it."""
    if x.ndim < 2:
        raise ValueError(f"orthogonalized leaves must have rank >= 2; got shape {x.shape}")
    rows, cols = _axes(dims, x.ndim)
    if set(rows) & set(cols):
        raise ValueError(
            f"reduction axes {rows} and output axes {cols} overlap (shape {x.shape}, {dims})"
        )
    batch = tuple(a for a in range(x.ndim) if a not in rows and a not in cols)
    order = batch + rows + cols
    moved = tuple(x.shape[a] for a in order)

    def size(axes: tuple[int, ...]) -> int:
        return math.prod(x.shape[a] for a in axes)

    stacked = x.transpose(order).reshape(size(batch), size(rows), size(cols))
    back = tuple(order.index(a) for a in range(x.ndim))
    return stacked, lambda m: m.reshape(moved).transpose(back)


def _quintic(x: jax.Array, gram: jax.Array, c: jax.Array) -> jax.Array:
    """One Newton-Schulz step given :math:`A = XX^H`: :math:`c_0 X + (c_1 A + c_2 A^2) X`."""
    return c[0] * x + (c[1] * gram + c[2] * gram @ gram) @ x


def _gram(x: jax.Array) -> jax.Array:
    return x @ x.T.conj()


def _first_step(x: jax.Array, c: jax.Array, preconditioning: str, eps: Any) -> jax.Array:
    """The first step; 'aol' and 'schatten' rescale inside it, reusing its Gram matrix."""
    gram = _gram(x)
    if preconditioning == "aol":  # rows scaled by 1/sqrt(sum_j |A_ij|) (Gershgorin bound)
        s = jax.lax.rsqrt(jnp.clip(jnp.abs(gram).sum(axis=-1), min=eps))[:, None]
        s = s.astype(x.dtype)
        x, gram = x * s, gram * s * s.T
    elif preconditioning == "schatten":  # divide by the Schatten-4 norm, sqrt(||A||_F)
        s = jax.lax.rsqrt(jnp.clip(jnp.linalg.norm(gram, ord="fro"), min=eps)).astype(x.dtype)
        x, gram = x * s, gram * s**2
    return _quintic(x, gram, c)


def _orthogonalize_matrix(x, coeffs, ns_steps, preconditioning, eps):
    flip = x.shape[0] > x.shape[1]  # iterate on the wide side: A is the smaller Gram matrix
    if flip:
        x = x.T
    if preconditioning == "frobenius":
        x = x / (jnp.linalg.norm(x, ord="fro") + eps).astype(x.dtype)
    elif preconditioning == "spectral":
        x = x / (jnp.linalg.norm(x, ord=2) + eps).astype(x.dtype)
    coeffs = coeffs.astype(x.dtype)
    if coeffs.ndim == 1 and isinstance(ns_steps, Tracer):  # an injected step count

        def step(i, x):
            first = lambda x: _first_step(x, coeffs, preconditioning, eps)  # noqa: E731
            return jax.lax.cond(i == 0, first, lambda x: _quintic(x, _gram(x), coeffs), x)

        x = jax.lax.fori_loop(0, ns_steps, step, x)
    elif coeffs.ndim == 1:  # unrolled: composes well with the vmap over the batch
        for i in range(int(ns_steps)):
            x = _quintic(x, _gram(x), coeffs) if i else _first_step(x, coeffs, preconditioning, eps)
    else:  # one row per step: a scan over the rows, the first step preconditioned

        def body(carry, c):
            i, x = carry
            first = lambda x: _first_step(x, c, preconditioning, eps)  # noqa: E731
            x = jax.lax.cond(i == 0, first, lambda x: _quintic(x, _gram(x), c), x)
            return (i + 1, x), None

        (_, x), _ = jax.lax.scan(body, (jnp.zeros([], jnp.int32), x), coeffs)
    return x.T if flip else x


def newton_schulz(
    x: jax.Array,
    ns_coeffs: Any = NS_COEFFS_PRESETS["standard"],
    ns_steps: int = 5,
    preconditioning: str = "frobenius",
    eps: Any = 1e-8,
    dimension_numbers: MuonDimensionNumbers | None = None,
) -> jax.Array:
    r"""Newton-Schulz orthogonalization: :math:`X \leftarrow c_0 X + c_1 (XX^H) X + c_2 (XX^H)^2 X`, ``ns_steps`` times.

    Each matrix is first scaled so that its singular values are at most about 1
    (``preconditioning``: divided by its Frobenius norm + ``eps``, by its spectral norm +
    ``eps``; 'aol' scales row :math:`i` by :math:`(\sum_j |A_{ij}|)^{-1/2}` and 'schatten' the
    whole matrix by :math:`\|A\|_F^{-1/2}` inside the first step, :math:`A = XX^H`). The
    polynomial maps every singular value :math:`\sigma \in (0, 1]` towards a band around 1
    (about :math:`[0.7, 1.2]` for the default coefficients), leaving the singular vectors:
    the result is close to :math:`UV^H` for :math:`X = USV^H`. A tall matrix is iterated on
    its transpose (the same result, a smaller :math:`A`). Values are optax's
    ``orthogonalize_via_newton_schulz``.

    Args:
      x: a matrix, or a tensor read through ``dimension_numbers``.
      ns_coeffs: :math:`(c_0, c_1, c_2)`, or one such row per step (shape ``(n, 3)``: then
        ``ns_steps`` is ignored), or a preset name ('standard', 'dion').
      ns_steps: the number of steps for a single triple.
      preconditioning: one of :data:`PRECONDITIONINGS`.
      eps: added to the norms before dividing.
      dimension_numbers: the reduction (row) and output (column) axes; other axes are batch
        axes, each matrix orthogonalized on its own. ``None``: ``x`` is a matrix.

    Returns:
      The orthogonalized tensor, ``x``'s shape and dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> out = newton_schulz(jnp.diag(jnp.array([3.0, 0.5])))  # diagonal stays diagonal
      >>> bool(jnp.all(out[[0, 1], [1, 0]] == 0)), bool(jnp.all(jnp.diag(out) > 0.6))
      (True, True)

    References:
      Jordan et al., *Muon: An optimizer for hidden layers in neural networks*, 2024;
      Boissin et al., *Turbo-Muon* (AOL), arXiv:2512.04632; Grishina et al. (Schatten-4),
      arXiv:2506.10935.
    """
    _core.check_choice("preconditioning", preconditioning, PRECONDITIONINGS)
    coeffs = ns_coeffs if isinstance(ns_coeffs, jax.Array) else ns_coefficients(ns_coeffs, ns_steps)
    if coeffs.ndim not in (1, 2) or coeffs.shape[-1] != 3:
        raise ValueError(f"ns_coeffs must have shape (3,) or (n, 3); got shape {coeffs.shape}")
    if dimension_numbers is None:
        if x.ndim != 2:
            raise ValueError(
                f"a leaf of shape {x.shape} is not a matrix: give its dimension_numbers "
                "(reduction and output axes), or leave it out (muon sends it to Adam)"
            )
        dimension_numbers = MuonDimensionNumbers()
    stacked, unstack = _as_matrices(x, dimension_numbers)

    def one(m):
        return _orthogonalize_matrix(m, coeffs, ns_steps, preconditioning, eps)

    return unstack(jax.vmap(one)(stacked))


class _Dims:
    """One leaf's dimension numbers (a holder, so ``None`` survives a tree map)."""

    def __init__(self, dims: Any) -> None:
        self.dims = dims


def _is_dims(x: Any) -> bool:
    return x is None or isinstance(x, MuonDimensionNumbers)


DimensionNumbers: TypeAlias = "MuonDimensionNumbers | Callable[[Any], Any] | Any | None"
"""One :class:`MuonDimensionNumbers`, a tree of them (``None``: a matrix), or a function of the
updates returning such a tree."""


def dimension_numbers_per_leaf(dimension_numbers: DimensionNumbers, updates: Any) -> Any:
    """A tree shaped like ``updates`` holding each leaf's dimension numbers (in holders).

    ``dimension_numbers`` is ``None`` (every leaf a matrix), one :class:`MuonDimensionNumbers`
    for every leaf, a tree of them that is a prefix of ``updates`` (``None`` there: a matrix;
    ``optax.MaskedNode`` where ``updates`` has one), or a function of the updates returning
    such a tree.
    """
    dims = dimension_numbers(updates) if callable(dimension_numbers) else dimension_numbers
    if _is_dims(dims):
        return jax.tree.map(lambda _: _Dims(dims), updates)
    return jax.tree.map(
        lambda d, sub: jax.tree.map(lambda _: _Dims(d), sub), dims, updates, is_leaf=_is_dims
    )


class OrthogonalizeState(NamedTuple):
    """State of :func:`orthogonalize_matrices`: the coefficients (optax's ``ns_coeffs``)."""

    ns_coeffs: jax.Array


def orthogonalize_matrices(
    ns_coeffs: Any = NS_COEFFS_PRESETS["standard"],
    ns_steps: int = 5,
    *,
    preconditioning: str = "frobenius",
    eps: Any = 1e-8,
    dimension_numbers: DimensionNumbers = None,
) -> optax.GradientTransformation:
    r"""Replace each matrix update by its Newton-Schulz orthogonalization: :math:`U \mapsto` :func:`newton_schulz` :math:`(U)`.

    The coefficients live in the state (``ns_coeffs``, float32, shape ``(3,)`` or
    ``(n, 3)``, as in optax's ``MuonState``); each update reads them from there. Integer and
    boolean leaves get a zero update. Complex matrices use :math:`XX^H` (for 'schatten' too,
    where optax uses :math:`XX^T`).

    Args:
      ns_coeffs, ns_steps, preconditioning, eps: as in :func:`newton_schulz` (checked here).
      dimension_numbers: see :func:`dimension_numbers_per_leaf` (``None``: every leaf is a
        matrix).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`OrthogonalizeState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.orthogonalize_matrices(ns_steps=10)
      >>> u, _ = tx.update(jnp.array([[2.0, 0.0], [0.0, -1.0]]), tx.init(None))
      >>> jnp.abs(jnp.abs(u) - jnp.eye(2)).max() < 0.35  # near sign(diag)
      Array(True, dtype=bool)

    References:
      Jordan et al., *Muon: An optimizer for hidden layers in neural networks*, 2024.
    """
    _core.check_choice("preconditioning", preconditioning, PRECONDITIONINGS)
    _core.check_hyperparameter("ns_steps", ns_steps, low=0.0, integer=True, allow_schedule=False)
    _core.check_hyperparameter("eps", eps, low=0.0, allow_schedule=False)
    coeffs = ns_coefficients(ns_coeffs, ns_steps)

    def init_fn(params):
        del params
        return OrthogonalizeState(jnp.array(coeffs, copy=True))

    def update_fn(updates, state, params=None):
        del params
        dims = dimension_numbers_per_leaf(dimension_numbers, updates)

        def leaf(u, d):
            return newton_schulz(u, state.ns_coeffs, ns_steps, preconditioning, eps, d.dims)

        return _core.map_floats(leaf, updates, dims, same_shape=False), state

    return optax.GradientTransformation(init_fn, update_fn)
