"""A Flax NNX training step with an optchain optimizer: clipping + AdamW on a warmup-cosine
schedule, regressing a noisy sine.

    python examples/nnx_train_step.py --steps 500
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import optchain
from optchain import schedules


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(1, 64, rngs=rngs)
        self.out = nnx.Linear(64, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.tanh(self.hidden(x)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args(argv)

    x = jnp.linspace(-3, 3, 256)[:, None]
    y = jnp.sin(x) + 0.05 * jax.random.normal(jax.random.PRNGKey(0), x.shape)
    model = MLP(nnx.Rngs(0))
    lr = schedules.warmup(schedules.cosine(1e-2, args.steps), max(args.steps // 10, 1))
    tx = optax.chain(optchain.clip_by_global_norm(1.0), optchain.adamw(lr, weight_decay=1e-4))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.update(model, grads)
        return loss

    losses = [float(train_step(model, optimizer, x, y)) for _ in range(args.steps)]
    print(f"mse: first step {losses[0]:.4f}, last step {losses[-1]:.4f}")
    return losses


if __name__ == "__main__":
    main()
