"""Landscape diagnostics from Hessian-vector products: extreme eigenvalues (Lanczos), condition
number, trace (Hutchinson), spectral density (stochastic Lanczos quadrature), the second-order
step test, saddle detection, linear mode connectivity and sharpness.

Every function takes ``loss_fn(params, *args) -> scalar`` and never forms the Hessian: one
Hessian-vector product costs about two gradient evaluations (forward-over-reverse).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

LossFn = Callable[..., jax.Array]


def hvp(loss_fn: LossFn, params: Any, *args: Any) -> Callable[[Any], Any]:
    """``v -> H v`` at ``params`` (a tree like ``params``), by forward-over-reverse.

    Example:
      >>> import jax.numpy as jnp
      >>> f = lambda w: jnp.sum(w[0] ** 2 + 3 * w[0] * w[1])
      >>> hvp(f, jnp.ones(2))(jnp.array([1.0, 0.0]))
      Array([2., 3.], dtype=float32)
    """

    def grad_fn(p):
        return jax.grad(loss_fn)(p, *args)

    def apply(v):
        return jax.jvp(grad_fn, (params,), (v,))[1]

    return apply


def _flat_hvp(
    loss_fn: LossFn, params: Any, args: tuple
) -> tuple[Callable[[jax.Array], jax.Array], int, Any]:
    flat, unravel = ravel_pytree(params)
    product = hvp(loss_fn, params, *args)

    @jax.jit
    def matvec(v):
        return ravel_pytree(product(unravel(v.astype(flat.dtype))))[0].astype(jnp.float32)

    return matvec, flat.size, flat.dtype


class Lanczos(NamedTuple):
    """Tridiagonal ``T`` from :func:`lanczos`: diagonal ``alpha``, off-diagonal ``beta``."""

    alpha: np.ndarray
    beta: np.ndarray

    def ritz(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues of ``T`` (ascending) and the squared first components of its
        eigenvectors (the quadrature weights of stochastic Lanczos quadrature)."""
        t = np.diag(self.alpha) + np.diag(self.beta, 1) + np.diag(self.beta, -1)
        values, vectors = np.linalg.eigh(t)
        return values, vectors[0] ** 2


def lanczos(
    matvec: Callable[[jax.Array], jax.Array], dim: int, num_iterations: int, key: Any
) -> Lanczos:
    """Lanczos iteration with full re-orthogonalisation on a symmetric ``matvec`` of size ``dim``,
    from a random unit start vector. Stops early when the Krylov space is exhausted.

    Args:
      matvec: ``v -> A v`` on float32 vectors of length ``dim``.
      dim: the dimension.
      num_iterations: at most this many steps (capped at ``dim``).
      key: ``jax.random`` key for the start vector.

    Returns:
      :class:`Lanczos`; its Ritz values approximate ``A``'s extreme eigenvalues first.
    """
    if num_iterations < 1:
        raise ValueError(f"num_iterations must be at least 1, got {num_iterations}")
    m = min(int(num_iterations), dim)
    v = np.asarray(jax.random.normal(key, (dim,), jnp.float32), np.float64)
    v /= np.linalg.norm(v)
    basis = np.zeros((m, dim))
    alpha, beta = [], []
    for j in range(m):
        basis[j] = v
        w = np.asarray(matvec(jnp.asarray(v, jnp.float32)), np.float64)
        a = float(w @ v)
        alpha.append(a)
        w -= basis[: j + 1].T @ (basis[: j + 1] @ w)  # full re-orthogonalisation (twice)
        w -= basis[: j + 1].T @ (basis[: j + 1] @ w)
        b = float(np.linalg.norm(w))
        if j == m - 1 or b < 1e-8 * max(1.0, abs(a)):
            break
        beta.append(b)
        v = w / b
    return Lanczos(np.asarray(alpha), np.asarray(beta[: len(alpha) - 1]))


class Curvature(NamedTuple):
    """Result of :func:`hessian_eigenvalues`."""

    largest: float
    smallest: float
    condition_number: float
    ritz_values: np.ndarray


