"""A curvature-aware learning rate: the seeds' second-order step test as a guard against cliffs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


@_core.shares_count()
class SafeStepState(NamedTuple):
    """State of :func:`scale_by_safe_step`: counter, the rate used last, the last safe step
    :math:`2 g^\\top d / d^\\top H d` (``inf`` where the model does not bound it), and the number
    of Hessian-vector products evaluated so far (the cost)."""

    count: jax.Array
    rate: jax.Array
    safe_step: jax.Array
    hvp_evaluations: jax.Array


def _dot(a: Any, b: Any) -> jax.Array:
    r""":math:`\sum_l a_l^\top b_l` over the leaves where both are floating point, in float32."""
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return sum(
        (
            jnp.vdot(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32))
            for x, y in pairs
            if _core.is_float(x) and _core.is_float(y)
        ),
        jnp.zeros([], jnp.float32),
    )


def _float_part(params: Any) -> tuple[list[Any], Any]:
    """The floating-point leaves of ``params`` and a function rebuilding the whole tree from
    new values for them (integer and boolean leaves stay constants: ``jax.grad`` and
    ``jax.jvp`` differentiate only floats)."""
    leaves, treedef = jax.tree.flatten(params)
    leaves = [_core.as_leaf(x) for x in leaves]
    where = [i for i, x in enumerate(leaves) if _core.is_float(x)]

    def rebuild(floats):
        out = list(leaves)
        for i, x in zip(where, floats, strict=True):
            out[i] = x
        return jax.tree.unflatten(treedef, out)

    return [leaves[i] for i in where], rebuild


def scale_by_safe_step(
    learning_rate: _core.ScalarOrSchedule,
    loss_fn: Callable[..., jax.Array],
    fraction: float = 0.5,
    every: int = 1,
) -> optax.GradientTransformation:
    r"""Learning rate capped by the second-order step test: :math:`u \mapsto -\min(\alpha,\ c\,
    \alpha_{\text{safe}})\, d`, :math:`\alpha_{\text{safe}} = 2 g^\top d / d^\top H d`.

    For the step :math:`-\alpha d` the quadratic model predicts :math:`\Delta L \approx -\alpha
    g^\top d + \tfrac12 \alpha^2 d^\top H d`, which decreases only for :math:`\alpha <
    \alpha_{\text{safe}}`; near a cliff :math:`d^\top H d` is large and the cap bites. Where
    :math:`g^\top d \le 0` or :math:`d^\top H d \le 0` the model gives no bound and :math:`\alpha`
    is used. :math:`d` is the incoming update (the gradient when this link comes first, or a
    momentum or Adam direction); :math:`g` and :math:`Hd` come from one forward-over-reverse pass,
    so each evaluation costs one Hessian-vector product (about two gradients). With ``every=k``
    the cap is re-evaluated every ``k`` steps and reused in between (every step once the step
    counter saturates at :math:`2^{31}-1`).

    Integer and boolean parameters are held constant (and get zero updates). The step test
    is a real quadratic model: ``init`` rejects complex parameters.

    Pass the batch to ``update`` as the extra argument ``batch``: the loss is
    ``loss_fn(params, *batch)`` for a tuple, ``loss_fn(params, batch)`` otherwise.

    Args:
      learning_rate: :math:`\alpha > 0`, or a schedule.
      loss_fn: the training loss.
      fraction: :math:`c \in (0, 1]` of the safe step.
      every: evaluate the curvature every this many steps.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`SafeStepState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> loss = lambda w, scale: 0.5 * scale * jnp.sum(w**2)  # curvature = scale
      >>> tx = optchain.scale_by_safe_step(1.0, loss, fraction=0.5)
      >>> w = jnp.ones(2)
      >>> u, state = tx.update(w * 100.0, tx.init(w), w, batch=(100.0,))
      >>> float(state.rate), u  # safe step 2/100, half of it
      (0.01, Array([-1., -1.], dtype=float32))

    References:
      LeCun, Simard & Pearlmutter, NIPS 1993 (rates below :math:`2/\lambda`); Pearlmutter,
      *Fast Exact Multiplication by the Hessian*, Neural Computation 1994.
    """
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0, low_open=True)
    _core.check_hyperparameter(
        "fraction", fraction, low=0.0, high=1.0, low_open=True, allow_schedule=False
    )
    _core.check_hyperparameter("every", every, low=1, allow_schedule=False, integer=True)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")

    def init_fn(params):
        _core.check_leaves(params, "scale_by_safe_step", complex_ok=False)
        inf = jnp.full([], jnp.inf, jnp.float32)
        return SafeStepState(
            _core.zero_count(), jnp.zeros([], jnp.float32), inf, jnp.zeros([], jnp.int32)
        )

    def update_fn(updates, state, params=None, *, batch=(), **extra_args):
        del extra_args
        _core.require_params(params, updates, "scale_by_safe_step")
        args = batch if isinstance(batch, tuple) else (batch,)

        def evaluate(_):
            floats, rebuild = _float_part(params)
            directions = [
                _core.as_leaf(d)
                for d, p in zip(jax.tree.leaves(updates), jax.tree.leaves(params), strict=True)
                if _core.is_float(p)
            ]

            def grad_fn(float_params):
                return jax.grad(lambda f: loss_fn(rebuild(f), *args))(float_params)

            tangent = [d.astype(p.dtype) for d, p in zip(directions, floats, strict=True)]
            g, hd = jax.jvp(grad_fn, (floats,), (tangent,))
            gd, dhd = _dot(g, directions), _dot(directions, hd)
            bounded = (gd > 0) & (dhd > 0)
            return jnp.where(bounded, 2.0 * gd / jnp.where(bounded, dhd, 1.0), jnp.inf).astype(
                jnp.float32
            )

        # a saturated counter stops cycling through `every`: from then on evaluate every step
        # (a stale cap is the one thing this transform must not use)
        fresh = (state.count % every == 0) | (_core.next_count(state.count) == state.count)
        safe = jax.lax.cond(fresh, evaluate, lambda _: state.safe_step, None)
        alpha = jnp.asarray(_core.resolve(learning_rate, state.count), jnp.float32)
        rate = jnp.minimum(alpha, fraction * safe)
        updates = _core.map_floats(lambda u: _core.scale_leaf(u, -rate), updates)
        return updates, SafeStepState(
            _core.next_count(state.count),
            rate,
            safe,
            _core.count_if(state.hvp_evaluations, fresh),
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
