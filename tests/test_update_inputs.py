"""A gradient that does not match the parameters raises, naming the leaf's path, under jit too.

A broadcastable wrong shape ((3, 2) for a (2,) parameter) used to be accepted by every named
optimizer and reshaped the parameter; a real gradient for a complex parameter or an integer
gradient for a float one would be a silent wrong update. Shapes and dtypes are static, so the
check runs at trace time and costs nothing in a compiled step.
"""

import jax
import jax.numpy as jnp
import pytest
from named_optimizers import NAMED

PARAMS = {"w": jnp.ones(2), "b": {"c": jnp.zeros(3)}}
GOOD = {"w": jnp.full(2, 0.5), "b": {"c": jnp.full(3, -0.25)}}
BAD = {
    "shape": ({"w": jnp.ones((3, 2)), "b": {"c": jnp.zeros(3)}}, r"updates\['w'\] has shape"),
    "int_dtype": (
        {"w": jnp.ones(2, jnp.int32), "b": {"c": jnp.zeros(3)}},
        r"updates\['w'\] has dtype int32",
    ),
    "complex_for_real": (
        {"w": jnp.ones(2), "b": {"c": jnp.zeros(3, jnp.complex64)}},
        r"updates\['b'\]\['c'\] has dtype complex64",
    ),
    "tree": ({"w": jnp.ones(2), "b": {"d": jnp.zeros(3)}}, r"\['b'\]\['d'\]"),
}


@pytest.mark.parametrize("name", sorted(NAMED))
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_mismatched_gradient_raises_with_its_path(name, jit):
    tx = NAMED[name]()
    state = tx.init(PARAMS)
    update = jax.jit(tx.update) if jit else tx.update
    update(GOOD, state, PARAMS)  # the matching gradient is fine (compiled once under jit)
    for grads, message in BAD.values():  # a failure shows the case's pattern
        with pytest.raises(ValueError, match=message):
            update(grads, state, PARAMS)


STATEFUL = [n for n in NAMED if n not in {"sign_sgd", "noisy_sgd", "sgld"}]


@pytest.mark.parametrize("name", STATEFUL)
def test_without_params_the_state_shapes_catch_a_wrong_shape(name):
    tx = NAMED[name]()
    state = tx.init(PARAMS)
    grads = BAD["shape"][0]
    with pytest.raises(ValueError) as error:
        tx.update(grads, state)
    # an optimizer that reads the parameters says so first
    assert "updates['w'] has shape (3, 2)" in str(error.value) or "needs the parameters" in str(
        error.value
    )


def test_mixed_precision_gradients_are_not_a_mismatch():
    tx = NAMED["adam"]()
    params = {"w": jnp.ones(2, jnp.bfloat16)}
    updates, _ = tx.update({"w": jnp.ones(2, jnp.float32)}, tx.init(params), params)
    assert updates["w"].dtype == jnp.float32
