"""Muon: momentum whose matrix updates are orthogonalized by a Newton-Schulz iteration, as
recipes in optax's form (``optax.contrib.muon``, ``scale_by_muon``)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain._leaves import check_same_shape
from optchain.combine import fork
from optchain.optimizers._common import GT, _all_is_none, _chain, _inner, named_optimizer
from optchain.optimizers.adam import _adam_direction
from optchain.optimizers.adam_like import _debiased_first_moment
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.orthogonalize import (
    NS_COEFFS_PRESETS,
    DimensionNumbers,
    MuonDimensionNumbers,
    orthogonalize_matrices,
)
from optchain.transforms.scaling import scale_by_learning_rate
from optchain.transforms.shape_scaling import scale_by_shape

__all__ = ["muon", "scale_by_muon"]

_STANDARD = NS_COEFFS_PRESETS["standard"]


def _dual_norm_scaled(direction: jax.Array, orthogonal: jax.Array) -> jax.Array:
    r""":math:`\langle M, O\rangle O`: the orthogonalized update scaled by the dual (nuclear)
    norm of the momentum it came from, :math:`\sum \bar M \odot O` over the leaf."""
    return jnp.sum(direction.conj() * orthogonal) * orthogonal


def _muon_direction(ns_coeffs, ns_steps, beta, eps, mu_dtype, nesterov, adaptive, precond, dims):
    """Muon's direction: the debiased (Nesterov) momentum, orthogonalized; with ``adaptive``
    scaled by the momentum's dual norm. State: ``mu`` and ``ns_coeffs``."""
    orthogonal = orthogonalize_matrices(
        ns_coeffs, ns_steps, preconditioning=precond, eps=eps, dimension_numbers=dims
    )
    if adaptive:
        orthogonal = fork(optax.identity(), orthogonal, merge=_dual_norm_scaled)
    return _inner(_debiased_first_moment(beta, nesterov=nesterov, mu_dtype=mu_dtype), orthogonal)


@named_optimizer
def scale_by_muon(
    ns_coeffs: Any = _STANDARD,
    ns_steps: int = 5,
    beta: _core.ScalarOrSchedule = 0.95,
    eps: float = 1e-8,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: str = "frobenius",
    weight_dimension_numbers: DimensionNumbers = None,
) -> GT:
    r"""optax's ``scale_by_muon`` as a chain: :math:`\mathrm{NS}(\hat m_t)`, the Newton-Schulz orthogonalization of the debiased momentum.

    :math:`m_t = \beta m_{t-1} + (1-\beta) g_t`; :math:`\hat m_t = \beta m_t/(1-\beta^{t+1}) +
    (1-\beta) g_t/(1-\beta^t)` (Nesterov, the default) or :math:`m_t/(1-\beta^t)`. Recipe::

        counted_chain(first_moment(beta), bias_correction(beta),   # NAdam's fork if nesterov
                      orthogonalize_matrices(ns_coeffs, ns_steps, preconditioning=...,
                                             eps=eps, dimension_numbers=...))

    ``adaptive`` scales the result by :math:`\langle \hat m_t, \mathrm{NS}(\hat m_t)\rangle`
    (a ``fork`` of the identity and the orthogonalization). The state holds optax's
    ``count``, ``mu`` and ``ns_coeffs`` (``optax.tree.get``), in a :func:`counted_chain`
    rather than a ``MuonState``.

    * optax: ``optax.contrib.scale_by_muon`` with the same arguments; here
      ``weight_dimension_numbers=None`` accepts any tree of matrices (optax: a single matrix),
      and ``ns_coeffs`` may also be a preset name ('standard', 'dion').

    Args:
      ns_coeffs: :math:`(c_0, c_1, c_2)` of the quintic step, or one row per step.
      ns_steps: number of Newton-Schulz steps (ignored for one row per step).
      beta: momentum decay :math:`\beta` in [0, 1).
      eps: added to the norm that scales each matrix before the iteration.
      mu_dtype: dtype of :math:`m` (``None``: the parameter's).
      nesterov: the look-ahead :math:`\hat m_t` above.
      adaptive: scale by the dual norm (Bernstein & Newhouse).
      preconditioning: 'frobenius', 'spectral', 'aol' or 'schatten' (see
        :func:`newton_schulz`).
      weight_dimension_numbers: :class:`MuonDimensionNumbers` (one, a tree of them, or a
        function of the updates returning such a tree); ``None``: every leaf is a matrix.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_muon()
      >>> u, _ = tx.update(jnp.diag(jnp.array([4.0, 1.0])), tx.init(jnp.zeros((2, 2))))
      >>> u.round(2)  # singular values 4 and 1 both land near 1
      Array([[0.74, 0.  ],
             [0.  , 0.74]], dtype=float32)

    References:
      Jordan et al., *Muon: An optimizer for hidden layers in neural networks*, 2024;
      Bernstein & Newhouse, *Old Optimizer, New Norm: An Anthology*, arXiv:2409.20325.
    """
    return _chain(
        _muon_direction(
            ns_coeffs,
            ns_steps,
            beta,
            eps,
            mu_dtype,
            nesterov,
            adaptive,
            preconditioning,
            weight_dimension_numbers,
        )
    )


