"""Argument checks and the step conversion shared by optchain's own schedules."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp

from optchain import _core


def _f32(step: Any) -> jax.Array:
    return jnp.asarray(step).astype(jnp.float32)


def _check_steps(name: str, value: Any, low: int = 1) -> int:
    """An int (Python, NumPy, or an integer scalar array) >= ``low``, as a Python int."""
    integral = isinstance(value, numbers.Integral) or (
        getattr(value, "shape", None) == () and jnp.issubdtype(value.dtype, jnp.integer)
    )
    if isinstance(value, bool) or not integral or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}")
    return int(value)


def _check_number(name: str, value: Any, **bounds) -> float:
    _core.check_hyperparameter(name, value, allow_schedule=False, **bounds)
    return float(value)
