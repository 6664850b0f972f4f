"""The Hessian's diagonal: Hutchinson's randomized estimate, and Sophia's clipped preconditioner
built on an EMA of it."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optchain import _core


class HutchinsonState(NamedTuple):
    """State of :func:`hutchinson_estimator_diag_hessian`: the PRNG key of the next draw."""

    key: jax.Array


def _tangent(sign: jax.Array, param: Any) -> Any:
    """The draw as a tangent of ``param``: its dtype, or ``float0`` zeros for an integer leaf."""
    param = _core.as_leaf(param)
    if _core.is_float(param):
        return sign.astype(param.dtype)
    return np.zeros(param.shape, jax.dtypes.float0)


def _product(hvp: jax.Array, sign: jax.Array, param: Any) -> jax.Array:
    """:math:`v \\odot Hv` on a floating leaf, a zero update of the leaf's dtype elsewhere."""
    param = _core.as_leaf(param)
    if _core.is_float(param):
        return hvp * sign.astype(hvp.dtype)
    return _core.zero_update(param)


def hutchinson_estimator_diag_hessian(
    random_seed: jax.Array | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Hutchinson's estimate of the Hessian's diagonal: :math:`u \mapsto v \odot \nabla^2 f(w)\, v`, :math:`v` Rademacher.

    :math:`\mathbb{E}[v \odot Hv] = \mathrm{diag}(H)` since :math:`v_i^2 = 1` and
    :math:`\mathbb{E}[v_i v_j] = 0`; for a diagonal Hessian every draw is exact. The
    Hessian-vector product is forward-over-reverse (``jax.jvp`` of ``jax.grad(obj_fn)``). The
    incoming updates are ignored; ``update`` needs the parameters and the objective as the
    keyword ``obj_fn`` (``params -> scalar loss``). Each update splits the key in the state
    into the next key and the draw's key, and draws the signs in float32 as optax does (so
    trajectories match optax's for the same seed), then casts each to its parameter's dtype.
    Complex parameters are rejected at ``init`` (no Rademacher meaning); integer leaves get a
    zero estimate (optax's fails on them).

    Args:
      random_seed: a PRNG key (``jax.random.PRNGKey``); ``None``: ``PRNGKey(0)``, optax's.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`HutchinsonState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.hutchinson_estimator_diag_hessian()
      >>> w = jnp.array([1.0, 2.0])
      >>> f = lambda w: jnp.sum(jnp.array([3.0, 0.5]) * w**2)  # diag(H) = (6, 1)
      >>> tx.update(w, tx.init(w), w, obj_fn=f)[0]
      Array([6., 1.], dtype=float32)

    References:
      Hutchinson, *A stochastic estimator of the trace of the influence matrix for Laplacian
      smoothing splines*, 1990. Bekas et al., *An estimator for the diagonal of a matrix*, 2007.
    """

    def init_fn(params):
        _core.check_leaves(params, "hutchinson_estimator_diag_hessian", complex_ok=False)
        key = jax.random.PRNGKey(0) if random_seed is None else random_seed
        return HutchinsonState(key=jnp.array(key, copy=True))

    def update_fn(updates, state, params=None, obj_fn=None, **extra_args):
        del updates, extra_args
        if params is None:
            raise ValueError(
                "hutchinson_estimator_diag_hessian needs the parameters: call "
                "update(updates, state, params, obj_fn=loss_fn)"
            )
        if obj_fn is None:
            raise ValueError(
                "hutchinson_estimator_diag_hessian needs the objective: call "
                "update(updates, state, params, obj_fn=loss_fn), loss_fn(params) -> scalar"
            )
        key, draw = jax.random.split(state.key)
        signs = optax.tree.random_like(draw, params, jax.random.rademacher, dtype=jnp.float32)
        signs = jax.tree.map(_tangent, signs, params)
        hvp = jax.jvp(jax.grad(obj_fn, allow_int=True), (params,), (signs,))[1]
        return jax.tree.map(_product, hvp, signs, params), HutchinsonState(key)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@_core.shares_count()
class SophiaPreconditionerState(NamedTuple):
    """State of :func:`sophia_preconditioner`: ``nu`` the EMA of the Hessian's diagonal (optax's
    Sophia name), ``hessian_fn_state`` the estimator's state."""

    count: jax.Array
    nu: Any
    hessian_fn_state: Any


def sophia_preconditioner(
    b2: _core.ScalarOrSchedule = 0.99,
    eps: _core.ScalarOrSchedule = 1e-8,
    gamma: _core.ScalarOrSchedule = 0.01,
    update_interval: int = 10,
    hessian_diagonal_fn: optax.GradientTransformation | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Sophia's denominator: :math:`u \mapsto \max(\gamma h_{t-1}, \epsilon)`, :math:`h` an EMA of the Hessian's diagonal refreshed every ``update_interval`` steps.

    The output is the denominator of the step (divide the debiased momentum by it with
    :func:`optchain.divide`, then clip); it reads the average *before* this step's refresh.
    On steps :math:`t` with :math:`t \bmod k = 0` (the first is :math:`t = 0`) the estimator
    ``hessian_diagonal_fn`` is called with the incoming updates, the parameters and every
    extra keyword of ``update`` (``obj_fn=`` for Hutchinson's), and
    :math:`h \leftarrow \beta_2 h + (1-\beta_2)\hat h`; on other steps it is not evaluated
    (``lax.cond``) and its state is kept (whole: the estimator counts its own calls). The
    denominator comes out in at least float32, so that :math:`\epsilon` survives float16
    parameters (:func:`optchain.divide` casts the ratio back to the numerator's dtype).

    Args:
      b2: :math:`\beta_2`, the decay of the Hessian EMA, or a schedule.
      eps: :math:`\epsilon > 0`, the floor of the denominator.
      gamma: :math:`\gamma \ge 0`, the scale of the Hessian.
      update_interval: :math:`k \ge 1`, steps between two estimates.
      hessian_diagonal_fn: the estimator, a transform returning the diagonal;
        ``None``: :func:`hutchinson_estimator_diag_hessian` with its default key.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`SophiaPreconditionerState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.sophia_preconditioner(gamma=0.5)
      >>> w = jnp.array([1.0, 2.0])
      >>> f = lambda w: jnp.sum(w**2)
      >>> u, state = tx.update(w, tx.init(w), w, obj_fn=f)  # h_{-1} = 0: the floor eps
      >>> u, state.nu
      (Array([1.e-08, 1.e-08], dtype=float32), Array([0.02, 0.02], dtype=float32))

    References:
      Liu et al., *Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
      Pre-training*, ICLR 2024.
    """
    _core.check_hyperparameter("b2", b2, low=0.0, high=1.0)
    _core.check_hyperparameter("eps", eps, low=0.0)
    _core.check_hyperparameter("gamma", gamma, low=0.0)
    _core.check_hyperparameter(
        "update_interval", update_interval, low=1.0, integer=True, allow_schedule=False
    )
    estimator = optax.with_extra_args_support(
        hutchinson_estimator_diag_hessian() if hessian_diagonal_fn is None else hessian_diagonal_fn
    )

    def init_fn(params):
        _core.check_leaves(params, "sophia_preconditioner", complex_ok=False)
        return SophiaPreconditionerState(
            _core.zero_count(), _core.tree_zeros(params), estimator.init(params)
        )

    def update_fn(updates, state, params=None, **extra_args):
        _core.require_params(params, updates, "sophia_preconditioner")
        g, e, beta = (_core.resolve(v, state.count) for v in (gamma, eps, b2))

        def floor(u, h):
            # in the update's dtype (as every transform's output); the floor is at least that
            # dtype's smallest normal number, so eps = 1e-8 cannot round to a 0 denominator in
            # float16 (optax's 0/0): the same values wherever eps is representable
            dt = _core.compute_dtype(h.dtype)
            scaled = _core.as_scalar(g, dt) * h.astype(dt)
            tiny = jnp.finfo(_core.real_dtype(u.dtype)).tiny
            low = jnp.maximum(_core.as_scalar(e, dt), jnp.asarray(tiny, dt))
            return jnp.maximum(scaled, low).astype(u.dtype)

        denominator = _core.map_floats(floor, updates, state.nu)

        def refresh(hessian_state, nu):
            diag, hessian_state = estimator.update(
                updates, hessian_state, params=params, **extra_args
            )
            nu = _core.map_floats(lambda d, n: _core.ema_update(d, n, beta), diag, nu, keep=1)
            return hessian_state, nu

        hessian_state, nu = jax.lax.cond(
            state.count % update_interval == 0,
            refresh,
            lambda h, n: (h, n),
            state.hessian_fn_state,
            state.nu,
        )
        return denominator, SophiaPreconditionerState(
            _core.next_count(state.count), nu, hessian_state
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
