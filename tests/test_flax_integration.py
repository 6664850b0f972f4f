"""optchain in the four places users put an optimizer: optax.chain, optax.MultiSteps,
flax.nnx.Optimizer and flax.training.train_state.TrainState, on real Flax models."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen, nnx
from flax.training import train_state

import optchain as oc


def _data():
    x = jax.random.normal(jax.random.PRNGKey(0), (64, 8))
    y = jnp.sin(x @ jnp.linspace(-1.0, 1.0, 8))[:, None]
    return x, y


class NnxMLP(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(8, 32, rngs=rngs)
        self.norm = nnx.LayerNorm(32, rngs=rngs)
        self.l2 = nnx.Linear(32, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(nnx.gelu(self.norm(self.l1(x))))


def _train_nnx(tx, steps=30):
    model = NnxMLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x, y = _data()

    @nnx.jit
    def step(model, optimizer):
        loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.update(model, grads)
        return loss

    losses = [float(step(model, optimizer)) for _ in range(steps)]
    return model, losses


def test_nnx_optimizer_with_an_optchain_chain():
    tx = optax.chain(oc.clip_by_global_norm(1.0), oc.adamw(3e-3, weight_decay=1e-4))
    model, losses = _train_nnx(tx)
    assert losses[-1] < 0.5 * losses[0]
    with jax.numpy_dtype_promotion("standard"):  # optax itself is not strict-promotion clean
        reference, ref_losses = _train_nnx(
            optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(3e-3, weight_decay=1e-4))
        )
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        nnx.state(model, nnx.Param),
        nnx.state(reference, nnx.Param),
    )


class LinenCNN(linen.Module):
    @linen.compact
    def __call__(self, x):
        x = linen.Conv(4, (3,), padding="SAME")(x[..., None])
        x = linen.relu(x).reshape(x.shape[0], -1)
        return linen.Dense(1)(x)


def test_linen_train_state():
    x, y = _data()
    model = LinenCNN()
    params = model.init(jax.random.PRNGKey(1), x)["params"]

    def run(tx):
        state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)

        @jax.jit
        def step(state):
            def loss_fn(p):
                return jnp.mean((state.apply_fn({"params": p}, x) - y) ** 2)

            loss, grads = jax.value_and_grad(loss_fn)(state.params)
            return state.apply_gradients(grads=grads), loss

        losses = []
        for _ in range(30):
            state, loss = step(state)
            losses.append(float(loss))
        return state, losses

    state, losses = run(oc.sgd(0.05, momentum=0.9, nesterov=True))
    with jax.numpy_dtype_promotion("standard"):
        ref_state, ref_losses = run(optax.sgd(0.05, momentum=0.9, nesterov=True))
    assert losses[-1] < 0.5 * losses[0]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    assert int(state.step) == 30


def test_multisteps_accumulates_then_applies_one_optchain_step():
    with jax.numpy_dtype_promotion("standard"):  # optax.MultiSteps mixes int32 and floats
        _multisteps_case()


def _multisteps_case():
    x, y = _data()
    model = LinenCNN()
    params = model.init(jax.random.PRNGKey(1), x)["params"]
    grad = jax.jit(jax.grad(lambda p, xb, yb: jnp.mean((model.apply({"params": p}, xb) - yb) ** 2)))
    micro = [(x[i * 16 : (i + 1) * 16], y[i * 16 : (i + 1) * 16]) for i in range(4)]

    accumulated = optax.MultiSteps(oc.adam(1e-2), every_k_schedule=4)
    state = accumulated.init(params)
    p = params
    for i, (xb, yb) in enumerate(micro):
        u, state = accumulated.update(grad(p, xb, yb), state, p)
        p = optax.apply_updates(p, u)
        if i < 3:
            jax.tree.map(np.testing.assert_array_equal, p, params)  # nothing applied yet

    mean_grad = jax.tree.map(lambda *g: sum(g) / 4, *[grad(params, xb, yb) for xb, yb in micro])
    plain = oc.adam(1e-2)
    u, _ = plain.update(mean_grad, plain.init(params), params)
    expected = optax.apply_updates(params, u)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), p, expected)
