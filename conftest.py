"""Strict JAX for every test and doctest: no implicit dtype or rank promotion."""

import jax
import pytest


@pytest.fixture(autouse=True)
def strict_jax():
    with jax.numpy_dtype_promotion("strict"), jax.numpy_rank_promotion("raise"):
        yield


@pytest.fixture
def standard_promotion(strict_jax):
    """For user-style code (examples, benchmarks running optax's optimizers, MultiSteps) that is
    not clean under strict promotion: request it with ``pytest.mark.usefixtures`` or autouse."""
    with jax.numpy_dtype_promotion("standard"):
        yield
