"""Schedule-free learning: a base optimizer steps a sequence z, the parameters are an
interpolation y between z and a weighted running average x of it, and x is what one evaluates."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain.transforms import _tree_reductions as tr

__all__ = ["ScheduleFreeState", "schedule_free", "schedule_free_eval_params"]


class ScheduleFreeState(NamedTuple):
    """State of :func:`schedule_free` (optax's fields).

    Attributes:
      b1: the interpolation weight :math:`\\beta_1`, a scalar of the parameters' dtype.
      weight_sum: :math:`\\sum_i w_i`, the total weight of the average so far.
      step_count: the number of the coming step, an int32 scalar that starts at 1 (the learning
        rate schedule is read at it).
      max_lr: the largest learning rate seen so far.
      base_optimizer_state: the base optimizer's state.
      z: the base optimizer's iterate, a tree like the parameters.
    """

    b1: Any
    weight_sum: Any
    step_count: jax.Array
    max_lr: Any
    base_optimizer_state: Any
    z: Any


def _scalar_dtype(params: Any) -> Any:
    """optax's dtype for the scalars of the state (the lowest floating dtype of the parameters),
    real: a complex model keeps real weights and learning rates."""
    return tr.scalar_dtype(params)


def schedule_free(
    base_optimizer: optax.GradientTransformation,
    learning_rate: _core.ScalarOrSchedule,
    b1: float = 0.9,
    weight_lr_power: float = 2.0,
    state_dtype: Any = None,
    *,
    r: float = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""Schedule-free averaging: :math:`z_{t+1} = z_t + u_t`, :math:`x_{t+1} = (1-c_t) x_t + c_t z_{t+1}`, :math:`y_{t+1} = \beta_1 x_{t+1} + (1-\beta_1) z_{t+1}`.

    The parameters are the train point :math:`y` (gradients are taken there); ``base_optimizer``
    turns the gradient into a step :math:`u_t` of :math:`z` (without momentum: the averaging
    replaces it); :math:`x` is the average to evaluate (:func:`schedule_free_eval_params`),
    recomputed from :math:`y` and :math:`z` (:math:`x = (y - (1-\beta_1) z) / \beta_1`), so the
    state holds :math:`z` alone. The average's weights are
    :math:`c_t = w_t / \sum_{i \le t} w_i`, :math:`w_t = t^r\, (\max_{i \le t} \gamma_i)^p`,
    :math:`\gamma_t` the learning rate at ``step_count`` :math:`t` (1 on the first step) and
    :math:`p` = ``weight_lr_power``: a warmup's small rates weigh little. optax 0.2.8's
    signature, state and values (``optax.contrib.schedule_free``); ``r`` is the authors'
    polynomial weight (``schedulefree``'s ``r``, 0 in optax). Integer leaves get zero updates;
    the updates come out in the parameters' dtype (optax promotes them to ``state_dtype``).

    Args:
      base_optimizer: the step of :math:`z` (its learning rate included), e.g. SGD or Adam with
        ``b1=0``; it sees the gradient and ``params`` = :math:`y`.
      learning_rate: :math:`\gamma_t`, the rate the base optimizer uses, for the weights
        (a number or a schedule, read at ``step_count``).
      b1: :math:`\beta_1 \in (0, 1]`, a number.
      weight_lr_power: :math:`p \ge 0`.
      state_dtype: dtype of :math:`z` (``None``: the parameters' dtypes).
      r: :math:`r \ge 0`, the power of the step number in the weights (keyword only).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`ScheduleFreeState`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.schedule_free(optchain.sgd(0.5), learning_rate=0.5, b1=0.5)
      >>> y = jnp.array([4.0]); state = tx.init(y)
      >>> u, state = tx.update(y, state, y)  # loss y**2 / 2: z = 4 - 0.5 * 4 = 2, c = 1, x = z
      >>> y = optax.apply_updates(y, u); y, state.z
      (Array([2.], dtype=float32), Array([2.], dtype=float32))

    References:
      Defazio et al., *The Road Less Scheduled*, NeurIPS 2024 (arXiv:2405.15682).
    """
    _core.check_hyperparameter("b1", b1, low=0.0, high=1.0, low_open=True, allow_schedule=False)
    _core.check_hyperparameter("weight_lr_power", weight_lr_power, low=0.0, allow_schedule=False)
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0)
    _core.check_hyperparameter("r", r, low=0.0, allow_schedule=False)
    base = optax.with_extra_args_support(base_optimizer)

    def init_fn(params):
        dtype = _scalar_dtype(params)

        def start(p):  # a copy, so that z and the params may both be donated
            p = jnp.asarray(p)
            target = state_dtype if state_dtype is not None and _core.is_float(p) else p.dtype
            return jnp.array(p, dtype=target, copy=True)

        return ScheduleFreeState(
            b1=jnp.asarray(b1, dtype=dtype),
            weight_sum=jnp.zeros([], dtype),
            step_count=jnp.ones([], jnp.int32),
            max_lr=jnp.zeros([], dtype),
            base_optimizer_state=base.init(params),
            z=jax.tree.map(start, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        params = _core.require_params(params, updates, "schedule_free")
        dtype = state.max_lr.dtype
        lr = _core.resolve(learning_rate, state.step_count)
        max_lr = jnp.maximum(state.max_lr, jnp.asarray(lr, dtype))
        weight = max_lr**weight_lr_power * state.step_count.astype(dtype) ** r  # 1 for r = 0
        weight_sum = state.weight_sum + weight
        undefined = jnp.isnan(weight) | jnp.isnan(weight_sum)
        ratio = jnp.nan_to_num(weight / weight_sum, nan=0.0, posinf=jnp.inf)
        ck = jnp.where(undefined, jnp.full_like(weight, jnp.nan), ratio)
        steps, base_state = base.update(updates, state.base_optimizer_state, params, **extra_args)

        def advance(u, z):
            wide = _core.wider_dtype(u.dtype, z.dtype)
            return (z.astype(wide) + u.astype(wide)).astype(z.dtype)

        z = _core.map_floats(advance, steps, state.z, keep=1)

        def move(y, z_old, z_new):
            """The update ``y_new - y`` of one parameter leaf (in its dtype)."""
            wide = _core.compute_dtype(_core.wider_dtype(y.dtype, z_old.dtype))
            y_, z_old_, z_new_ = (a.astype(wide) for a in (y, z_old, z_new))
            c = ck.astype(wide)
            # a Python b1 stays weakly typed (optax's rounding); an injected one is cast
            beta = b1 if isinstance(b1, (int, float)) else jnp.asarray(b1).astype(wide)
            x = (y_ - (1.0 - beta) * z_old_) / beta
            x = (1.0 - c) * x + c * z_new_
            return (beta * x + (1.0 - beta) * z_new_ - y_).astype(y.dtype)

        out = _core.map_floats(move, params, state.z, z)
        new_state = ScheduleFreeState(
            b1=state.b1,
            weight_sum=weight_sum,
            step_count=_core.next_count(state.step_count),
            max_lr=max_lr,
            base_optimizer_state=base_state,
            z=z,
        )
        return out, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _is_schedule_free_state(node: Any) -> bool:
    """A :class:`ScheduleFreeState`, or a state with its fields (optax's class of that name)."""
    fields = getattr(node, "_fields", None)
    return isinstance(node, ScheduleFreeState) or (
        fields is not None and tuple(fields) == ScheduleFreeState._fields
    )


def _has_value(node: Any) -> bool:
    """Whether ``node`` wraps its array (an ``nnx.Variable`` of Flax's optimizer state)."""
    return not isinstance(node, jax.Array) and (
        hasattr(node, "get_value") or hasattr(node, "value")
    )


def _value(leaf: Any) -> Any:
    """A leaf's array, unwrapped from an ``nnx.Variable``."""
    if isinstance(leaf, jax.Array):
        return leaf
    if hasattr(leaf, "get_value"):
        return leaf.get_value()
    return getattr(leaf, "value", leaf)


def schedule_free_eval_params(state: Any, params: Any) -> Any:
    r"""The evaluation weights of :func:`schedule_free`: :math:`x = (y - (1-\beta_1) z) / \beta_1`.

    ``params`` is the train point :math:`y` (the parameters the optimizer updates). ``state``
    is the optimizer's state or any tree that holds exactly one :class:`ScheduleFreeState`
    (optax's too): a chain's, ``inject_hyperparams``'s, ``flax.nnx.Optimizer.opt_state`` or a
    Linen ``TrainState.opt_state``. Integer leaves are returned as they are.

    Args:
      state: the optimizer state, or a tree holding it.
      params: the current parameters :math:`y`.

    Returns:
      :math:`x`, a tree like ``params`` in its dtypes.

    Raises:
      ValueError: if ``state`` holds no schedule-free state, or more than one.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optax.chain(optchain.clip(1.0), optchain.schedule_free_sgd(0.5, b1=0.5))
      >>> y = jnp.array([4.0]); state = tx.init(y)
      >>> for _ in range(2):  # z: 4, 3.5, 3 (clipped gradients 1); c = 1, 1/2
      ...     u, state = tx.update(y, state, y)
      ...     y = optax.apply_updates(y, u)
      >>> y, optchain.schedule_free_eval_params(state, y)  # x = (3.5 + 3) / 2, y = (x + 3) / 2
      (Array([3.125], dtype=float32), Array([3.25], dtype=float32))

    References:
      Defazio et al., *The Road Less Scheduled*, NeurIPS 2024 (arXiv:2405.15682).
    """
    found = [
        node
        for node in jax.tree.leaves(state, is_leaf=_is_schedule_free_state)
        if _is_schedule_free_state(node)
    ]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise ValueError(
            f"schedule_free_eval_params: the state holds {what} ScheduleFreeState "
            "(pass the state of schedule_free / schedule_free_adamw / schedule_free_sgd, or a "
            "chain, inject_hyperparams or Flax optimizer state that holds exactly one)"
        )
    b1 = _value(found[0].b1)
    z = jax.tree.map(_value, found[0].z, is_leaf=_has_value)
    y = jax.tree.map(_value, params, is_leaf=_has_value)

    def evaluate(y_leaf, z_leaf):
        y_leaf, z_leaf = jnp.asarray(y_leaf), jnp.asarray(z_leaf)
        if not _core.is_float(y_leaf):
            return y_leaf
        wide = _core.compute_dtype(_core.wider_dtype(y_leaf.dtype, z_leaf.dtype))
        beta = jnp.asarray(b1).astype(wide)
        x = (y_leaf.astype(wide) - (1 - beta) * z_leaf.astype(wide)) / beta
        return x.astype(y_leaf.dtype)

    x = jax.tree.map(evaluate, y, z)
    return _rewrap(params, x)


def _rewrap(params: Any, values: Any) -> Any:
    """``values`` in the containers of ``params`` (an ``nnx.State`` of Variables stays one)."""
    if not any(_has_value(n) for n in jax.tree.leaves(params, is_leaf=_has_value)):
        return values
    leaves = iter(jax.tree.leaves(values))

    def put(node):
        new = next(leaves)
        return node.replace(new) if _has_value(node) and hasattr(node, "replace") else new

    return jax.tree.map(put, params, is_leaf=_has_value)
