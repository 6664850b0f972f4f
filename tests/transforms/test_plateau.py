"""reduce_on_plateau_torch against torch ReduceLROnPlateau fixtures; reduce_on_plateau is optax's."""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

FIXTURES = np.load(pathlib.Path(__file__).parent.parent / "fixtures" / "torch_schedules.npz")
CASES = sorted({k.split("/")[1] for k in FIXTURES.files if k.startswith("plateau/")})


def _kwargs(config):
    config = dict(config)
    config.pop("sequence")
    if "min_lr" in config:
        config["min_scale"] = config.pop("min_lr")
    return config


@pytest.mark.parametrize("case", CASES)
def test_matches_torch_reduce_lr_on_plateau(case):
    config = json.loads(str(FIXTURES[f"plateau/{case}/config"]))
    values = FIXTURES[f"plateau_values/{config['sequence']}"]
    expected = FIXTURES[f"plateau/{case}/lr"]
    tx = oc.reduce_on_plateau_torch(**_kwargs(config))
    update = jax.jit(tx.update)
    state = tx.init(None)
    scales = []
    for v in values:
        u, state = update(jnp.ones(2), state, None, value=jnp.float32(v))
        scales.append(float(state.scale))
        np.testing.assert_allclose(u, state.scale, rtol=1e-7)
    np.testing.assert_allclose(scales, expected, rtol=1e-6)
    if case != "rel_negative":  # torch's rel mode never reduces on a negative plateau
        assert expected.min() < 1.0  # the case exercises at least one reduction


def test_cases_cover_negative_values_and_both_modes():
    configs = [json.loads(str(FIXTURES[f"plateau/{c}/config"])) for c in CASES]
    assert {c.get("mode", "min") for c in configs} == {"min", "max"}
    assert {c.get("threshold_mode", "rel") for c in configs} == {"rel", "abs"}
    negative = [c for c in configs if FIXTURES[f"plateau_values/{c['sequence']}"].max() < 0]
    assert len(negative) >= 2


def test_torch_rel_mode_never_reduces_on_a_negative_plateau_but_rel_magnitude_does():
    values = FIXTURES["plateau_values/negative"]
    np.testing.assert_array_equal(FIXTURES["plateau/rel_negative/lr"], 1.0)  # torch's own behaviour

    def final_scale(threshold_mode, sequence):
        tx = oc.reduce_on_plateau_torch(
            factor=0.5, patience=3, threshold=0.01, threshold_mode=threshold_mode
        )
        state = tx.init(None)
        for v in sequence:
            _, state = tx.update(jnp.ones(1), state, value=jnp.float32(v))
        return float(state.scale)

    assert final_scale("rel", values) == 1.0
    assert final_scale("rel_magnitude", values) < 1e-3
    positive = FIXTURES["plateau_values/decreasing_plateau"]
    assert final_scale("rel_magnitude", positive) == final_scale("rel", positive) < 1.0


def test_optax_contrib_reduces_earlier_than_torch():
    config = json.loads(str(FIXTURES["plateau/tight/config"]))
    values = FIXTURES[f"plateau_values/{config['sequence']}"]
    torch_first = int(np.argmax(FIXTURES["plateau/tight/lr"] < 1))
    theirs = oc.reduce_on_plateau(factor=0.5, patience=2, rtol=0.01, cooldown=2, min_scale=0.05)
    state = theirs.init(jnp.ones(1))
    update = jax.jit(lambda s, v: theirs.update(jnp.ones(1), s, None, value=v)[1])
    scales = []
    with jax.numpy_dtype_promotion("standard"):
        for v in values:
            state = update(state, jnp.float32(v))
            scales.append(float(state.scale))
    assert int(np.argmax(np.array(scales) < 1)) == torch_first - 1


def test_in_a_chain_after_the_learning_rate():
    tx = optax.chain(oc.sgd(0.1), oc.reduce_on_plateau_torch(factor=0.5, patience=0))
    w = jnp.ones(1)
    state = tx.init(w)
    for loss in (1.0, 1.0):
        u, state = tx.update(jnp.ones(1), state, w, value=loss)
    np.testing.assert_allclose(u, [-0.05])


def test_missing_value_and_bad_arguments():
    tx = oc.reduce_on_plateau_torch()
    with pytest.raises(ValueError, match="value=loss"):
        tx.update(jnp.ones(1), tx.init(None))
    with pytest.raises(ValueError, match="factor"):
        oc.reduce_on_plateau_torch(factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        oc.reduce_on_plateau_torch(mode="minimum")
    with pytest.raises(ValueError, match="patience"):
        oc.reduce_on_plateau_torch(patience=-1)


def test_reduce_on_plateau_is_optaxs_and_the_torch_one_has_its_own_state():
    assert oc.reduce_on_plateau is optax.contrib.reduce_on_plateau
    assert oc.ReduceLROnPlateauState is optax.contrib.ReduceLROnPlateauState
    state = oc.reduce_on_plateau_torch().init(None)
    assert type(state) is oc.ReduceOnPlateauTorchState
    assert state._fields == ("count", "scale", "best", "num_bad_steps", "cooldown_counter")
    assert not hasattr(oc, "ReduceOnPlateauState")  # renamed: it was the torch rule's state
