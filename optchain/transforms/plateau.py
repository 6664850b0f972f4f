"""Reduce the step size when a monitored value stops improving.

Two rules, each under its own name: :func:`reduce_on_plateau` is optax's
``optax.contrib.reduce_on_plateau`` (re-exported: same signature, values and
``ReduceLROnPlateauState``); :func:`reduce_on_plateau_torch` reproduces
torch.optim.lr_scheduler.ReduceLROnPlateau decision for decision.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from optax.contrib import ReduceLROnPlateauState, reduce_on_plateau

from optchain import _core

__all__ = [
    "reduce_on_plateau",
    "ReduceLROnPlateauState",
    "reduce_on_plateau_torch",
    "ReduceOnPlateauTorchState",
]


class ReduceOnPlateauTorchState(NamedTuple):
    """State of :func:`reduce_on_plateau_torch`."""

    count: jax.Array
    scale: jax.Array
    best: jax.Array
    num_bad_steps: jax.Array
    cooldown_counter: jax.Array


def reduce_on_plateau_torch(
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_scale: float = 0.0,
    mode: str = "min",
    eps: float = 1e-8,
) -> optax.GradientTransformationExtraArgs:
    r"""Multiply updates by a scale that drops by ``factor`` when ``value`` plateaus.

    Reads the monitored value from ``update(updates, state, params, value=loss)``. With
    ``mode="min"`` and ``threshold_mode="rel"`` a value is an improvement when
    :math:`v < \text{best}\,(1 - \text{threshold})` (``"abs"``: :math:`v < \text{best} -
    \text{threshold}`; ``mode="max"`` mirrors both). After more than ``patience``
    consecutive non-improving values the scale becomes :math:`\max(s \cdot \text{factor},
    \text{min\_scale})` (only if that lowers it by more than ``eps``) and ``cooldown``
    values are ignored. The scale computed from this call's value applies to this call's
    updates. (``optchain.reduce_on_plateau`` is optax's rule, with optax's arguments.)

    These are torch.optim.lr_scheduler.ReduceLROnPlateau's semantics exactly, including
    for negative values. Note what torch's ``"rel"`` does there: :math:`\text{best}\,(1 -
    \text{threshold})` moves a negative ``best`` towards zero, so every value near a
    negative plateau counts as an improvement and the scale never drops. For losses that
    can be negative use ``threshold_mode="rel_magnitude"``: improvement means
    :math:`v < \text{best} - \text{threshold}\,|\text{best}|` (``max``: :math:`v >
    \text{best} + \text{threshold}\,|\text{best}|`), identical to ``"rel"`` while
    ``best > 0`` and a true relative margin below zero. Chained after the learning rate, the scale is torch's ``lr / base_lr``:
    ``min_scale = min_lr / base_lr`` and ``eps`` is torch's ``eps / base_lr``. optax's
    ``contrib.reduce_on_plateau`` (``optchain.reduce_on_plateau``) differs: its relative
    margin :math:`(1 - \text{rtol})\,\text{best}` has the same negative-value trap, it
    reduces one value earlier, it can average ``accumulation_size`` values first, and it
    has no ``mode="max"``.

    Args:
      factor: multiplier in (0, 1).
      patience: number of non-improving values tolerated (>= 0).
      threshold: improvement margin (>= 0).
      threshold_mode: ``"rel"`` (torch), ``"abs"`` (torch) or ``"rel_magnitude"``.
      cooldown: values ignored after each reduction (>= 0).
      min_scale: floor on the scale, in [0, 1].
      mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
      eps: smallest reduction that is applied.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`ReduceOnPlateauTorchState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.reduce_on_plateau_torch(factor=0.5, patience=1)
      >>> state = tx.init(None)
      >>> for loss in [3.0, 3.0, 3.0, 3.0]:
      ...     _, state = tx.update(jnp.ones(1), state, value=loss)
      >>> float(state.scale)
      0.5

    References:
      ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (the reference implementation).
    """
    _core.check_hyperparameter(
        "factor", factor, low=0.0, high=1.0, low_open=True, high_open=True, allow_schedule=False
    )
    _core.check_hyperparameter("threshold", threshold, low=0.0, allow_schedule=False)
    _core.check_hyperparameter("min_scale", min_scale, low=0.0, high=1.0, allow_schedule=False)
    _core.check_hyperparameter("eps", eps, low=0.0, allow_schedule=False)
    for name, value in (("patience", patience), ("cooldown", cooldown)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int >= 0; got {value!r}")
    _core.check_choice("threshold_mode", threshold_mode, ("rel", "abs", "rel_magnitude"))
    _core.check_choice("mode", mode, ("min", "max"))

    def improved(value, best):
        if mode == "min":
            return value < (
                best * (1.0 - threshold) if threshold_mode == "rel" else best - threshold
            )
        return value > (best * (threshold + 1.0) if threshold_mode == "rel" else best + threshold)

    def init_fn(params):
        del params
        worst = jnp.inf if mode == "min" else -jnp.inf

        def zero():  # separate buffers: the state may be donated
            return jnp.zeros([], jnp.int32)

        return ReduceOnPlateauTorchState(
            zero(), jnp.ones([], jnp.float32), jnp.asarray(worst, jnp.float32), zero(), zero()
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise ValueError(
                "reduce_on_plateau_torch needs the monitored value: update(updates, state, params, value=loss)"
            )
        v = jnp.asarray(value).astype(jnp.float32)
        better = improved(v, state.best)
        best = jnp.where(better, v, state.best)
        bad = jnp.where(better, 0, state.num_bad_steps + 1)
        in_cooldown = state.cooldown_counter > 0
        cooldown_counter = jnp.where(
            in_cooldown, state.cooldown_counter - 1, state.cooldown_counter
        )
        bad = jnp.where(in_cooldown, 0, bad)
        reduce = bad > patience
        lowered = jnp.maximum(state.scale * factor, jnp.float32(min_scale))
        scale = jnp.where(reduce & (state.scale - lowered > eps), lowered, state.scale)
        cooldown_counter = jnp.where(reduce, cooldown, cooldown_counter)
        bad = jnp.where(reduce, 0, bad)
        updates = _core.map_floats(lambda u: _core.scale_leaf(u, scale), updates)
        new_state = ReduceOnPlateauTorchState(
            _core.next_count(state.count),
            scale,
            best,
            bad.astype(jnp.int32),
            cooldown_counter.astype(jnp.int32),
        )
        return updates, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
