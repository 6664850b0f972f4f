"""Construction-time checks of hyperparameters, by the names the user wrote.

:func:`check_hyperparameter` validates one value against a range; :data:`RULES` holds the
range of every public hyperparameter name (``b1`` in [0, 1), ``learning_rate`` >= 0, ...),
so a named optimizer checks its own arguments (``adam: b1 must be in [0, 1); got 1.5``)
instead of letting a primitive report its internal name (``decay``), and
:func:`optchain.set_hyperparams` applies the same rules to the values it sets.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer


def _is_concrete_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, Tracer):
        return False
    return hasattr(value, "shape") and getattr(value, "shape", None) == ()


def _is_integer(value: Any) -> bool:
    if isinstance(value, numbers.Integral):
        return not isinstance(value, bool)
    dtype = getattr(value, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.integer)


def concrete_float(value: Any) -> float | None:
    """``float(value)`` for a concrete number, ``None`` for a schedule or a traced value."""
    return float(value) if _is_concrete_number(value) else None


def check_hyperparameter(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_schedule: bool = True,
    integer: bool = False,
) -> Any:
    """Validates a hyperparameter at construction time and returns it unchanged.

    A number must be finite and lie in the interval described by ``low``/``high``
    (``*_open`` makes that end exclusive); with ``integer`` it must be an int (a Python or
    NumPy int, or an integer scalar array). A schedule is accepted when ``allow_schedule``
    and checked at its first value by :func:`check_schedule` (a scalar in the same range;
    later values are traced).

    Raises:
      ValueError: naming ``name`` and the allowed range.
    """
    if callable(value):
        if not allow_schedule:
            raise ValueError(f"{name} must be a number, not a schedule; got {value!r}")
        rule = {"low": low, "high": high, "low_open": low_open, "high_open": high_open}
        check_schedule(name, value, rule)
        return value
    if not _is_concrete_number(value):
        if isinstance(value, Tracer):
            return value
        raise ValueError(f"{name} must be a number or a schedule step -> value; got {value!r}")
    number = float(value)
    lo = "(" if low_open or low is None else "["
    hi = ")" if high_open or high is None else "]"
    allowed = (
        f"{lo}{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}{hi}"
    )
    if integer and not _is_integer(value):
        raise ValueError(f"{name} must be an int in {allowed}; got {value!r}")
    bad = not math.isfinite(number)
    if low is not None and (number < low or (low_open and number == low)):
        bad = True
    if high is not None and (number > high or (high_open and number == high)):
        bad = True
    if bad:
        raise ValueError(f"{name} must be in {allowed}; got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    """Raises ``ValueError`` naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


