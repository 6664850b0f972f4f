"""Parameter groups by path pattern, freezing and state transfer."""

import functools
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen, nnx

import optchain as oc


@pytest.mark.parametrize(
    "pattern, path, expected",
    [
        ("**/bias", "bias", True),
        ("**/bias", "enc/0/bias", True),
        ("**/bias", "enc/0/bias_x", False),
        ("enc/**", "enc/0/kernel", True),
        ("enc/**", "enc", True),
        ("enc/**", "encoder/kernel", False),
        ("enc/*", "enc/kernel", True),
        ("enc/*", "enc/0/kernel", False),
        ("layers/?/kernel", "layers/3/kernel", True),
        ("layers/?/kernel", "layers/13/kernel", False),
        ("*_0/kernel", "hidden_0/kernel", True),
        ("**", "anything/at/all", True),
        ("a.b", "axb", False),  # no regex meaning leaks through
        ("enc/**/kernel", "enc/kernel", True),  # ** may be zero keys, as in gitignore
        ("enc/**/kernel", "enc/a/b/kernel", True),
    ],
)
def test_glob_patterns(pattern, path, expected):
    assert oc.groups.matches(pattern, path) is expected


def _linen_params():
    class Net(linen.Module):
        @linen.compact
        def __call__(self, x):
            x = linen.Dense(4, name="encoder")(x)
            x = linen.LayerNorm(name="norm")(x)
            return linen.Dense(2, name="head")(x)

    return Net().init(jax.random.PRNGKey(0), jnp.ones((1, 3)))["params"]


def _nnx_params():
    class Net(nnx.Module):
        def __init__(self, rngs):
            self.encoder = nnx.Linear(3, 4, rngs=rngs)
            self.norm = nnx.LayerNorm(4, rngs=rngs)
            self.blocks = nnx.List([nnx.Linear(4, 4, rngs=rngs) for _ in range(2)])

    return nnx.state(Net(nnx.Rngs(0)), nnx.Param)


def test_paths_of_linen_and_nnx_trees():
    linen_paths = [
        oc.path_string(p) for p, _ in jax.tree_util.tree_flatten_with_path(_linen_params())[0]
    ]
    assert linen_paths == [
        "encoder/bias",
        "encoder/kernel",
        "head/bias",
        "head/kernel",
        "norm/bias",
        "norm/scale",
    ]
    nnx_paths = [
        oc.path_string(p) for p, _ in jax.tree_util.tree_flatten_with_path(_nnx_params())[0]
    ]
    assert nnx_paths == [
        "blocks/0/bias",
        "blocks/0/kernel",
        "blocks/1/bias",
        "blocks/1/kernel",
        "encoder/bias",
        "encoder/kernel",
        "norm/bias",
        "norm/scale",
    ]
    assert oc.path_string(jax.tree_util.tree_flatten_with_path((1, [2]))[0][1][0]) == "1/0"


def test_first_matching_group_wins_and_the_summary_says_where_each_leaf_went():
    groups = {"encoder/**": None, ("**/bias", "**/scale"): None}
    labels = oc.group_labels(groups, _linen_params(), default=True)
    assert labels["encoder"] == {"bias": "encoder/**", "kernel": "encoder/**"}
    assert labels["norm"] == {"bias": "**/bias, **/scale", "scale": "**/bias, **/scale"}
    assert labels["head"] == {"bias": "**/bias, **/scale", "kernel": oc.DEFAULT}
    summary = oc.group_summary(groups, _linen_params())
    assert "head/kernel     (4, 2)  float32  default" in summary.splitlines()
    assert summary.splitlines()[-3:] == [
        "encoder/**         2       16",
        "**/bias, **/scale  3       10",
        "default            1       8",
    ]


