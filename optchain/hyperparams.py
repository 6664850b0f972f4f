"""Hyperparameters in the optimizer state: read them for logging, set them between steps.

:func:`inject_hyperparams` is optax's, with one addition (a Python-int ``key`` seed stays
static); :func:`get_hyperparams` and :func:`set_hyperparams` read and write the injected
values without knowing where in the state they sit.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["inject_hyperparams", "get_hyperparams", "set_hyperparams"]

_INJECTED = (optax.InjectStatefulHyperparamsState, optax.InjectHyperparamsState)


def inject_hyperparams(
    inner_factory: Callable[..., optax.GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any = None,
) -> Callable[..., optax.GradientTransformationExtraArgs]:
    """Wrap an optimizer constructor so its numeric hyperparameters live in the state.

    optax's ``inject_hyperparams``, same signature, same state
    (``optax.InjectStatefulHyperparamsState(count, hyperparams, hyperparams_states,
    inner_state)``), same values. ``inject_hyperparams(optchain.adam)(learning_rate=schedule,
    b1=0.9)`` builds Adam whose ``learning_rate`` and ``b1`` (after their schedules) are in
    ``state.hyperparams``: read them with :func:`get_hyperparams`, change them between steps
    with :func:`set_hyperparams` (no recompilation: same shapes and dtypes). Numeric
    arguments with a default of 0 (such as ``weight_decay``) keep their link in the chain so
    they can be set later, so such optimizers need ``params`` in ``update``.

    One addition: an argument named ``key`` given as a Python int (a seed, as optchain's
    noisy transforms take) is kept static, as if listed in ``static_args``; optax would
    make it a traced int32 hyperparameter, which a factory that turns the seed into a PRNG
    key cannot use. A key array is injected as optax does.

    Args:
      inner_factory: any optchain (or optax) optimizer constructor.
      static_args: names of arguments that must stay Python values.
      hyperparam_dtype: dtype of the injected floats. ``None`` (optax's default) follows
        the parameters' highest float dtype, so bfloat16 parameters round ``b2 = 0.999``
        to 1.0 (optax issue #1414): pass ``jnp.float32`` to keep float32 hyperparameters.

    Returns:
      A constructor with the same signature returning an
      ``optax.GradientTransformationExtraArgs``.

    Raises:
      ValueError: if ``static_args`` names an argument ``inner_factory`` does not take.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> injected_sgd = optchain.inject_hyperparams(optchain.sgd, hyperparam_dtype=jnp.float32)
      >>> tx = injected_sgd(learning_rate=0.1, momentum=0.9)
      >>> state = tx.init(jnp.zeros(2, jnp.bfloat16))
      >>> state = optchain.set_hyperparams(state, learning_rate=0.05)
      >>> {k: (round(float(v), 4), v.dtype.name) for k, v in optchain.get_hyperparams(state).items()}
      {'learning_rate': (0.05, 'float32'), 'momentum': (0.9, 'float32'), 'dampening': (0.0, 'float32'), 'weight_decay': (0.0, 'float32')}
    """
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    injected = optax.inject_hyperparams(inner_factory, tuple(static), hyperparam_dtype)
    signature = inspect.signature(inner_factory)
    if "key" not in signature.parameters or "key" in static:
        return injected
    with_static_key = optax.inject_hyperparams(
        inner_factory, tuple(static | {"key"}), hyperparam_dtype
    )

    @functools.wraps(inner_factory)
    def wrapped(*args: Any, **kwargs: Any) -> optax.GradientTransformationExtraArgs:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        key = bound.arguments["key"]
        seed = isinstance(key, int) and not isinstance(key, bool)
        return (with_static_key if seed else injected)(*args, **kwargs)

    return wrapped


def _injected_states(opt_state: Any) -> list[Any]:
    leaves = jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, _INJECTED))
    return [s for s in leaves if isinstance(s, _INJECTED)]


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
        if isinstance(node, _INJECTED) and not done:
            done.append(True)
            hp = dict(node.hyperparams)
            for name, value in values.items():
                old = jnp.asarray(hp[name])
                hp[name] = jnp.asarray(value, dtype=old.dtype).reshape(old.shape)
            return node._replace(hyperparams=hp)
        return node

    return jax.tree.map(replace, opt_state, is_leaf=lambda x: isinstance(x, _INJECTED))
