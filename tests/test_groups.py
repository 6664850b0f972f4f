"""Parameter groups by path pattern, freezing and state transfer."""

import functools

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
