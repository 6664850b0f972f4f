"""Train a small Flax NNX classifier on scikit-learn's bundled digits with several optchain
optimizers and print a ranked table. No download: the digits ship with scikit-learn.

    python examples/quickstart.py            # ~20 s on 2 CPU cores
    python examples/quickstart.py --steps 50 --optimizers adam,signum
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from sklearn.datasets import load_digits

import optchain

OPTIMIZERS = {
    "sgd": lambda: optchain.sgd(0.1),
    "momentum": lambda: optchain.sgd(0.05, momentum=0.9),
    "nesterov": lambda: optchain.sgd(0.05, momentum=0.9, nesterov=True),
    "adagrad": lambda: optchain.adagrad(0.05),
    "rmsprop": lambda: optchain.rmsprop(1e-3),
    "adadelta": lambda: optchain.adadelta(1.0),
    "adam": lambda: optchain.adam(3e-3),
    "ftml": lambda: optchain.ftml(3e-3),
    "signum": lambda: optchain.signum(1e-3),
    "delta_bar_delta": lambda: optchain.delta_bar_delta(0.05, kappa=1e-3),
    "noisy_sgd": lambda: optchain.noisy_sgd(0.1, eta=0.01),
}


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(64, 64, rngs=rngs)
        self.out = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def load_data(seed: int = 0):
    digits = load_digits()
    x = jnp.asarray(digits.data / 16.0, jnp.float32)
    y = jnp.asarray(digits.target, jnp.int32)
    order = jax.random.permutation(jax.random.PRNGKey(seed), x.shape[0])
    x, y = x[order], y[order]
    split = int(0.8 * x.shape[0])
    return (x[:split], y[:split]), (x[split:], y[split:])


def train(tx: optax.GradientTransformation, steps: int, seed: int, batch: int = 128):
    (x_train, y_train), (x_test, y_test) = load_data(seed)
    model = MLP(nnx.Rngs(seed))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    def loss_fn(m, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()

    @nnx.jit
    def step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        optimizer.update(model, grads)
        return loss

    key = jax.random.PRNGKey(seed + 1)
    start = time.perf_counter()
    losses = []
    for _ in range(steps):
        key, sub = jax.random.split(key)
        idx = jax.random.randint(sub, (batch,), 0, x_train.shape[0])
        losses.append(float(step(model, optimizer, x_train[idx], y_train[idx])))
    seconds = time.perf_counter() - start
    accuracy = float(jnp.mean(jnp.argmax(model(x_test), -1) == y_test))
    final = float(loss_fn(model, x_train, y_train))
    return final, accuracy, seconds, losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown:
        parser.error(f"unknown optimizer(s) {unknown}; choose from {sorted(OPTIMIZERS)}")
    rows = []
    for name in names:
        final, accuracy, seconds, _ = train(OPTIMIZERS[name](), args.steps, args.seed)
        rows.append((final, name, accuracy, seconds))
        print(f"  trained {name:<16} train loss {final:.4f}  test acc {accuracy:.3f}", flush=True)
    print(f"\ndigits, {args.steps} steps of batch 128, ranked by final train loss")
    print(f"{'rank':>4}  {'optimizer':<16} {'train loss':>10} {'test acc':>9} {'seconds':>8}")
    for rank, (final, name, accuracy, seconds) in enumerate(sorted(rows), 1):
        print(f"{rank:>4}  {name:<16} {final:>10.4f} {accuracy:>9.3f} {seconds:>8.2f}")
    return rows


if __name__ == "__main__":
    main()
