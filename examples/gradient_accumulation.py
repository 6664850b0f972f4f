"""Gradient accumulation with ``optax.MultiSteps``: an optchain Adam that steps once every
``k`` micro-batches, equal to one step on the mean gradient.

    python examples/gradient_accumulation.py --every 4
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optchain


def loss_fn(w, x, y):
    return jnp.mean((x @ w - y) ** 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--updates", type=int, default=200)
    args = parser.parse_args(argv)

    key_x, key_w = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(key_x, (args.every * 32, 8))
    y = x @ jax.random.normal(key_w, (8,))
    micro_x, micro_y = x.reshape(args.every, 32, 8), y.reshape(args.every, 32)

    accumulated = optax.MultiSteps(optchain.adam(0.05), every_k_schedule=args.every)
    plain = optchain.adam(0.05)
    w_acc = w_plain = jnp.zeros(8)
    s_acc, s_plain = accumulated.init(w_acc), plain.init(w_plain)

    @jax.jit
    def micro_step(w, s, xb, yb):
        u, s = accumulated.update(jax.grad(loss_fn)(w, xb, yb), s, w)
        return optax.apply_updates(w, u), s

    @jax.jit
    def full_step(w, s):
        u, s = plain.update(jax.grad(loss_fn)(w, x, y), s, w)
        return optax.apply_updates(w, u), s

    for _ in range(args.updates):
        for k in range(args.every):  # k micro-batches, one optimizer step
            w_acc, s_acc = micro_step(w_acc, s_acc, micro_x[k], micro_y[k])
        w_plain, s_plain = full_step(w_plain, s_plain)  # the full batch
    gap = float(jnp.max(jnp.abs(w_acc - w_plain)))
    print(f"loss {float(loss_fn(w_acc, x, y)):.2e}; max |accumulated - full batch| = {gap:.2e}")
    return np.asarray(w_acc), np.asarray(w_plain)


if __name__ == "__main__":
    main()