# The allowed range of each public hyperparameter name, as keyword arguments of
# :func:`check_hyperparameter`. A named optimizer checks its arguments against these by the
# names it exposes; ``set_hyperparams`` checks the values it writes the same way.
_UNIT_OPEN = {"low": 0.0, "high": 1.0, "high_open": True}
_UNIT = {"low": 0.0, "high": 1.0}
_NONNEG = {"low": 0.0}
_POSITIVE = {"low": 0.0, "low_open": True}
RULES: dict[str, dict[str, Any]] = {
    "learning_rate": _NONNEG,
    "b1": _UNIT_OPEN,
    "b2": _UNIT_OPEN,
    "beta": _UNIT_OPEN,
    "decay": _UNIT,
    "rho": _UNIT,
    "momentum": _UNIT,
    "dampening": _UNIT,
    "eps": _NONNEG,
    "eps_root": _NONNEG,
    "weight_decay": _NONNEG,
    "wd_lh": _NONNEG,
    "initial_accumulator_value": _NONNEG,
    "initial_scale": _NONNEG,
    "eta": _NONNEG,
    "gamma": _NONNEG,
    "kappa": _NONNEG,
    "phi": _UNIT,
    "theta": _UNIT_OPEN,
    "eta_minus": {"low": 0.0, "high": 1.0, "low_open": True},
    "eta_plus": {"low": 1.0},
    "min_step_size": _NONNEG,
    "max_step_size": _POSITIVE,
    "trust_coefficient": _POSITIVE,
    "clip_gradient": _POSITIVE,
    "local_clip_norm": _POSITIVE,
    "density": {"low": 0.0, "high": 1.0, "low_open": True},
    "max_density": {"low": 0.0, "high": 1.0, "low_open": True},
    "memory_size": {"low": 1.0, "integer": True, "allow_schedule": False},
    "tolerance_grad": {"low": 0.0, "allow_schedule": False},
    "tolerance_change": {"low": 0.0, "allow_schedule": False},
    "max_linesearch_steps": {"low": 0.0, "integer": True, "allow_schedule": False},
    "threshold": {},  # RAdam's rho_min: any finite number
    "min_dim_size_to_factor": {"low": 0.0, "integer": True, "allow_schedule": False},
    "clipping_threshold": _POSITIVE,
    "weight_decay_rate": _NONNEG,
    "adafactor.decay_rate": {"low": 0.0, "allow_schedule": False},  # an exponent
    "adafactor.decay_offset": {"low": 0.0, "integer": True, "allow_schedule": False},
    "adafactor_torch.beta2_decay": {"high": 0.0, "allow_schedule": False},  # an exponent
    "adafactor_torch.eps1": _NONNEG,
    "adafactor_torch.eps2": {"low": 0.0, "allow_schedule": False},
    "adafactor_torch.d": _POSITIVE,
    "sm3.momentum": {**_UNIT, "allow_schedule": False},
    "b3": _UNIT_OPEN,
    "alpha": _NONNEG,
    "optimism": _NONNEG,
    "min_norm": _NONNEG,
    "max_learning_rate": _NONNEG,
    "scaling": _NONNEG,
    "f_min": {},
    # DoWG's first squared-distance guess (None: eps); a step size of 0 would never move
    "init_estim_sq_dist": {"low": 0.0, "low_open": True, "allow_schedule": False},
    # torch's ASGD and NAdam (issue 19): t0 is a step, momentum_decay an exponent's rate
    "lambd": _NONNEG,
    "t0": {"low": 0.0, "allow_schedule": False},
    "momentum_decay": {"low": 0.0, "allow_schedule": False},
    # "<owner>.<name>": a name whose range differs for one optimizer (the optimistic
    # gradient's beta weighs an extrapolation, it is no decay)
    "optimistic_gradient_descent.beta": _NONNEG,
    "optimistic_adam_v2.beta": _NONNEG,
    # MXNet's FTRL, DCASGD (issue 19): lamda* is MXNet's spelling; FTRL divides by the rate
    "lamda1": _NONNEG,
    "lamda": _NONNEG,
    "ftrl.learning_rate": _POSITIVE,
    "ftrl.beta": _NONNEG,  # added to sqrt(n), no decay
    "dcasgd.momentum": _UNIT_OPEN,
    # Muon (optax.contrib): Newton-Schulz steps, the RMS target, the Adam part's arguments
    "ns_steps": {"low": 0.0, "integer": True, "allow_schedule": False},
    "consistent_rms": {"low": 0.0, "allow_schedule": False},
    "adam_b1": _UNIT_OPEN,
    "adam_b2": _UNIT_OPEN,
    "adam_eps_root": _NONNEG,
    "adam_weight_decay": _NONNEG,
    "adam_learning_rate": _NONNEG,
    # SAM, Sophia, MoMo (loss-aware family): periods are step counts, c clips elementwise
    "sync_period": {"low": 1.0, "integer": True, "allow_schedule": False},
    "update_interval": {"low": 1.0, "integer": True, "allow_schedule": False},
    "print_win_rate_every_n_steps": {"low": 0.0, "integer": True, "allow_schedule": False},
    "clip_threshold": _POSITIVE,
    "lower_bound": {"allow_schedule": False},  # any finite loss value
    # GaLore and DP-SGD (optax.contrib): structural integers, numbers optax keeps unscheduled
    "rank": {"low": 1.0, "integer": True, "allow_schedule": False},
    "update_proj_gap": {"low": 1.0, "integer": True, "allow_schedule": False},
    "galore.scale": {},
    "scale_by_galore.scale": {},
    "l2_norm_clip": {"low": 0.0, "allow_schedule": False},
    "noise_multiplier": {"low": 0.0, "allow_schedule": False},
    # schedule-free (optax.contrib): b1 interpolates (0 would divide by zero), it is no decay
    "schedule_free_sgd.b1": {"low": 0.0, "high": 1.0, "low_open": True, "allow_schedule": False},
    "schedule_free_adamw.b1": {"low": 0.0, "high": 1.0, "low_open": True, "allow_schedule": False},
    # bias_correction of the second moment uses 1 - b2**t: a constant b2
    "schedule_free_adamw.b2": {**_UNIT_OPEN, "allow_schedule": False},
    "schedule_free_sgd.warmup_steps": {"low": 1.0, "integer": True, "allow_schedule": False},
    "schedule_free_adamw.warmup_steps": {"low": 1.0, "integer": True, "allow_schedule": False},
    "weight_lr_power": {"low": 0.0, "allow_schedule": False},
    "schedule_free_sgd.r": {"low": 0.0, "allow_schedule": False},
    "schedule_free_adamw.r": {"low": 0.0, "allow_schedule": False},
    # learning-rate-free distance estimates (Prodigy, D-Adaptation) and Mechanic
    "beta3": {**_UNIT_OPEN, "allow_schedule": False},
    "estim_lr0": {**_POSITIVE, "allow_schedule": False},
    "estim_lr_coef": _POSITIVE,
    "s_init": {**_POSITIVE, "allow_schedule": False},
    "num_betas": {"low": 1.0, "integer": True, "allow_schedule": False},
}


