"""Hyperparameters addressed by parameter group: get_hyperparams and set_hyperparams with
group=, ALL_GROUPS, errors that name the groups, a partition inside a chain."""

import functools
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc


def _group_params():
    return {
        "enc": {"kernel": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "bias": jnp.ones(3)},
        "head": {"kernel": jnp.arange(1.0, 5.0), "bias": jnp.array([0.5, -0.5])},
    }


def _group_grads(p, t):
    return jax.tree.map(lambda x: jnp.cos(x * (t + 1.0)) + 0.1 * x, p)


def _train(tx, set_at=None, steps=10):
    """Jitted steps; ``set_at[t]`` is a function state -> state applied before step t."""
    p = _group_params()
    state = tx.init(p)

    @jax.jit
    def step(p, state, t):
        u, state = tx.update(_group_grads(p, t), state, p)
        return optax.apply_updates(p, u), state

    for t in range(steps):
        if set_at and t in set_at:
            state = set_at[t](state)
        p, state = step(p, state, jnp.float32(t))
    return p, state, step


def _injected_groups():
    adam = oc.inject_hyperparams(oc.adam)
    return oc.param_groups(
        {"**/bias": adam(learning_rate=0.1), "enc/**": adam(learning_rate=0.05)},
        default=adam(learning_rate=0.1),
    )


def test_setting_one_groups_learning_rate_changes_only_that_group():
    tx = _injected_groups()
    lower = {5: lambda s: oc.set_hyperparams(s, learning_rate=0.01, group="**/bias")}
    p, state, step = _train(tx, lower)
    assert step._cache_size() == 1  # same shapes and dtypes: no recompilation
    assert float(oc.get_hyperparams(state, group="**/bias")["learning_rate"]) == pytest.approx(0.01)
    assert float(oc.get_hyperparams(state, group="enc/**")["learning_rate"]) == pytest.approx(0.05)
    p_unchanged, _, _ = _train(tx)
    # the other groups' leaves follow the same trajectory bit for bit ...
    np.testing.assert_array_equal(p["enc"]["kernel"], p_unchanged["enc"]["kernel"])
    np.testing.assert_array_equal(p["head"]["kernel"], p_unchanged["head"]["kernel"])
    # ... and the bias group is exactly Adam whose learning rate drops at step 5
    adam = oc.inject_hyperparams(oc.adam)
    reference = oc.param_groups(
        {
            "**/bias": adam(learning_rate=lambda t: jnp.where(t < 5, 0.1, 0.01)),
            "enc/**": adam(0.05),
        },
        default=adam(0.1),
    )
    p_ref, _, _ = _train(reference)
    for leaf in ("enc", "head"):
        np.testing.assert_allclose(p[leaf]["bias"], p_ref[leaf]["bias"], rtol=1e-6)
        assert not np.allclose(p[leaf]["bias"], p_unchanged[leaf]["bias"], rtol=1e-4)


def test_groups_are_named_as_written_in_param_groups_and_all_groups_sets_every_one():
    adamw = functools.partial(oc.inject_hyperparams(oc.adamw), learning_rate=0.1, weight_decay=0.5)
    tx = oc.param_groups(
        {("**/bias", "head/*"): {"weight_decay": 0.0}, "enc/**": {"learning_rate": 0.01}},
        optimizer=adamw,
    )
    state = tx.init(_group_params())
    by_tuple = oc.get_hyperparams(state, group=("**/bias", "head/*"))
    by_label = oc.get_hyperparams(state, group="**/bias, head/*")
    assert float(by_tuple["weight_decay"]) == float(by_label["weight_decay"]) == 0.0
    everything = oc.get_hyperparams(state, group=oc.ALL_GROUPS)
    # the default group (no leaf is left for it) is built too, and listed
    assert list(everything) == ["**/bias, head/*", "enc/**", oc.DEFAULT]
    assert float(everything["enc/**"]["learning_rate"]) == pytest.approx(0.01)
    state = oc.set_hyperparams(state, learning_rate=0.003, group=oc.ALL_GROUPS)
    lrs = {
        g: float(hp["learning_rate"])
        for g, hp in oc.get_hyperparams(state, group=oc.ALL_GROUPS).items()
    }
    assert lrs == pytest.approx({"**/bias, head/*": 0.003, "enc/**": 0.003, "default": 0.003})
    assert repr(oc.ALL_GROUPS) == "optchain.ALL_GROUPS"
    assert pickle.loads(pickle.dumps(oc.ALL_GROUPS)) is oc.ALL_GROUPS


def test_group_errors_name_the_groups():
    state = _injected_groups().init(_group_params())
    with pytest.raises(
        ValueError,
        match=r"in 3 parameter groups \['\*\*/bias', 'enc/\*\*', 'default'\]; pass group=",
    ):
        oc.set_hyperparams(state, learning_rate=0.01)
    with pytest.raises(ValueError, match="in 3 parameter groups"):
        oc.get_hyperparams(state)
    with pytest.raises(
        ValueError,
        match=r"unknown group 'dec/\*\*'; the groups are \['\*\*/bias', 'enc/\*\*', 'default'\]",
    ):
        oc.set_hyperparams(state, learning_rate=0.01, group="dec/**")
    with pytest.raises(ValueError, match=r"set_hyperparams: b1 must be in \[0, 1\); got 1.5"):
        oc.set_hyperparams(state, b1=1.5, group="enc/**")
    with pytest.raises(ValueError, match=r"\['momentum'\] not injected in group 'default'"):
        oc.set_hyperparams(state, momentum=0.5, group=oc.DEFAULT)
    with pytest.raises(ValueError, match=r"unknown group 3; the groups are"):
        oc.get_hyperparams(state, group=3)
    with pytest.raises(TypeError, match="a tuple group key holds patterns"):
        oc.get_hyperparams(state, group=("**/bias", 3))
    mixed = oc.param_groups(
        {"enc/**": oc.FROZEN, "**/bias": oc.adam(0.1)},
        default=oc.inject_hyperparams(oc.sgd)(learning_rate=0.1, momentum=0.9),
    )
    state = mixed.init(_group_params())
    # one injected group: no group needed, as before
    assert float(oc.get_hyperparams(state)["momentum"]) == pytest.approx(0.9)
    with pytest.raises(
        ValueError,
        match=r"group 'enc/\*\*' has no inject_hyperparams state; groups with injected hyperparameters: \['default'\]",
    ):
        oc.set_hyperparams(state, learning_rate=0.01, group="enc/**")
    with pytest.raises(ValueError, match="the state has no parameter groups"):
        oc.get_hyperparams(oc.inject_hyperparams(oc.sgd)(0.1).init(_group_params()), group="enc/**")


def test_group_hyperparameters_inside_a_chain_and_a_masked_group():
    """The group is found however deep the partition sits (an optax.chain around it)."""
    groups = _injected_groups()
    tx = optax.chain(oc.clip_by_global_norm(10.0), groups)
    state = tx.init(_group_params())
    state = oc.set_hyperparams(state, b2=0.99, group="enc/**")
    assert float(oc.get_hyperparams(state, group="enc/**")["b2"]) == pytest.approx(0.99)
    assert float(oc.get_hyperparams(state, group="**/bias")["b2"]) == pytest.approx(0.999)
