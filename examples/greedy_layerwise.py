"""Greedy layer-wise training with parameter groups: train a one-hidden-layer network, freeze
its hidden layer, add a second hidden layer and a new head and train only those, then unfreeze
everything and fine-tune at a lower learning rate. Digits (sklearn), Flax Linen.

    python examples/greedy_layerwise.py --steps 300
"""

from __future__ import annotations

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import optchain
from optchain.compare import load_digits_split


class MLP(nn.Module):
    depth: int
    width: int = 64

    @nn.compact
    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        for i in range(self.depth):
            x = nn.tanh(nn.Dense(self.width, name=f"hidden_{i}")(x))
        return nn.Dense(10, name="head")(x)


def train(model, params, tx, state, data, steps, seed):
    (x, y), _ = data
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss_fn(p, xb, yb):
        logits = model.apply({"params": p}, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def step(p, s, key):
        idx = jax.random.randint(key, (64,), 0, x.shape[0])
        loss, g = jax.value_and_grad(loss_fn)(p, x[idx], y[idx])
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    for key in jax.random.split(jax.random.PRNGKey(seed), steps):
        params, state, loss = step(params, state, key)
    return params, state, float(loss)


def accuracy(model, params, data):
    _, (x, y) = data
    return float(jnp.mean(jnp.argmax(model.apply({"params": params}, x), -1) == y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="steps per phase")
    args = parser.parse_args(argv)
    data = load_digits_split(0)
    sample = data[0][0][:1]
    report = {}

    # Phase 1: one hidden layer, everything trained.
    small = MLP(depth=1)
    params = small.init(jax.random.PRNGKey(0), sample)["params"]
    tx = optchain.adam(1e-2)
    params, _, loss = train(small, params, tx, tx.init(params), data, args.steps, 1)
    report["1: train hidden_0 + head"] = (loss, accuracy(small, params, data))

    # Phase 2: keep the trained hidden_0 frozen, add hidden_1 and a new head, train only those.
    deep = MLP(depth=2)
    grown = dict(deep.init(jax.random.PRNGKey(1), sample)["params"])
    grown["hidden_0"] = params["hidden_0"]
    groups = {"hidden_0/**": optchain.FROZEN}
    tx = optchain.param_groups(groups, default=optchain.adam(1e-2))
    print(optchain.group_summary(groups, grown), end="\n\n")
    state = tx.init(grown)
    frozen_before = grown["hidden_0"]
    grown, state, loss = train(deep, grown, tx, state, data, args.steps, 2)
    unchanged = all(
        bool(jnp.array_equal(a, b))
        for a, b in zip(
            jax.tree.leaves(frozen_before), jax.tree.leaves(grown["hidden_0"]), strict=True
        )
    )
    report["2: freeze hidden_0, train hidden_1 + head"] = (loss, accuracy(deep, grown, data))

    # Phase 3: unfreeze; fine-tune everything at a tenth of the rate. The default group's moments
    # and step count carry over; hidden_0's state starts at zero.
    tx = optchain.param_groups({"hidden_0/**": optchain.adam(1e-3)}, default=optchain.adam(1e-3))
    state = optchain.transfer_state(state, tx.init(grown))
    grown, state, loss = train(deep, grown, tx, state, data, args.steps, 3)
    report["3: fine-tune all at 1e-3"] = (loss, accuracy(deep, grown, data))

    for phase, (loss, acc) in report.items():
        print(f"{phase:<44} last loss {loss:.4f}  test accuracy {acc:.3f}")
    print(f"hidden_0 bit-identical through phase 2: {unchanged}")
    return report, unchanged


if __name__ == "__main__":
    main()