def check_named(owner: str, **values: Any) -> None:
    """Checks each ``name=value`` against :data:`RULES` (names without a rule, and ``None``,
    pass), raising ``ValueError("<owner>: <name> must be in [...]; got <value>")``.

    A schedule is checked at its first value (step 0), which must be a finite scalar in the
    range; later values are traced and cannot be checked at construction.
    """
    for name, value in values.items():
        rule = RULES.get(f"{owner}.{name}", RULES.get(name))
        if rule is None or value is None:
            continue
        try:
            check_hyperparameter(name, value, **rule)  # a schedule at its first value
        except ValueError as error:
            raise ValueError(f"{owner}: {error}") from None


def check_schedule(name: str, schedule: Any, rule: dict[str, Any]) -> None:
    """Calls ``schedule(0)`` eagerly: it must return a scalar in ``rule``'s range.

    A schedule that cannot run outside a trace (it reads a traced value) is left alone.
    """
    try:
        with jax.numpy_dtype_promotion("standard"):
            first = schedule(jnp.zeros([], jnp.int32))
    except Exception:  # noqa: BLE001 - not every schedule can run eagerly; check it traced
        return
    shape = getattr(first, "shape", ())
    if shape != ():
        raise ValueError(
            f"{name} schedule must return a scalar; at step 0 it returned shape {tuple(shape)}"
        )
    if isinstance(first, Tracer):
        return
    try:
        number = float(first)
    except (TypeError, ValueError):
        raise ValueError(f"{name} schedule must return a number; got {first!r} at step 0") from None
    try:
        check_hyperparameter(name, number, **rule)
    except ValueError as error:
        raise ValueError(f"{error} (the schedule's value at step 0)") from None


def _check_any_owner(owner: str, name: str, value: Any) -> None:
    """``name``'s rule; where some optimizers have their own (``ftrl``'s ``beta`` >= 0, the
    generic ``beta`` in [0, 1)), a value that one of them allows passes: the state does not
    say which optimizer was injected."""
    try:
        check_named(owner, **{name: value})
    except ValueError:
        specific = [k.split(".")[0] for k in RULES if k.endswith(f".{name}")]
        for other in specific:
            try:
                check_named(other, **{name: value})
                return
            except ValueError:
                continue
        raise


def checked_new_value(name: str, value: Any, old: jax.Array) -> jax.Array:
    """``value`` as the new stored ``old``: same dtype and shape, range-checked by name."""
    owner = "set_hyperparams"
    if callable(value):
        raise ValueError(
            f"{owner}: {name} must be a number; a schedule is fixed when the optimizer is "
            f"built (pass it to the injected constructor); got {value!r}"
        )
    shape = tuple(np.shape(value))
    if shape not in ((), tuple(old.shape)):
        what = "a scalar" if old.shape == () else f"a scalar or of shape {tuple(old.shape)}"
        raise ValueError(f"{owner}: {name} must be {what}; got shape {shape}")
    if jnp.issubdtype(old.dtype, jax.dtypes.prng_key):
        if getattr(value, "dtype", None) != old.dtype:
            raise ValueError(f"{owner}: {name} must be a PRNG key of dtype {old.dtype}")
        return jnp.broadcast_to(value, old.shape)
    if isinstance(value, Tracer):  # inside jit: the value is unknown, only its shape is
        return jnp.broadcast_to(jnp.asarray(value).astype(old.dtype), old.shape)
    try:
        numbers = np.asarray(value)
    except (TypeError, ValueError):
        numbers = np.asarray(None)
    if isinstance(value, bool) or numbers.dtype.kind not in "iuf":
        raise ValueError(f"{owner}: {name} must be a number; got {value!r}")
    for x in numbers.ravel().tolist():
        shown = value if isinstance(value, (int, float)) else x
        if name in RULES:
            _check_any_owner(owner, name, shown)
        elif math.isnan(x):
            raise ValueError(f"{owner}: {name} must not be NaN; got {shown!r}")
        if jnp.issubdtype(old.dtype, jnp.integer) and x != math.floor(x):
            raise ValueError(f"{owner}: {name} is stored as {old.dtype}; got {shown!r}")
    return jnp.broadcast_to(jnp.asarray(value, dtype=old.dtype), old.shape)
