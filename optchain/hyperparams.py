"""Hyperparameters in the optimizer state: read them for logging, set them between steps.

:func:`inject_hyperparams` is optax's, with a few additions (a Python-int ``key`` seed stays
static; a ``max_density`` that sizes a buffer stays static and defaults to the initial
``density``; schedules run as optchain's transforms run them); :func:`get_hyperparams` and :func:`set_hyperparams` read and write the injected
values without knowing where in the state they sit, for one parameter group
(:func:`optchain.param_groups`) or for all of them.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optchain import _checks
from optchain.distributed import buffer_density
from optchain.groups import ALL_GROUPS, _label_of

__all__ = ["inject_hyperparams", "get_hyperparams", "set_hyperparams"]

_INJECTED = (optax.InjectStatefulHyperparamsState, optax.InjectHyperparamsState)
_PARTITION = optax.transforms.PartitionState


# arguments a traced value cannot be, so they stay static like ``max_density``: integers that
# decide the state's shapes (which leaves are factored, how many secant pairs are kept, GaLore's
# rank, Mechanic's number of betas) or a Python branch (GaLore's projection period), a bound
# that may be inf (growth_rate), and ADOPT's clipping function of the step
_SHAPES_THE_STATE = frozenset(
    {
        "min_dim_size_to_factor",
        "memory_size",
        "rank",
        "update_proj_gap",
        "num_betas",
        "growth_rate",
        "clip_value_fn",
    }
)


def _is_dtype(value: Any) -> bool:
    """A dtype or a scalar type (``jnp.float32``), not a number or an array."""
    if isinstance(value, np.dtype):
        return True
    return (
        isinstance(value, type)
        and issubclass(value, np.generic)
        or (hasattr(value, "dtype") and not hasattr(value, "shape") and callable(value))
    )


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

    Four additions for arguments that must stay Python values:

    * An argument named ``key`` given as a Python int (a seed, as optchain's noisy
      transforms take) is kept static, as if listed in ``static_args``; optax would make it
      a traced int32 hyperparameter, which a factory that turns the seed into a PRNG key
      cannot use. A key array is injected as optax does.
    * A factory taking ``density`` and ``max_density`` (:func:`optchain.dgc_sgd`,
      :func:`optchain.dgc_sparsify`) sizes its top-k buffers by ``max_density``, which is
      therefore always static; when it is ``None`` it is fixed at construction to what the
      plain factory would use (``density``, or a schedule's value at step 0). ``density``
      itself is injected, so it can be scheduled or set between jitted steps, up to
      ``max_density``: a larger value sends ``max_density`` (pass a larger ``max_density``
      to leave room).
    * ``min_dim_size_to_factor`` (:func:`optchain.adafactor`) and ``memory_size``
      (:func:`optchain.lbfgs`) decide the state's shapes and are static.
    * An argument given a dtype (``jnp.float32``, ``np.dtype("bfloat16")``, such as
      :func:`optchain.adafactor`'s ``dtype_momentum``) is static: optax would turn
      ``jnp.float32`` into a traced array and fail in ``init``.

    Schedules are called under standard dtype promotion, as optchain's transforms call the
    schedules they are given, so a schedule runs the same injected or not.

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
      >>> params = jnp.zeros(2, jnp.bfloat16)
      >>> state = optchain.set_hyperparams(tx.init(params), learning_rate=0.05)
      >>> {k: (round(float(v), 4), v.dtype.name) for k, v in optchain.get_hyperparams(state).items()}
      {'learning_rate': (0.05, 'float32'), 'momentum': (0.9, 'float32'), 'dampening': (0.0, 'float32'), 'weight_decay': (0.0, 'float32')}
      >>> updates, state = tx.update(jnp.ones(2, jnp.bfloat16), state, params)
      >>> updates
      Array([-0.05, -0.05], dtype=bfloat16)

    References:
      optax's ``inject_hyperparams``; torch's ``optimizer.param_groups[0]["lr"]``.
    """
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    signature = inspect.signature(inner_factory)
    names = signature.parameters
    sized = "density" in names and "max_density" in names
    if sized:
        static.add("max_density")
    static |= _SHAPES_THE_STATE & set(names)
    injected = optax.inject_hyperparams(inner_factory, tuple(sorted(static)), hyperparam_dtype)
    seeded = "key" in names and "key" not in static
    with_static_key = (
        optax.inject_hyperparams(inner_factory, tuple(sorted(static | {"key"})), hyperparam_dtype)
        if seeded
        else injected
    )
    owner = getattr(inner_factory, "__name__", "inject_hyperparams")

    @functools.wraps(inner_factory)
    def wrapped(*args: Any, **kwargs: Any) -> optax.GradientTransformationExtraArgs:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        if sized:
            _checks.check_named(owner, density=arguments["density"])
            arguments["max_density"] = buffer_density(
                arguments["density"], arguments["max_density"]
            )
        dtypes = {n for n, v in arguments.items() if _is_dtype(v)} - static
        for name, value in arguments.items():
            if name not in static | dtypes and _is_plain_schedule(value):
                arguments[name] = _under_standard_promotion(value)
        key = arguments.get("key")
        seed = seeded and isinstance(key, int) and not isinstance(key, bool)
        if dtypes:
            keep = static | dtypes | ({"key"} if seed else set())
            chosen = optax.inject_hyperparams(inner_factory, tuple(sorted(keep)), hyperparam_dtype)
            return chosen(*bound.args, **bound.kwargs)
        return (with_static_key if seed else injected)(*bound.args, **bound.kwargs)

    return wrapped