def hessian_eigenvalues(
    loss_fn: LossFn, params: Any, *args: Any, num_iterations: int = 30, key: Any = 0
) -> Curvature:
    r"""Largest and smallest Hessian eigenvalues by Lanczos on Hessian-vector products.

    ``condition_number`` is :math:`\lambda_{\max} / \lambda_{\min}` when both are positive, else
    ``inf`` (the Hessian is not positive definite there). Lanczos finds the extremes first;
    ``num_iterations`` of a few tens is usually enough for them, and at ``num_iterations``
    equal to the parameter count the values are exact up to rounding.

    Example:
      >>> import jax.numpy as jnp
      >>> f = lambda w: 0.5 * jnp.sum(jnp.array([1.0, 10.0, 100.0]) * w**2)
      >>> c = hessian_eigenvalues(f, jnp.ones(3), num_iterations=3)
      >>> round(c.largest, 3), round(c.smallest, 3), round(c.condition_number, 1)
      (100.0, 1.0, 100.0)
    """
    matvec, dim, _ = _flat_hvp(loss_fn, params, args)
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    values, _ = lanczos(matvec, dim, num_iterations, key).ritz()
    largest, smallest = float(values[-1]), float(values[0])
    condition = largest / smallest if smallest > 0 else float("inf")
    return Curvature(largest, smallest, condition, values)


def hessian_trace(
    loss_fn: LossFn, params: Any, *args: Any, num_samples: int = 100, key: Any = 0
) -> tuple[float, float]:
    r"""Hutchinson's estimate of :math:`\operatorname{tr} H = \mathbb{E}[z^\top H z]` with
    Rademacher :math:`z`; returns ``(estimate, standard error)``. Costs ``num_samples`` HVPs.

    References:
      Hutchinson, *A stochastic estimator of the trace of the influence matrix for Laplacian
      smoothing splines*, 1990; Yao et al., *PyHessian*, 2020.
    """
    matvec, dim, _ = _flat_hvp(loss_fn, params, args)
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    zs = jax.random.rademacher(key, (num_samples, dim), jnp.float32)
    samples = np.asarray(jax.lax.map(lambda z: z @ matvec(z), zs), np.float64)
    return float(samples.mean()), float(
        samples.std(ddof=1) / np.sqrt(num_samples)
    ) if num_samples > 1 else float("nan")


