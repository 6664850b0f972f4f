"""The flat-buffer layout: same numbers as the tree, per-leaf techniques through segments."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from named_optimizers import NAMED

import optchain as oc
from optchain import flat


def _tree(seed=0):
    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    return {
        "dense": {"kernel": jax.random.normal(k[0], (5, 3)), "bias": jax.random.normal(k[1], (3,))},
        "emb": jax.random.normal(k[2], (4, 2)).astype(jnp.bfloat16),
        "blocks": [jax.random.normal(k[3], (2, 2, 2)), jnp.zeros((0,))],
    }


def test_flatten_roundtrip_and_errors():
    tree = _tree()
    layout = flat.Layout.of(tree)
    buffers = layout.flatten(tree)
    assert sorted(buffers) == ["bfloat16", "float32"]
    assert buffers["float32"].shape == (15 + 3 + 8,) and buffers["bfloat16"].shape == (8,)
    back = layout.unflatten(buffers)
    for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(back), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(layout.segment_ids("float32")[:3], [0, 0, 0])
    with pytest.raises(ValueError, match="expected float32"):
        layout.flatten(jax.tree.map(lambda x: x.astype(jnp.float16), tree))
    assert "4 leaves" in repr(
        flat.Layout.of({"a": jnp.ones(2), "b": jnp.ones(3), "c": [jnp.ones(1), jnp.ones(1)]})
    )


def _train(tx, params, flat_layout=None, steps=12):
    """Jitted steps on a separable loss; returns the final params as a tree."""

    def loss(p):
        return sum(
            jnp.sum(jnp.sin(x.astype(jnp.float32) * 1.3 - 0.2) ** 2) for x in jax.tree.leaves(p)
        )

    if flat_layout is None:
        p, grad = params, jax.grad(loss)
    else:
        p = flat_layout.flatten(params)
        grad = jax.grad(lambda fp: loss(flat_layout.unflatten(fp)))
    state = tx.init(p)

    @jax.jit
    def step(p, state):
        u, state = tx.update(grad(p), state, p)
        return optax.apply_updates(p, u), state

    for _ in range(steps):
        p, state = step(p, state)
    return p if flat_layout is None else flat_layout.unflatten(p)


ELEMENTWISE = [
    "sgd",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamw",
    "amsgrad",
    "nadam",
    "adamax",
    "signum",
    "ftml",
    "rprop",
    "delta_bar_delta",
]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_element_wise_optimizers_give_the_same_numbers(name):
    params = {k: v for k, v in _tree().items() if k != "emb"}  # float32 only: one buffer
    want = _train(NAMED[name](), params)
    got = _train(NAMED[name](), params, flat.Layout.of(params))
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)


def test_per_leaf_wrapper_and_segment_clip_match_the_tree():
    params = {k: v for k, v in _tree().items() if k != "emb"}
    layout = flat.Layout.of(params)
    tree_tx = optax.chain(oc.clip_by_block_norm(0.5), oc.sgd(0.1))
    want = _train(tree_tx, params)
    wrapped = _train(
        optax.chain(flat.per_leaf(oc.clip_by_block_norm(0.5), layout), oc.sgd(0.1)), params, layout
    )
    native = _train(optax.chain(flat.clip_by_block_norm(0.5, layout), oc.sgd(0.1)), params, layout)
    for a, b, c in zip(*map(jax.tree.leaves, (want, wrapped, native)), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(c, a, rtol=1e-6, atol=1e-7)
    # layer-wise optimizers and parameter groups through the wrapper
    for make in (
        lambda: oc.lamb(0.01),
        lambda: oc.param_groups({"**/bias": oc.FROZEN}, default=oc.adam(0.1)),
    ):
        want = _train(make(), params)
        got = _train(flat.per_leaf(make(), layout), params, layout)
        for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_masked_weight_decay_matches_optax_masked():
    params = {k: v for k, v in _tree().items() if k != "emb"}
    layout = flat.Layout.of(params)
    want = _train(optax.chain(oc.add_decayed_weights(0.1, oc.layerwise_mask), oc.sgd(0.1)), params)
    got = _train(
        optax.chain(
            flat.masked(oc.add_decayed_weights(0.1), layout, oc.layerwise_mask), oc.sgd(0.1)
        ),
        params,
        layout,
    )
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_flax_train_step_on_the_flat_layout_equals_the_tree_step():
    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            for width in (16, 16, 8):
                x = nn.relu(nn.Dense(width)(x))
            return nn.Dense(1)(x)

    model = MLP()
    x = jax.random.normal(jax.random.PRNGKey(0), (32, 4))
    y = jnp.sum(x, axis=1, keepdims=True)
    params = model.init(jax.random.PRNGKey(1), x)["params"]
    layout = flat.Layout.of(params)

    def loss(p):
        return jnp.mean((model.apply({"params": p}, x) - y) ** 2)

    tx = oc.adam(1e-2)

    @jax.jit
    def tree_step(p, s):
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return optax.apply_updates(p, u), s

    @jax.jit
    def flat_step(fp, s):
        g = jax.grad(lambda fp: loss(layout.unflatten(fp)))(fp)
        u, s = tx.update(g, s, fp)
        return optax.apply_updates(fp, u), s

    p, s = params, tx.init(params)
    fp, fs = layout.flatten(params), tx.init(layout.flatten(params))
    for _ in range(20):
        p, s = tree_step(p, s)
        fp, fs = flat_step(fp, fs)
    for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(layout.unflatten(fp)), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert float(loss(layout.unflatten(fp))) < 0.5 * float(loss(params))


def test_flat_clip_and_mask_zero_integer_buffers_and_handle_complex():
    params = {"w": jnp.array([3.0, 4.0]), "z": jnp.array([3.0j, 4.0], jnp.complex64),
              "n": jnp.array([7, 8], jnp.int32), "s": 1.5}  # fmt: skip
    layout = flat.Layout.of(params)
    assert set(layout.sizes) == {"float32", "complex64", "int32"}
    grads = layout.flatten(params)
    out, _ = flat.clip_by_block_norm(1.0, layout).update(grads, flat.FlatClipState())
    tree = layout.unflatten(out)
    want, _ = oc.clip_by_block_norm(1.0).update(params, oc.clip_by_block_norm(1.0).init(params))
    for key in ("w", "z", "s"):
        np.testing.assert_allclose(tree[key], want[key], rtol=1e-6)
    np.testing.assert_array_equal(tree["n"], [0, 0])
    masked = flat.masked(oc.scale(2.0), layout, {"w": True, "z": False, "n": False, "s": True})
    out, _ = masked.update(grads, masked.init(grads), grads)
    tree = layout.unflatten(out)
    np.testing.assert_allclose(tree["w"], [6.0, 8.0])
    np.testing.assert_allclose(tree["z"], [3.0j, 4.0])
    np.testing.assert_allclose(tree["s"], 3.0)
    assert tree["n"].dtype == jnp.int32 and not np.any(np.asarray(tree["n"]))
