"""Doctests run with ``jnp``, ``optax`` and ``optchain`` importable and strict JAX on."""

import jax
import pytest


@pytest.fixture(autouse=True)
def strict_jax():
    with jax.numpy_dtype_promotion("strict"), jax.numpy_rank_promotion("raise"):
        yield
