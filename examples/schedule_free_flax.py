"""Schedule-free AdamW in Flax: train at the point y, evaluate at the average x.

The same small MLP regresses a noisy sine from minibatches, once with ``flax.nnx.Optimizer`` and
once with Flax Linen's ``TrainState``, under ``optchain.contrib.schedule_free_adamw`` at a
constant learning rate after a short warmup (no decay schedule). The optimizer's parameters are
the train point y, where gradients are taken; ``schedule_free_eval_params(opt_state, params)``
gives the weights x to evaluate (a weighted average of the base optimizer's iterates), which
finds the schedule-free state inside either framework's optimizer state. The script prints the
full-data loss at both points.

    python examples/schedule_free_flax.py --steps 600
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx
from flax.training import train_state

from optchain import contrib


def data(n=256, seed=0):
    """Inputs in [-3, 3] and a noisy sine of them."""
    x = jnp.linspace(-3, 3, n)[:, None]
    return x, jnp.sin(x) + 0.1 * jax.random.normal(jax.random.PRNGKey(seed), x.shape)


def batches(steps, n, size, seed=1):
    """The indices of ``steps`` minibatches of ``size`` examples."""
    return jax.random.randint(jax.random.PRNGKey(seed), (steps, size), 0, n)


def mse(prediction, target):
    return jnp.mean((prediction - target) ** 2)


class NnxMLP(nnx.Module):
    def __init__(self, width: int, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(1, width, rngs=rngs)
        self.out = nnx.Linear(width, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.tanh(self.hidden(x)))


class LinenMLP(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.tanh(nn.Dense(self.width)(x)))


def train_nnx(tx, x, y, index, width):
    """(loss at the train point y, loss at the evaluation weights x) after training."""
    model = NnxMLP(width, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    @jax.jit
    def run(state, index):  # every step in one compiled scan (nnx's functional API)
        def step(state, batch):
            model, optimizer = nnx.merge(graphdef, state)
            grads = nnx.grad(lambda m: mse(m(x[batch]), y[batch]))(model)
            optimizer.update(model, grads)
            return nnx.state((model, optimizer)), None

        return jax.lax.scan(step, state, index)[0]

    model, optimizer = nnx.merge(graphdef, run(state, index))
    model_def, params, rest = nnx.split(model, nnx.Param, ...)
    eval_params = contrib.schedule_free_eval_params(optimizer.opt_state, params)
    train_loss = mse(model(x), y)
    eval_loss = mse(nnx.merge(model_def, eval_params, rest)(x), y)
    return float(train_loss), float(eval_loss)


def train_linen(tx, x, y, index, width):
    """(loss at the train point y, loss at the evaluation weights x) after training."""
    model = LinenMLP(width)
    state = train_state.TrainState.create(
        apply_fn=model.apply, params=model.init(jax.random.PRNGKey(0), x)["params"], tx=tx
    )

    def loss(params, batch):
        return mse(state.apply_fn({"params": params}, x[batch]), y[batch])

    @jax.jit
    def run(state, index):
        def step(state, batch):
            return state.apply_gradients(grads=jax.grad(loss)(state.params, batch)), None

        return jax.lax.scan(step, state, index)[0]

    state = run(state, index)
    eval_params = contrib.schedule_free_eval_params(state.opt_state, state.params)
    everything = jnp.arange(len(x))
    return float(loss(state.params, everything)), float(loss(eval_params, everything))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args(argv)

    x, y = data()
    index = batches(args.steps, len(x), args.batch)
    tx = contrib.schedule_free_adamw(args.lr, warmup_steps=max(args.steps // 20, 1))
    results = {
        "nnx.Optimizer": train_nnx(tx, x, y, index, args.width),
        "linen TrainState": train_linen(tx, x, y, index, args.width),
    }
    for name, (train_loss, eval_loss) in results.items():
        print(
            f"{name}: mse at the train point y {train_loss:.4f}, at the eval weights x {eval_loss:.4f}"
        )
    return results


if __name__ == "__main__":
    main()