def _is_plain_schedule(value: Any) -> bool:
    """Whether optax's ``inject_hyperparams`` wraps ``value`` as a ``step -> value`` schedule."""
    return callable(value) and not isinstance(value, optax.schedules.StatefulSchedule)


def _under_standard_promotion(schedule: Callable[..., Any]) -> Callable[..., Any]:
    """``schedule`` run under standard dtype promotion, as optchain runs the schedules it is
    given directly (``_core.resolve``): optax's own schedules mix Python floats with the
    int32 counter, which a caller's strict promotion would reject inside the injected update."""

    def run(step: Any) -> Any:
        with jax.numpy_dtype_promotion("standard"):
            return schedule(step)

    return run


# --- finding injected states, by parameter group --------------------------------------------


def _map_injected(fn: Callable[[Any, Any], Any], state: Any, group: Any = None) -> Any:
    """``state`` with every injected state ``s`` replaced by ``fn(label, s)``; ``label`` is the
    key of the innermost ``optax.partition`` group holding ``s`` (``None`` outside groups)."""

    def visit(node):
        if isinstance(node, _INJECTED):
            return fn(group, node)
        if isinstance(node, _PARTITION):
            inner = {k: _map_injected(fn, v, k) for k, v in node.inner_states.items()}
            return node._replace(inner_states=inner)
        return node

    return jax.tree.map(visit, state, is_leaf=lambda x: isinstance(x, (_INJECTED, _PARTITION)))


def _injected_by_group(opt_state: Any) -> dict[Any, Any]:
    """The first injected state of each group, in the state's order."""
    found: dict[Any, Any] = {}

    def collect(label, node):
        found.setdefault(label, node)
        return node

    _map_injected(collect, opt_state)
    return found


def _group_labels(opt_state: Any) -> list[Any]:
    """Every group label of every ``optax.partition`` in ``opt_state``."""
    labels: list[Any] = []

    def visit(node):
        if isinstance(node, _PARTITION):
            for k, v in node.inner_states.items():
                if k not in labels:
                    labels.append(k)
                jax.tree.map(visit, v, is_leaf=lambda x: isinstance(x, _PARTITION))
        return node

    jax.tree.map(visit, opt_state, is_leaf=lambda x: isinstance(x, _PARTITION))
    return labels