def test_unmatched_parameters_and_unused_patterns_are_errors_that_name_them():
    params = _linen_params()
    with pytest.raises(
        ValueError, match=r"2 parameter\(s\) match no group .*head/bias, head/kernel"
    ):
        oc.param_groups({"encoder/**": oc.FROZEN, "norm/*": oc.FROZEN}).init(params)
    with pytest.raises(
        ValueError, match=r"'decoder/\*\*' match no parameter.*look like 'encoder/bias'"
    ):
        oc.param_groups({"decoder/**": oc.FROZEN}, default=oc.sgd(0.1)).init(params)
    with pytest.raises(
        ValueError,
        match=r"'head/bias' match no parameter \(head/bias only match parameters an earlier",
    ):
        oc.param_groups({"**/bias": oc.FROZEN, "head/bias": oc.sgd(1.0)}, default=oc.sgd(0.1)).init(
            params
        )
    # strict=False lets a shared recipe name patterns a model does not have
    tx = oc.param_groups({"decoder/**": oc.FROZEN}, default=oc.sgd(0.1), strict=False)
    tx.init(params)
    with pytest.raises(ValueError, match="the only string value is optchain.FROZEN"):
        oc.param_groups({"**": "freeze"})
    with pytest.raises(ValueError, match="overrides .* but no `optimizer`"):
        oc.param_groups({"**": {"learning_rate": 0.1}})
    with pytest.raises(TypeError, match="group '\\*\\*': optimizer"):
        oc.param_groups({"**": {"lr": 0.1}}, optimizer=oc.adam)
    with pytest.raises(TypeError, match="got int"):
        oc.param_groups({"**": 3})
    with pytest.raises(ValueError, match="non-empty string"):
        oc.param_groups({"": oc.FROZEN})
    with pytest.raises(ValueError, match="distinct"):
        oc.group_labels({"a": 1, oc.DEFAULT: 2}, params, default=True)


def test_each_group_runs_its_own_optimizer_exactly():
    params = {
        "enc": {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "bias": jnp.ones(3)},
        "head": jnp.arange(4.0),
    }
    tx = oc.param_groups(
        {"**/bias": {"weight_decay": 0.0}, "enc/**": {"learning_rate": 0.01}},
        optimizer=functools.partial(oc.adamw, learning_rate=0.1, weight_decay=0.5),
    )
    alone = {
        ("enc", "bias"): oc.adamw(0.1, weight_decay=0.0),
        ("enc", "w"): oc.adamw(0.01, weight_decay=0.5),
        ("head",): oc.adamw(0.1, weight_decay=0.5),
    }

    def grad(p, t):
        return jax.tree.map(lambda x: jnp.cos(x * (t + 1.0)), p)

    step = jax.jit(tx.update)
    p, state = params, tx.init(params)
    singles = {k: (functools.reduce(lambda d, key: d[key], k, params), None) for k in alone}
    singles = {k: (v, alone[k].init(v)) for k, (v, _) in singles.items()}
    for t in range(10):
        g = grad(p, t)
        u, state = step(g, state, p)
        p = optax.apply_updates(p, u)
        for k, (leaf, s) in singles.items():
            lu, s = alone[k].update(jnp.cos(leaf * (t + 1.0)), s, leaf)
            singles[k] = (leaf + lu, s)
    for k, (leaf, _) in singles.items():
        np.testing.assert_allclose(
            functools.reduce(lambda d, key: d[key], k, p), leaf, rtol=1e-6, atol=1e-7
        )


def _state_bytes(tree):
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree))


def test_frozen_parameters_stay_bit_identical_and_have_no_state():
    params = _nnx_params()
    groups = {"encoder/**": oc.FROZEN, "blocks/0/**": oc.FROZEN}
    tx = oc.param_groups(groups, default=oc.adam(0.05))
    state = tx.init(params)
    assert jax.tree.leaves(state.inner_states["encoder/**"]) == []
    assert jax.tree.leaves(state.inner_states["blocks/0/**"]) == []
    trained = {k: v for k, v in nnx.to_pure_dict(params).items() if k != "encoder"}
    trained["blocks"] = {1: trained["blocks"][1]}
    # adam keeps two moments per trained parameter plus counters
    assert _state_bytes(state) == _state_bytes(oc.adam(0.05).init(trained))

    def loss(p):
        return sum(jnp.sum(jnp.sin(x - 0.3) ** 2) for x in jax.tree.leaves(p))

    @jax.jit
    def step(p, s):
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return optax.apply_updates(p, u), s

    p = params
    for _ in range(25):
        p, state = step(p, state)
    before, after = nnx.to_pure_dict(params), nnx.to_pure_dict(p)
    for name in ("kernel", "bias"):
        assert np.array_equal(before["encoder"][name], after["encoder"][name])
        assert np.array_equal(before["blocks"][0][name], after["blocks"][0][name])
        assert not np.array_equal(before["blocks"][1][name], after["blocks"][1][name])


