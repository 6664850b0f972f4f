"""Hyperparameters in the optimizer state: read them for logging, set them between steps.

A thin layer over ``optax.inject_hyperparams`` with float32 as the default hyperparameter
dtype, so bfloat16 parameters never round ``b2 = 0.999`` to 1 (optax issue #1414), and with
PRNG ``key`` arguments kept static.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["inject_hyperparams", "get_hyperparams", "set_hyperparams"]

_STATIC_BY_DEFAULT = ("key",)


def inject_hyperparams(
    factory: Callable[..., optax.GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any = jnp.float32,
) -> Callable[..., optax.GradientTransformationExtraArgs]:
    """Wrap an optimizer constructor so its numeric hyperparameters live in the state.

    ``inject_hyperparams(optchain.adam)(learning_rate=schedule, b1=0.9)`` builds Adam whose
    ``learning_rate`` and ``b1`` (after their schedules) are in
    ``state.hyperparams``: read them with :func:`get_hyperparams`, change them between
    steps with :func:`set_hyperparams` (no recompilation: same shapes and dtypes).
    Hyperparameters are float32 whatever the parameters' dtype. Numeric arguments with a
    default of 0 (such as ``weight_decay``) keep their link in the chain so they can be set
    later, so such optimizers need ``params`` in ``update``.

    Args:
      factory: any optchain (or optax) optimizer constructor.
      static_args: names of arguments that must stay Python values.
      hyperparam_dtype: dtype of the injected floats (default float32).

    Returns:
      A constructor with the same signature returning an
      ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.inject_hyperparams(optchain.sgd)(learning_rate=0.1, momentum=0.9)
      >>> state = tx.init(jnp.zeros(2, jnp.bfloat16))
      >>> state = optchain.set_hyperparams(state, learning_rate=0.05)
      >>> {k: (round(float(v), 4), v.dtype.name) for k, v in optchain.get_hyperparams(state).items()}
      {'learning_rate': (0.05, 'float32'), 'momentum': (0.9, 'float32'), 'dampening': (0.0, 'float32'), 'weight_decay': (0.0, 'float32')}
    """
    names = set(inspect.signature(factory).parameters)
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    static |= {name for name in _STATIC_BY_DEFAULT if name in names}
    return optax.inject_hyperparams(
        factory, static_args=tuple(sorted(static)), hyperparam_dtype=hyperparam_dtype
    )


def _injected_states(opt_state: Any) -> list[Any]:
    kind = optax.InjectStatefulHyperparamsState
    leaves = jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, kind))
    return [s for s in leaves if isinstance(s, kind)]


def get_hyperparams(opt_state: Any) -> dict[str, jax.Array]:
    """The current hyperparameters (after schedules) of the first injected optimizer in ``opt_state``."""
    found = _injected_states(opt_state)
    if not found:
        raise ValueError("get_hyperparams: no inject_hyperparams state in the optimizer state")
    return dict(found[0].hyperparams)


def set_hyperparams(opt_state: Any, **values: Any) -> Any:
    """A copy of ``opt_state`` with hyperparameters replaced (first injected optimizer found).

    Values keep the stored dtype and shape, so a jitted step does not recompile. A
    hyperparameter given as a schedule is recomputed from its schedule at the next step,
    so setting it has no lasting effect.

    Raises:
      ValueError: naming any hyperparameter that is not injected.
    """
    kind = optax.InjectStatefulHyperparamsState
    target = _injected_states(opt_state)
    if not target:
        raise ValueError("set_hyperparams: no inject_hyperparams state in the optimizer state")
    unknown = sorted(set(values) - set(target[0].hyperparams))
    if unknown:
        raise ValueError(
            f"set_hyperparams: {unknown} not injected; injected: {sorted(target[0].hyperparams)}"
        )
    done = []

    def replace(node):
        if isinstance(node, kind) and not done:
            done.append(True)
            hp = dict(node.hyperparams)
            for name, value in values.items():
                old = jnp.asarray(hp[name])
                hp[name] = jnp.asarray(value, dtype=old.dtype).reshape(old.shape)
            return node._replace(hyperparams=hp)
        return node

    return jax.tree.map(replace, opt_state, is_leaf=lambda x: isinstance(x, kind))
