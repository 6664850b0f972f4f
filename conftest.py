"""Strict JAX for every test and doctest: no implicit dtype or rank promotion."""

import jax
import pytest

# Scripts that tests run in a subprocess with 8 simulated devices: importing them here (for
# their doctests) would set XLA_FLAGS in this process, or fail once JAX has started.
collect_ignore = ["tests/distributed_check.py", "tests/sharding_check.py"]


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