def _show(labels: Iterable[Any]) -> str:
    return "[" + ", ".join("(no group)" if k is None else repr(k) for k in labels) + "]"


def _targets(opt_state: Any, group: Any, owner: str) -> dict[Any, Any]:
    """The injected states ``group`` addresses: ``{label: first injected state of that group}``."""
    found = _injected_by_group(opt_state)
    if not found:
        raise ValueError(f"{owner}: no inject_hyperparams state in the optimizer state")
    if group is ALL_GROUPS:
        return found
    if group is None:
        if len(found) > 1:
            raise ValueError(
                f"{owner}: the state has injected hyperparameters in {len(found)} parameter "
                f"groups {_show(found)}; pass group=<one of them>, or group=optchain.ALL_GROUPS "
                "for every group"
            )
        return found
    labels = _group_labels(opt_state)
    label = group
    if isinstance(group, (tuple, list)) and group not in labels:
        if not all(isinstance(p, str) for p in group):
            raise TypeError(f"{owner}: a tuple group key holds patterns (strings); got {group!r}")
        label = _label_of(tuple(group))  # ("**/bias", "**/scale") is "**/bias, **/scale"
    if label in found:
        return {label: found[label]}
    if label in labels:
        raise ValueError(
            f"{owner}: group {label!r} has no inject_hyperparams state; groups with injected "
            f"hyperparameters: {_show(found)}"
        )
    if not labels:
        raise ValueError(f"{owner}: unknown group {label!r}: the state has no parameter groups")
    raise ValueError(
        f"{owner}: unknown group {label!r}; the groups are {_show(labels)} (with injected "
        f"hyperparameters: {_show(k for k in found if k is not None)})"
    )


def get_hyperparams(opt_state: Any, *, group: Any = None) -> dict[Any, Any]:
    """The current hyperparameters (after schedules) of an injected optimizer in ``opt_state``.

    Without ``group``, those of the first injected optimizer found (for example the one
    :func:`inject_hyperparams` built, anywhere in an ``optax.chain``). In a
    :func:`optchain.param_groups` state, ``group`` is the group's key as written in the groups
    mapping (a pattern, or a tuple of patterns: ``("**/bias", "**/scale")`` or its label
    ``"**/bias, **/scale"``; :data:`optchain.DEFAULT` for the default group), like torch's
    ``optimizer.param_groups[i]["lr"]``; a state with injected optimizers in several groups
    needs one, and :data:`optchain.ALL_GROUPS` returns every group's.

    Args:
      opt_state: an optimizer state holding ``inject_hyperparams`` states.
      group: a group key, :data:`optchain.ALL_GROUPS`, or ``None``.

    Returns:
      ``{name: value}`` of that optimizer, or ``{group label: {name: value}}`` for
      :data:`optchain.ALL_GROUPS`.

    Raises:
      ValueError: if there is no injected state, if ``group`` is unknown or has none (naming
        the known groups), or if ``group`` is ``None`` and several groups have one.

    Example:
      >>> import functools, jax.numpy as jnp, optchain
      >>> adam = functools.partial(optchain.inject_hyperparams(optchain.adam), learning_rate=0.1)
      >>> tx = optchain.param_groups({"**/bias": {"learning_rate": 0.01}}, optimizer=adam)
      >>> state = tx.init({"w": jnp.ones(2), "bias": jnp.ones(2)})
      >>> float(optchain.get_hyperparams(state, group="**/bias")["learning_rate"])
      0.01
      >>> {g: round(float(hp["learning_rate"]), 3) for g, hp in optchain.get_hyperparams(state, group=optchain.ALL_GROUPS).items()}
      {'**/bias': 0.01, 'default': 0.1}

    References:
      torch's ``optimizer.param_groups[i]["lr"]``; optax's ``state.hyperparams``.
    """
    targets = _targets(opt_state, group, "get_hyperparams")
    if group is ALL_GROUPS:
        return {label: dict(s.hyperparams) for label, s in targets.items()}
    return dict(next(iter(targets.values())).hyperparams)