def test_unfreezing_keeps_the_other_groups_state_and_trajectory():
    params = {"a": jnp.array([1.0, -2.0]), "b": jnp.array([0.5, 3.0, -1.0])}

    def grads(p, t):  # separable: b's gradient never depends on a
        return jax.tree.map(lambda x: x - jnp.sin(t + 0.0), p)

    frozen = oc.param_groups({"a": oc.FROZEN}, default=oc.adam(0.1))
    thawed = oc.param_groups({"a": oc.sgd(0.1)}, default=oc.adam(0.1))

    def run(tx, p, s, ts):
        for t in ts:
            u, s = tx.update(grads(p, t), s, p)
            p = optax.apply_updates(p, u)
        return p, s

    p, s = run(frozen, params, frozen.init(params), range(5))
    np.testing.assert_array_equal(p["a"], params["a"])
    carried = oc.transfer_state(s, thawed.init(p))
    default_before = s.inner_states[oc.DEFAULT]
    for x, y in zip(
        jax.tree.leaves(default_before),
        jax.tree.leaves(carried.inner_states[oc.DEFAULT]),
        strict=True,
    ):
        np.testing.assert_array_equal(x, y)
    assert int(carried.inner_states[oc.DEFAULT].inner_state.count) == 5

    # b continues exactly as if nothing had been rebuilt; a now moves
    p_thawed, _ = run(thawed, p, carried, range(5, 10))
    p_frozen, _ = run(frozen, p, s, range(5, 10))
    np.testing.assert_array_equal(p_thawed["b"], p_frozen["b"])
    assert not np.array_equal(p_thawed["a"], params["a"])


def test_transfer_state_gives_new_layers_fresh_state():
    old_params = {"hidden_0": jnp.ones(3), "head": jnp.ones(2)}
    new_params = {"hidden_0": jnp.ones(3), "hidden_1": jnp.ones(4), "head": jnp.ones(4)}
    tx = oc.adam(0.1)
    s = tx.update(jax.tree.map(jnp.ones_like, old_params), tx.init(old_params), old_params)[1]
    carried = oc.transfer_state(s, tx.init(new_params))
    leaves = {oc.path_string(k): v for k, v in jax.tree_util.tree_flatten_with_path(carried)[0]}
    olds = {oc.path_string(k): v for k, v in jax.tree_util.tree_flatten_with_path(s)[0]}
    kept = [k for k in leaves if "hidden_0" in k]
    fresh = [k for k in leaves if "hidden_1" in k or "head" in k]
    assert kept and fresh
    for k in kept:
        np.testing.assert_array_equal(leaves[k], olds[k])
    counts = [k for k in leaves if k.endswith("count")]
    assert counts and all(int(leaves[k]) == 1 for k in counts)
    for k in fresh:  # head changed shape, hidden_1 is new: both start from zero
        assert not np.any(np.asarray(leaves[k]))


def test_greedy_layerwise_workflow_example_runs_inside_nnx_optimizer():
    class Net(nnx.Module):
        def __init__(self, rngs):
            self.encoder = nnx.Linear(3, 4, rngs=rngs)
            self.head = nnx.Linear(4, 1, rngs=rngs)

        def __call__(self, x):
            return self.head(jnp.tanh(self.encoder(x)))

    model = Net(nnx.Rngs(0))
    kernel = np.asarray(model.encoder.kernel[...]).copy()
    optimizer = nnx.Optimizer(
        model, oc.param_groups({"encoder/**": oc.FROZEN}, default=oc.adam(0.05)), wrt=nnx.Param
    )
    x, y = jnp.ones((8, 3)), jnp.zeros((8, 1))

    @nnx.jit
    def step(model, optimizer):
        loss, g = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.update(model, g)
        return loss

    losses = [float(step(model, optimizer)) for _ in range(30)]
    assert losses[-1] < 0.1 * losses[0]
    np.testing.assert_array_equal(model.encoder.kernel[...], kernel)


# --- hyperparameters addressed by group ----------------------------------------------------


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