def _is_spec(x: Any) -> bool:
    return x is None or isinstance(x, MuonDimensionNumbers)


def _muon_mask(spec: DimensionNumbers, tree: Any) -> Any:
    """``True`` on Muon's leaves: the matrices (``spec`` ``None``), else the leaves ``spec``
    gives dimension numbers (not ``None``)."""
    if spec is None:
        return jax.tree.map(lambda x: jnp.ndim(x) == 2, tree)
    dims = spec(tree) if callable(spec) else spec
    return jax.tree.map(
        lambda d, sub: jax.tree.map(lambda _: d is not None, sub), dims, tree, is_leaf=_is_spec
    )


@named_optimizer
def muon(
    learning_rate: _core.ScalarOrSchedule,
    ns_coeffs: Any = _STANDARD,
    ns_steps: int = 5,
    beta: _core.ScalarOrSchedule = 0.95,
    eps: float = 1e-8,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = None,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: str = "frobenius",
    adam_b1: _core.ScalarOrSchedule = 0.9,
    adam_b2: _core.ScalarOrSchedule = 0.999,
    adam_eps_root: _core.ScalarOrSchedule = 0.0,
    adam_weight_decay: _core.ScalarOrSchedule = 0.0,
    adam_learning_rate: _core.ScalarOrSchedule | None = None,
    muon_weight_dimension_numbers: DimensionNumbers = None,
    consistent_rms: float | None = None,
) -> GT:
    r"""Muon: :math:`W \leftarrow W - \alpha(s\, \mathrm{NS}(\hat m_t) + \lambda W)` on the matrices, AdamW on the other leaves.

    :math:`\mathrm{NS}(\hat m_t)` is :func:`scale_by_muon`'s direction and :math:`s` the shape
    factor of :func:`scale_by_shape` (:math:`\sqrt{\max(1, n_{out}/n_{in})}`, or
    :math:`\rho\sqrt{\max(n_{in}, n_{out})}` with ``consistent_rms`` :math:`\rho`). Recipe::

        counted_chain(
            masked(chain(muon_direction, scale_by_shape(...),
                         add_decayed_weights(weight_decay, weight_decay_mask),
                         scale_by_learning_rate(learning_rate)), muon_leaves),
            masked(chain(adam_direction(adam_b1, adam_b2, eps, adam_eps_root, nesterov),
                         add_decayed_weights(adam_weight_decay),
                         scale_by_learning_rate(adam_learning_rate)), other_leaves))

    Muon's leaves are the 2-D ones, or those ``muon_weight_dimension_numbers`` gives
    dimension numbers (``None`` there: Adam). One step counter serves both parts; the state
    holds ``count``, Muon's ``mu`` and ``ns_coeffs``, Adam's ``mu`` and ``nu``, each
    ``optax.MaskedNode`` on the other part's leaves, as optax's partition state does.

    * optax: ``optax.contrib.muon`` with the same arguments (its state has one ``count`` per
      part; both equal this one).

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      ns_coeffs: coefficients, one row per step, or a preset name ('standard', 'dion').
      ns_steps, beta, eps, mu_dtype, nesterov, adaptive, preconditioning: as in
        :func:`scale_by_muon` (``eps``, ``mu_dtype`` and ``nesterov`` serve Adam too).
      weight_decay: :math:`\lambda \ge 0` on Muon's leaves, scaled by the learning rate.
      weight_decay_mask: tree of bools (or a function) selecting the leaves to decay.
      adam_b1, adam_b2, adam_eps_root: Adam's decays and epsilon inside the root.
      adam_weight_decay: AdamW's decay on the other leaves.
      adam_learning_rate: Adam's rate (``None``: ``learning_rate``).
      muon_weight_dimension_numbers: which leaves Muon takes and how each is read as matrices.
      consistent_rms: :math:`\rho \ge 0` (0.2 matches AdamW's RMS), or ``None``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> params = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
      >>> tx = optchain.muon(0.1)
      >>> g = {"w": jnp.diag(jnp.array([4.0, 1.0])), "b": jnp.array([1.0, -1.0])}
      >>> u, _ = tx.update(g, tx.init(params), params)
      >>> u["w"].round(3)  # Muon on the matrix: -0.1 times its orthogonalization
      Array([[-0.074, -0.   ],
             [-0.   , -0.074]], dtype=float32)
      >>> u["b"].round(3)  # Adam (Nesterov's look-ahead) on the vector
      Array([-0.147,  0.147], dtype=float32)

    References:
      Jordan et al., *Muon: An optimizer for hidden layers in neural networks*, 2024;
      Liu et al., *Muon is Scalable for LLM Training*, arXiv:2502.16982, 2025.
    """
    spec = muon_weight_dimension_numbers
    dims = MuonDimensionNumbers() if spec is None else spec
    direction = _muon_direction(
        ns_coeffs, ns_steps, beta, eps, mu_dtype, nesterov, adaptive, preconditioning, dims
    )
    matrices = _inner(
        direction,
        scale_by_shape(dims, consistent_rms),
        add_decayed_weights(weight_decay, _all_is_none(weight_decay_mask)),
        scale_by_learning_rate(learning_rate),
    )
    others = _inner(
        _adam_direction(adam_b1, adam_b2, eps, adam_eps_root, mu_dtype, None, nesterov=nesterov),
        add_decayed_weights(adam_weight_decay),
        scale_by_learning_rate(learning_rate if adam_learning_rate is None else adam_learning_rate),
    )

    def muon_leaves(tree):
        return _muon_mask(spec, tree)

    def other_leaves(tree):
        return jax.tree.map(lambda m: not m, _muon_mask(spec, tree))

    tx = _chain(optax.masked(matrices, muon_leaves), optax.masked(others, other_leaves))
    return optax.GradientTransformationExtraArgs(tx.init, _split_checked(tx.update))


def _split_checked(update: Any) -> Any:
    """``update`` that first compares each gradient leaf's shape with the one its part's ``mu``
    holds: a gradient of another shape would otherwise move a leaf to the other part (a matrix
    for a vector) and fail on the trees' structure, far from the cause."""

    def update_fn(updates, state, params=None, **extra_args):
        parts = [optax.tree.get(link, "mu") for link in state.links]
        masked = lambda x: isinstance(x, optax.MaskedNode)  # noqa: E731
        try:
            held = jax.tree_util.tree_flatten_with_path(parts[0], is_leaf=masked)[0]
            others = jax.tree.structure(parts[0], is_leaf=masked).flatten_up_to(parts[1])
            given = jax.tree.structure(parts[0], is_leaf=masked).flatten_up_to(updates)
        except (ValueError, TypeError):
            held = others = given = []  # another structure: the chain names the path
        for (path, a), b, g in zip(held, others, given):
            leaf = b if masked(a) else a
            if g is not None and hasattr(leaf, "shape"):
                check_same_shape(path, _core.as_leaf(g), (leaf,))
        return update(updates, state, params, **extra_args)

    return update_fn
