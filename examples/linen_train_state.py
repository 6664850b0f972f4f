"""Flax Linen with ``flax.training.train_state.TrainState`` and optchain's Nesterov SGD on a
one-cycle schedule with the matching momentum cycle.

    python examples/linen_train_state.py --steps 300
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax.training import train_state

import optchain
from optchain import schedules


class Classifier(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(nn.relu(nn.Dense(32)(x)))


def two_moons(n=512, seed=0):
    key_t, key_n = jax.random.split(jax.random.PRNGKey(seed))
    t = jax.random.uniform(key_t, (n,), maxval=jnp.pi)
    label = jnp.arange(n) % 2
    x = jnp.where(
        label[:, None] == 0,
        jnp.stack([jnp.cos(t), jnp.sin(t)], 1),
        jnp.stack([1 - jnp.cos(t), 0.5 - jnp.sin(t)], 1),
    )
    return x + 0.1 * jax.random.normal(key_n, x.shape), label


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)

    x, y = two_moons()
    model = Classifier()
    n = max(args.steps, 2)
    tx = optchain.sgd(
        schedules.one_cycle(0.5, n), momentum=schedules.one_cycle_momentum(n), nesterov=True
    )
    state = train_state.TrainState.create(
        apply_fn=model.apply, params=model.init(jax.random.PRNGKey(1), x)["params"], tx=tx
    )

    @jax.jit
    def step(state):
        def loss_fn(params):
            logits = state.apply_fn({"params": params}, x)
            return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(y)), y])

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    for _ in range(args.steps):
        state, loss = step(state)
    accuracy = float(jnp.mean(jnp.argmax(model.apply({"params": state.params}, x), -1) == y))
    print(
        f"two moons: loss {float(loss):.4f}, accuracy {accuracy:.3f} after {int(state.step)} steps"
    )
    return accuracy


if __name__ == "__main__":
    main()