def spectral_density(
    loss_fn: LossFn,
    params: Any,
    *args: Any,
    num_iterations: int = 30,
    num_runs: int = 4,
    grid_size: int = 500,
    sigma: float | None = None,
    key: Any = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Hessian eigenvalue density by stochastic Lanczos quadrature: the Ritz values
    :math:`\theta_i` of ``num_runs`` Lanczos runs, weighted by :math:`\tau_i` (squared first
    eigenvector components, summing to 1 per run), smoothed by Gaussians of width ``sigma``.

    Returns:
      ``(grid, density, nodes, weights)``; ``density`` integrates to about 1 over ``grid``,
      and :math:`\sum_i \tau_i \theta_i` estimates :math:`\operatorname{tr}H / n`.

    References:
      Ghorbani, Krishnan and Xiao, *An Investigation into Neural Net Optimization via Hessian
      Eigenvalue Density*, ICML 2019.
    """
    matvec, dim, _ = _flat_hvp(loss_fn, params, args)
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    nodes, weights = [], []
    for run_key in jax.random.split(key, num_runs):
        values, w = lanczos(matvec, dim, num_iterations, run_key).ritz()
        nodes.append(values)
        weights.append(w / num_runs)
    theta, tau = np.concatenate(nodes), np.concatenate(weights)
    span = max(float(theta.max() - theta.min()), 1e-6)
    width = sigma if sigma is not None else span / 100
    grid = np.linspace(theta.min() - 5 * width, theta.max() + 5 * width, grid_size)
    kernel = np.exp(-0.5 * ((grid[:, None] - theta[None, :]) / width) ** 2) / (
        width * np.sqrt(2 * np.pi)
    )
    return grid, kernel @ tau, theta, tau


class StepTest(NamedTuple):
    """Result of :func:`step_test`."""

    grad_sq_norm: float
    curvature: float  # g^T H g
    predicted_change: float
    safe_step: float


def step_test(loss_fn: LossFn, params: Any, *args: Any, learning_rate: float) -> StepTest:
    r"""Second-order prediction for the step :math:`-\alpha g`:
    :math:`\Delta L \approx -\alpha g^\top g + \tfrac12 \alpha^2 g^\top H g`, and the largest step
    that still decreases this model, :math:`2 g^\top g / g^\top H g` (``inf`` where
    :math:`g^\top H g \le 0`). One gradient and one HVP.

    Example:
      >>> import jax.numpy as jnp
      >>> f = lambda w: 0.5 * jnp.sum(jnp.array([1.0, 4.0]) * w**2)
      >>> t = step_test(f, jnp.ones(2), learning_rate=0.1)
      >>> round(t.predicted_change, 4), round(t.safe_step, 4)
      (-1.375, 0.5231)
    """
    g = jax.grad(loss_fn)(params, *args)
    hg = hvp(loss_fn, params, *args)(g)
    gg = float(sum(jnp.vdot(a, a) for a in jax.tree.leaves(g)))
    ghg = float(
        sum(jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(hg), strict=True))
    )
    change = -learning_rate * gg + 0.5 * learning_rate**2 * ghg
    safe = 2.0 * gg / ghg if ghg > 0 else float("inf")
    return StepTest(gg, ghg, change, safe)


class SaddleCheck(NamedTuple):
    """Result of :func:`detect_saddle`."""

    grad_norm: float
    smallest_eigenvalue: float
    largest_eigenvalue: float
    is_saddle: bool


def detect_saddle(
    loss_fn: LossFn,
    params: Any,
    *args: Any,
    grad_tolerance: float = 1e-3,
    eigen_tolerance: float = 1e-6,
    num_iterations: int = 30,
    key: Any = 0,
) -> SaddleCheck:
    r"""A saddle: :math:`\lVert g \rVert \le` ``grad_tolerance`` and
    :math:`\lambda_{\min}(H) < -` ``eigen_tolerance`` (a descent direction of negative curvature).

    Example:
      >>> import jax.numpy as jnp
      >>> detect_saddle(lambda w: w[0] ** 2 - w[1] ** 2, jnp.zeros(2), num_iterations=2).is_saddle
      True
    """
    g = jax.grad(loss_fn)(params, *args)
    norm = float(jnp.sqrt(sum(jnp.vdot(a, a) for a in jax.tree.leaves(g))))
    curvature = hessian_eigenvalues(loss_fn, params, *args, num_iterations=num_iterations, key=key)
    saddle = norm <= grad_tolerance and curvature.smallest < -eigen_tolerance
    return SaddleCheck(norm, curvature.smallest, curvature.largest, saddle)


class Interpolation(NamedTuple):
    """Result of :func:`linear_interpolation`."""

    alphas: np.ndarray
    losses: np.ndarray
    barrier: float


def linear_interpolation(
    loss_fn: LossFn, params_a: Any, params_b: Any, *args: Any, num_points: int = 25
) -> Interpolation:
    r"""Loss along :math:`(1-t)\,\theta_a + t\,\theta_b`, :math:`t \in [0, 1]`, and the barrier
    :math:`\max_t \big[L(t) - ((1-t)L(0) + tL(1))\big]` (linear mode connectivity: about 0 when
    the two solutions are connected by a low-loss segment).

    References:
      Frankle et al., *Linear Mode Connectivity and the Lottery Ticket Hypothesis*, ICML 2020.
    """
    alphas = np.linspace(0.0, 1.0, num_points)

    @jax.jit
    def at(t):
        mixed = jax.tree.map(
            lambda a, b: ((1 - t) * a.astype(jnp.float32) + t * b.astype(jnp.float32)).astype(
                a.dtype
            ),
            params_a,
            params_b,
        )
        return loss_fn(mixed, *args)

    losses = np.asarray([float(at(jnp.float32(t))) for t in alphas])
    chord = (1 - alphas) * losses[0] + alphas * losses[-1]
    return Interpolation(alphas, losses, float(np.max(losses - chord)))


def epsilon_sharpness(
    loss_fn: LossFn,
    params: Any,
    *args: Any,
    epsilon: float = 1e-3,
    steps: int = 20,
    step_size: float | None = None,
    key: Any = 0,
) -> float:
    r"""Keskar et al.'s sharpness: :math:`100 \cdot (\max_{y \in C_\epsilon} L(\theta + y) - L(\theta))
    / (1 + L(\theta))` over the box :math:`|y_i| \le \epsilon (|\theta_i| + 1)`, the maximum
    approximated by projected sign-gradient ascent (``steps`` steps from a random point of the
    box, so that an exact minimum with zero gradient still moves).

    References:
      Keskar et al., *On Large-Batch Training for Deep Learning: Generalization Gap and Sharp
      Minima*, ICLR 2017.
    """
    bound = jax.tree.map(lambda w: epsilon * (jnp.abs(w) + 1), params)
    size = step_size if step_size is not None else 2.5 / steps
    base = float(loss_fn(params, *args))

    @jax.jit
    def ascend(y):
        g = jax.grad(lambda y: loss_fn(jax.tree.map(jnp.add, params, y), *args))(y)
        return jax.tree.map(
            lambda yi, gi, b: jnp.clip(yi + size * b * jnp.sign(gi), -b, b), y, g, bound
        )

    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    start = optax.tree.random_like(key, params, jax.random.uniform, jnp.float32)
    y = jax.tree.map(lambda u, b: ((2 * u - 1) * b).astype(b.dtype), start, bound)
    best = max(base, float(loss_fn(jax.tree.map(jnp.add, params, y), *args)))
    for _ in range(steps):
        y = ascend(y)
        best = max(best, float(loss_fn(jax.tree.map(jnp.add, params, y), *args)))
    return 100.0 * (best - base) / (1.0 + base)


def magnitude_prune_mask(
    params: Any, sparsity: float, *, per_leaf: bool = True, mask: Any = None
) -> Any:
    """Boolean tree: ``True`` for weights kept, ``False`` for the ``sparsity`` fraction of
    smallest magnitudes (per leaf, or globally with ``per_leaf=False``). ``mask`` (a tree of
    bools or ``params -> tree``) limits pruning to some leaves (e.g. :func:`layerwise_mask`).

    Example:
      >>> import jax.numpy as jnp
      >>> magnitude_prune_mask(jnp.array([0.1, -3.0, 0.5, 2.0]), 0.5)
      Array([False,  True, False,  True], dtype=bool)

    References:
      Frankle and Carbin, *The Lottery Ticket Hypothesis*, ICLR 2019.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    prunable = mask(params) if callable(mask) else mask
    if prunable is None:
        prunable = jax.tree.map(lambda _: True, params)
    leaves, treedef = jax.tree.flatten(params)
    chosen = jax.tree.leaves(prunable)
    threshold: Any = 0.0
    if not per_leaf:
        pool = [jnp.abs(w).ravel() for w, c in zip(leaves, chosen, strict=True) if c]
        pool_all = jnp.concatenate(pool) if pool else jnp.zeros(0)
        threshold = jnp.sort(pool_all)[int(sparsity * pool_all.size)] if pool_all.size else 0.0

    out = []
    for w, c in zip(leaves, chosen, strict=True):
        if not c or w.size == 0:
            out.append(jnp.ones(jnp.shape(w), bool))
            continue
        if per_leaf:
            cut = int(sparsity * w.size)
            order = jnp.argsort(jnp.abs(w).ravel())
            keep = jnp.ones(w.size, bool).at[order[:cut]].set(False)
            out.append(keep.reshape(w.shape))
        else:
            out.append(jnp.abs(w) >= threshold)
    return jax.tree.unflatten(treedef, out)


def rewind(early_params: Any, mask: Any) -> Any:
    """Lottery-ticket rewinding: the early (or initial) weights where ``mask`` keeps them, 0
    where it prunes."""
    return jax.tree.map(lambda w, m: jnp.where(m, w, jnp.zeros([], w.dtype)), early_params, mask)