def set_hyperparams(opt_state: Any, *, group: Any = None, **values: Any) -> Any:
    """A copy of ``opt_state`` with hyperparameters of an injected optimizer replaced.

    Values keep the stored dtype and shape, so a jitted step does not recompile (a scalar is
    broadcast to a stored shape, such as a ``pmap``-replicated state's device axis). Each value
    is checked as the optimizer's constructor checks it, by name (``b1`` in [0, 1),
    ``learning_rate`` >= 0, ...; optchain's ``_checks.RULES``), and must not be NaN. Inside
    ``jit`` the values are traced and only their shapes can be checked. A hyperparameter given
    as a schedule is recomputed from its schedule at the next step, so setting it has no
    lasting effect.

    ``group`` picks the injected optimizer as in :func:`get_hyperparams`: without it, the first
    one found (an error when several parameter groups have one); a group's key for that
    group's; :data:`optchain.ALL_GROUPS` for every group's (torch's "set the learning rate of
    all groups"), where each group must have every name injected.

    Args:
      opt_state: an optimizer state holding ``inject_hyperparams`` states.
      group: a group key, :data:`optchain.ALL_GROUPS`, or ``None``.
      **values: ``name=value`` for each hyperparameter to set.

    Returns:
      The new state, of the same tree structure, shapes and dtypes.

    Raises:
      ValueError: naming a hyperparameter that is not injected, a value out of its range, not
        a number or of the wrong shape, or an unknown group (with the known ones).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.inject_hyperparams(optchain.adam)(learning_rate=0.1)
      >>> state = optchain.set_hyperparams(tx.init(jnp.zeros(2)), learning_rate=0.01, b1=0.8)
      >>> round(float(optchain.get_hyperparams(state)["b1"]), 3)
      0.8
      >>> optchain.set_hyperparams(state, b1=1.5)
      Traceback (most recent call last):
      ...
      ValueError: set_hyperparams: b1 must be in [0, 1); got 1.5

      In a :func:`optchain.param_groups` state, ``group=`` picks the group:

      >>> import functools
      >>> adam = functools.partial(optchain.inject_hyperparams(optchain.adam), learning_rate=0.1)
      >>> tx = optchain.param_groups({"**/bias": {}}, optimizer=adam)
      >>> state = tx.init({"w": jnp.ones(2), "bias": jnp.ones(2)})
      >>> state = optchain.set_hyperparams(state, learning_rate=0.0, group="**/bias")
      >>> {g: float(hp["learning_rate"]) for g, hp in optchain.get_hyperparams(state, group=optchain.ALL_GROUPS).items()}
      {'**/bias': 0.0, 'default': 0.1}

    References:
      torch's ``for g in optimizer.param_groups: g["lr"] = lr``; optax's ``inject_hyperparams``
      (writing ``state.hyperparams``).
    """
    targets = _targets(opt_state, group, "set_hyperparams")
    for label, target in targets.items():
        unknown = sorted(set(values) - set(target.hyperparams))
        if unknown:
            where = "" if label is None else f" in group {label!r}"
            raise ValueError(
                f"set_hyperparams: {unknown} not injected{where}; injected: "
                f"{sorted(target.hyperparams)}"
            )
    new = {
        label: {
            name: _checks.checked_new_value(name, v, jnp.asarray(s.hyperparams[name]))
            for name, v in values.items()
        }
        for label, s in targets.items()
    }
    done: set[Any] = set()

    def replace(label, node):
        if label not in new or label in done:
            return node
        done.add(label)
        return node._replace(hyperparams={**node.hyperparams, **new[label]})

    return _map_injected(replace, opt_state)
