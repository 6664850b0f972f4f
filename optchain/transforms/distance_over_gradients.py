"""Distance over gradients: a global step size read off how far the iterate has travelled from
its starting point, divided by the gradients seen so far (DoG, and DoWG's weighted form).

Both keep the starting point and two scalars; the norms are global (every floating-point leaf
together, :math:`|g|^2 = g \\bar g` for a complex leaf), accumulated in at least float32 and
stored in the lowest floating dtype of the parameters (optax's choice), real for complex ones.
Integer and boolean leaves are not optimized: they enter no norm and get a zero update.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

INIT_STEP_MODES = ("distance", "learning_rate", "heuristic")


def _float_leaves(tree: Any) -> list[jax.Array]:
    return [_core.as_leaf(x) for x in jax.tree.leaves(tree) if _core.is_float(x)]


def _state_dtype(params: Any) -> Any:
    """The lowest floating dtype among the parameters (real for complex; float32 if none)."""
    dtypes = [_core.real_dtype(x.dtype) for x in _float_leaves(params)]
    return min(dtypes, key=lambda d: d.itemsize) if dtypes else jnp.dtype(jnp.float32)


def _total(sums: list[jax.Array]) -> jax.Array:
    """The sum of real scalars, in the widest of their dtypes (at least float32)."""
    dtype = _core.wider_dtype(jnp.float32, *(s.dtype for s in sums))
    return sum((s.astype(dtype) for s in sums), jnp.zeros([], dtype))


def squared_norm(tree: Any) -> jax.Array:
    """:math:`\\sum |x|^2` over every floating-point leaf of ``tree``, in at least float32."""
    return _total([_core.square_sum(x) for x in _float_leaves(tree)])


def squared_distance(params: Any, start: Any) -> jax.Array:
    """:math:`\\lVert x - x_0 \\rVert^2` over the floating-point leaves, in at least float32."""
    sums = []
    for x, x0 in zip(jax.tree.leaves(params), jax.tree.leaves(start)):
        x = _core.as_leaf(x)
        if _core.is_float(x):
            dt = _core.compute_dtype(x.dtype)
            sums.append(jnp.sum(_core.abs_sq(x.astype(dt) - x0.astype(dt))))
    return _total(sums)


def _copy(params: Any) -> Any:
    return jax.tree.map(lambda p: jnp.array(_core.as_leaf(p), copy=True), params)


def _scaled(updates: Any, step: jax.Array) -> Any:
    return _core.map_floats(lambda u: _core.scale_real(u, step), updates)


def _check_params(params: Any, updates: Any, name: str) -> None:
    _core.require_params(params, updates, name)
    _core.check_updates_match_params(updates, params)


class DoGState(NamedTuple):
    """State of :func:`scale_by_dog` (optax's fields): whether the next update is the first,
    the starting point :math:`x_0`, :math:`\\bar r_t` and :math:`G_t`."""

    is_init_step: jax.Array
    init_params: Any
    max_dist: jax.Array
    sum_sq_norm_grads: jax.Array


def check_init_step(init_step: Any) -> tuple[str, Any]:
    """``init_step`` as ``(mode, value)``: a mode of :data:`INIT_STEP_MODES` and a finite
    number > 0; raises a ``ValueError`` naming ``init_step`` otherwise."""
    if not isinstance(init_step, (tuple, list)) or len(init_step) != 2:
        raise ValueError(f"init_step must be a pair (mode, value); got {init_step!r}")
    mode, value = init_step
    if mode not in INIT_STEP_MODES:
        raise ValueError(f"init_step's mode must be one of {INIT_STEP_MODES}; got {mode!r}")
    try:
        _core.check_hyperparameter(
            "init_step's value", value, low=0.0, low_open=True, allow_schedule=False
        )
    except ValueError as error:
        raise ValueError(f"{error} (init_step={init_step!r})") from None
    return mode, value


def scale_by_dog(init_step: tuple[str, Any], eps: Any = 1e-8) -> optax.GradientTransformation:
    r"""DoG's step size: :math:`u \mapsto \frac{\bar r_t}{\sqrt{G_t + \epsilon}}\, u`, :math:`\bar r_t = \max(\bar r_{t-1}, \lVert x_t - x_0 \rVert)`, :math:`G_t = G_{t-1} + \lVert u \rVert^2`.

    The norms are global (all leaves together). ``init_step`` starts the recursion:
    ``("distance", r)`` sets :math:`\bar r_0 = r`; ``("heuristic", a)`` sets
    :math:`\bar r_0 = a (1 + \lVert x_0 \rVert)` (so ``init`` needs the real parameters);
    ``("learning_rate", eta)`` sets :math:`\bar r_0 = 0` and makes the first step size
    :math:`\eta` itself. optax's ``optax.contrib._dog.scale_by_dog``, values and state
    (:class:`DoGState`) alike; ``update`` needs the parameters.

    Args:
      init_step: ``(mode, value)``, mode one of ``"distance"``, ``"learning_rate"``,
        ``"heuristic"``, value a number > 0.
      eps: :math:`\epsilon \ge 0`, added to :math:`G_t`.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`DoGState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_dog(("distance", 0.5), eps=0.0)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([3.0, 4.0]), tx.init(x), x)[0]  # 0.5 / ||g|| * g
      Array([0.3, 0.4], dtype=float32)

    References:
      Ivgi et al., *DoG is SGD's Best Friend: A Parameter-Free Dynamic Step Size Schedule*,
      ICML 2023.
    """
    mode, value = check_init_step(init_step)
    _core.check_hyperparameter("eps", eps, low=0.0, allow_schedule=False)

    def init_fn(params):
        _core.check_leaves(params, "scale_by_dog")
        dtype = _state_dtype(params)
        if mode == "distance":
            r0 = jnp.asarray(value, dtype)
        elif mode == "heuristic":
            norm = jnp.sqrt(squared_norm(params))
            r0 = _core.as_scalar(value, norm.dtype) * (1 + norm)
        else:
            r0 = jnp.zeros([], dtype)
        zero = jnp.zeros([], dtype)
        return DoGState(jnp.asarray(True), _copy(params), r0.astype(dtype), zero)

    def update_fn(updates, state, params=None):
        _check_params(params, updates, "scale_by_dog")
        dist = jnp.sqrt(squared_distance(params, state.init_params))
        max_dist = jnp.maximum(state.max_dist.astype(dist.dtype), dist)
        total = state.sum_sq_norm_grads.astype(dist.dtype) + squared_norm(updates)
        step = max_dist / jnp.sqrt(total + _core.as_scalar(eps, total.dtype))
        if mode == "learning_rate":
            step = jnp.where(state.is_init_step, jnp.asarray(value, step.dtype), step)
        dtype = state.max_dist.dtype
        new_state = DoGState(
            jnp.asarray(False), state.init_params, max_dist.astype(dtype), total.astype(dtype)
        )
        return _scaled(updates, step), new_state

    return optax.GradientTransformation(init_fn, update_fn)


class DoWGState(NamedTuple):
    """State of :func:`scale_by_dowg` (optax's fields): the starting point :math:`x_0`,
    :math:`W_t` and :math:`\\bar r_t^2`."""

    init_params: Any
    weighted_sq_norm_grads: jax.Array
    estim_sq_dist: jax.Array


def scale_by_dowg(init_estim_sq_dist: Any = None, eps: Any = 1e-4) -> optax.GradientTransformation:
    r"""DoWG's step size: :math:`u \mapsto \frac{\bar r_t^2}{\sqrt{W_t} + \epsilon}\, u`, :math:`\bar r_t^2 = \max(\bar r_{t-1}^2, \lVert x_t - x_0 \rVert^2)`, :math:`W_t = W_{t-1} + \bar r_t^2 \lVert u \rVert^2`.

    DoG's distance over gradients with each squared gradient norm weighted by the squared
    distance estimate of its step. :math:`\bar r_0^2` is ``init_estim_sq_dist``
    (``None``: ``eps``). optax's ``optax.contrib._dog.scale_by_dowg``, values and state
    (:class:`DoWGState`) alike; ``update`` needs the parameters.

    Args:
      init_estim_sq_dist: :math:`\bar r_0^2 > 0`, a guess of the squared distance to the
        solution, or ``None`` for ``eps``.
      eps: :math:`\epsilon \ge 0`, added to :math:`\sqrt{W_t}`.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`DoWGState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_dowg(init_estim_sq_dist=4.0, eps=0.0)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([3.0, 4.0]), tx.init(x), x)[0]  # 4 / (2 * 5) * g
      Array([1.2, 1.6], dtype=float32)

    References:
      Khaled et al., *DoWG Unleashed: An Efficient Universal Parameter-Free Gradient Descent
      Method*, NeurIPS 2023.
    """
    _core.check_hyperparameter("eps", eps, low=0.0, allow_schedule=False)
    if init_estim_sq_dist is not None:
        _core.check_hyperparameter(
            "init_estim_sq_dist", init_estim_sq_dist, low=0.0, low_open=True, allow_schedule=False
        )
    start = eps if init_estim_sq_dist is None else init_estim_sq_dist

    def init_fn(params):
        _core.check_leaves(params, "scale_by_dowg")
        dtype = _state_dtype(params)
        return DoWGState(_copy(params), jnp.zeros([], dtype), jnp.asarray(start, dtype))

    def update_fn(updates, state, params=None):
        _check_params(params, updates, "scale_by_dowg")
        sq_dist = squared_distance(params, state.init_params)
        estimate = jnp.maximum(state.estim_sq_dist.astype(sq_dist.dtype), sq_dist)
        weighted = estimate * squared_norm(updates) + state.weighted_sq_norm_grads.astype(
            sq_dist.dtype
        )
        step = estimate / (jnp.sqrt(weighted) + _core.as_scalar(eps, weighted.dtype))
        dtype = state.estim_sq_dist.dtype
        new_state = DoWGState(state.init_params, weighted.astype(dtype), estimate.astype(dtype))
        return _scaled(updates, step), new_state

    return optax.GradientTransformation(init_fn, update_fn)
