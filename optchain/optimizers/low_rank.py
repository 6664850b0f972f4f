"""GaLore: an optimizer whose state lives in a low-rank subspace of each weight matrix's
gradient, as recipes in optax's form (``optax.contrib.galore``, ``scale_by_galore``)."""

from __future__ import annotations

from typing import Any

import optax

from optchain import _core
from optchain.optimizers._common import GT, _all_is_none, _chain, named_optimizer
from optchain.optimizers.adam import scale_by_adam
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.low_rank import galore_projection
from optchain.transforms.scaling import scale_by_learning_rate

__all__ = ["galore", "scale_by_galore"]


@named_optimizer
def scale_by_galore(
    rank: int = 128,
    update_proj_gap: int = 200,
    scale: float = 1.0,
    base_optimizer: optax.GradientTransformation | None = None,
    weight_dimension_numbers: Any = None,
) -> GT:
    r"""optax's ``scale_by_galore``: the base optimizer on rank-r projections, :math:`u = s\,P\,B(P^H G)`.

    Recipe: ``counted_chain(galore_projection(base_optimizer, rank, update_proj_gap, scale,
    weight_dimension_numbers))`` (see :func:`galore_projection`: :math:`P` from the
    gradient's SVD every ``update_proj_gap`` steps, the first update included). The base
    optimizer defaults to :func:`scale_by_adam` (optax's values); it gets no ``params``. The
    state holds optax's ``count``, ``base_optimizer_state`` and ``projector``.

    Args:
      rank: the target rank :math:`r \ge 1` (:math:`\min(r, m, n)` per matrix).
      update_proj_gap: steps between two SVDs.
      scale: :math:`s`, on the projected leaves only (as optax).
      base_optimizer: a gradient-only transform (``None``: ``scale_by_adam()``).
      weight_dimension_numbers: which axes form each leaf's matrix (``GaLoreDimensionNumbers``,
        a tree of them, a function of the parameters; ``None``: the 2-d leaves).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_galore(rank=1)
      >>> g = {"w": jnp.array([[2.0, 0.0], [0.0, 0.5]]), "b": jnp.array([-3.0])}
      >>> u, state = tx.update(g, tx.init(g))
      >>> u["w"].round(4), u["b"].round(4)  # Adam's first step on P^T g = [2, 0], and on b
      (Array([[1., 0.],
             [0., 0.]], dtype=float32), Array([-1.], dtype=float32))

    References:
      Zhao et al., *GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection*,
      ICML 2024.
    """
    base = scale_by_adam() if base_optimizer is None else base_optimizer
    return _chain(galore_projection(base, rank, update_proj_gap, scale, weight_dimension_numbers))


@named_optimizer
def galore(
    learning_rate: _core.ScalarOrSchedule,
    rank: int = 128,
    update_proj_gap: int = 200,
    scale: float = 1.0,
    base_optimizer: optax.GradientTransformation | None = None,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mask: Any = None,
    weight_dimension_numbers: Any = None,
) -> GT:
    r"""GaLore: :math:`w \leftarrow w - \alpha\,(s\,P\,B(P^H G) + \lambda w)`, the base optimizer's state in a rank-r subspace.

    Recipe: ``counted_chain(galore_projection(base_optimizer, rank, update_proj_gap, scale,
    weight_dimension_numbers), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``: Adam's moments (the default base optimizer)
    live on :math:`r \times n` (or :math:`m \times r`) matrices, the weight decay acts in the
    full space (decoupled, as AdamW). A base optimizer with its own learning rate wants
    ``learning_rate=1.0``. The state holds optax's ``count``, ``base_optimizer_state`` and
    ``projector``.

    * optax: ``optax.contrib.galore`` with the same arguments.

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      rank, update_proj_gap, scale, base_optimizer, weight_dimension_numbers: as in
        :func:`scale_by_galore`.
      weight_decay: :math:`\lambda \ge 0`, decoupled.
      mask: which leaves decay (a tree of bools or a function of the parameters; ``None``:
        all).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.galore(0.1, rank=1)
      >>> w = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
      >>> u, state = tx.update(w, tx.init(w), w)
      >>> float(jnp.linalg.matrix_rank(u))  # a rank-1 step
      1.0

    References:
      Zhao et al., *GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection*,
      ICML 2024.
    """
    base = scale_by_adam() if base_optimizer is None else base_optimizer
    return _chain(
        galore_projection(base, rank, update_proj_gap, scale, weight_dimension_numbers),
        add_decayed_weights(weight_decay, _all_is_none(mask)),
        scale_by_learning_rate(learning_rate),
    )
