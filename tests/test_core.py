"""Shared machinery: argument validation, tree checks, counters."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from reliability_rows import NAMED_ALL

import optchain as oc
from optchain import _core


@pytest.mark.parametrize(
    "make,argument",
    [
        (lambda: oc.sgd(-0.1), "learning_rate"),
        (lambda: oc.adam(1e-3, b1=1.5), r"adam: b1 must be in \[0, 1\); got 1.5"),
        (lambda: oc.adam(1e-3, eps=-1.0), "eps"),
        (lambda: oc.rmsprop(1e-3, decay=-0.1), "decay"),
        (lambda: oc.sgd(0.1, momentum=2.0), "sgd: momentum"),
        (lambda: oc.ema(float("nan")), "decay"),
        (lambda: oc.clip_by_global_norm(0.0), "max_norm"),
        (lambda: oc.ftml(0.1, b1=1.0), "b1"),
        (lambda: oc.amsgrad(0.1, max_of="median"), "max_of"),
        (lambda: oc.ema(0.9, debias="yes"), "debias"),
        (
            lambda: oc.adagrad(0.1, initial_accumulator_value=lambda t: 0.1),
            "initial_accumulator_value",
        ),
        (lambda: oc.scale("fast"), "step_size"),
    ],
)
def test_bad_hyperparameters_are_rejected_at_construction(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_error_message_gives_the_allowed_range():
    with pytest.raises(ValueError, match=r"learning_rate must be in \[0, inf\); got -0.1"):
        oc.sgd(-0.1)


def test_schedules_are_accepted_when_their_first_value_is_valid():
    oc.adam(lambda t: 1e-3, b1=lambda t: 0.9)


def test_mismatched_update_tree_names_the_first_differing_path():
    tx = oc.adam(1e-3)
    state = tx.init({"dense": {"kernel": jnp.zeros(2), "bias": jnp.zeros(1)}})
    bad = {"dense": {"kernel": jnp.zeros(2), "scale": jnp.zeros(1)}}
    with pytest.raises(
        ValueError,
        match=r"updates\['dense'\]\['scale'\] has no counterpart.*\['dense'\]\['bias'\] is missing",
    ):
        tx.update(bad, state)
    with pytest.raises(ValueError, match=r"updates\['dense'\]\['z'\] has no counterpart"):
        tx.update(
            {"dense": {"kernel": jnp.zeros(2), "bias": jnp.zeros(1), "z": jnp.zeros(1)}}, state
        )


def test_counter_saturates_instead_of_wrapping():
    top = jnp.asarray(2**31 - 1, jnp.int32)
    assert int(_core.next_count(jnp.asarray(2**31 - 2, jnp.int32))) == 2**31 - 1
    assert int(_core.next_count(top)) == 2**31 - 1


def test_bias_correction_factor_is_finite_at_huge_counts():
    f = _core.bias_correction_factor(0.999, jnp.asarray(2**31 - 1, jnp.int32))
    np.testing.assert_allclose(f, 1.0)


# float32 is tests/test_counters.py's (every named optimizer and stateful primitive); here
# bfloat16 parameters. Not lookahead and sam: their int32 scalar is the phase of the sync period.
LONG_RUN = {
    **{
        n: case.make
        for n, case in NAMED_ALL.items()
        if not case.axis and n not in {"lookahead", "sam"}
    },
    "adam_cosine": lambda: oc.adam(oc.schedules.cosine(0.01, 1000)),
    "tail_average": lambda: optax.chain(oc.sgd(0.1), oc.tail_average(3)),
}


@pytest.mark.parametrize("dtype", [jnp.bfloat16], ids=["bf16"])
@pytest.mark.parametrize("name", sorted(LONG_RUN))
def test_counters_saturate_and_updates_stay_finite_near_int32_max(name, dtype):
    tx = LONG_RUN[name]()
    params = {"w": jnp.array([0.5, -1.0, 2.0], dtype)}
    state = tx.init(params)
    is_counter = lambda x: x.dtype == jnp.int32 and x.ndim == 0  # noqa: E731
    state = jax.tree.map(lambda x: jnp.full_like(x, 2**31 - 2) if is_counter(x) else x, state)
    counters = [x for x in jax.tree.leaves(state) if is_counter(x)]
    assert counters, "every optimizer here keeps a step counter"
    update = jax.jit(tx.update)
    for _ in range(3):
        grads = {"w": jnp.array([0.1, -0.2, 0.3], dtype)}
        updates, state = update(grads, state, params)
        assert np.all(np.isfinite(np.asarray(updates["w"], np.float32)))
        params = optax.apply_updates(params, updates)
    assert all(int(x) == 2**31 - 1 for x in jax.tree.leaves(state) if is_counter(x))
    assert all(
        np.all(np.isfinite(np.asarray(x, np.float32)))
        for x in jax.tree.leaves(state)
        if jnp.issubdtype(x.dtype, jnp.floating)
    )


def test_map_floats_multi_on_a_tree_whose_root_is_a_tuple_of_the_same_length():
    """A root tuple of two leaves is not mistaken for one leaf's two outputs."""
    tree = (jnp.array([1.0]), jnp.array([2.0]))
    plus, times = _core.map_floats_multi(lambda u: (u + 1, u * 10), tree, keep=(0, 0))
    np.testing.assert_array_equal(plus[0], [2.0])
    np.testing.assert_array_equal(plus[1], [3.0])
    np.testing.assert_array_equal(times[1], [20.0])
