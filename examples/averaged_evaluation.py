"""Evaluate with averaged parameters: SGD with a constant step bounces around the minimum of a
noisy least-squares problem; Polyak (tail) and EMA averages of the iterates sit much closer.

    python examples/averaged_evaluation.py --steps 2000
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax

import optchain


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(argv)

    key_x, key_w, key_n = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(key_x, (4096, 10))
    w_true = jax.random.normal(key_w, (10,))
    y = x @ w_true + 0.5 * jax.random.normal(key_n, (4096,))
    w_star = jnp.linalg.lstsq(x, y)[0]  # the minimiser the iterates bounce around

    def distance(w):
        return float(jnp.linalg.norm(w - w_star))

    results = {}
    for name, averager in {
        "last iterate": optax.identity(),
        "tail average (last 500)": optchain.tail_average(500),
        "Polyak from step 500": optchain.polyak_average(start_step=min(500, args.steps - 1)),
        "EMA of params (0.995)": optchain.ema_params(0.995),
    }.items():
        tx = optax.chain(optchain.sgd(0.05), averager)
        w, state = jnp.zeros(10), None
        state = tx.init(w)

        @jax.jit
        def step(w, state, key):
            idx = jax.random.randint(key, (8,), 0, 4096)
            g = jax.grad(lambda w: jnp.mean((x[idx] @ w - y[idx]) ** 2))(w)
            u, state = tx.update(g, state, w)
            return optax.apply_updates(w, u), state

        keys = jax.random.split(jax.random.PRNGKey(1), args.steps)
        for k in keys:
            w, state = step(w, state, k)
        evaluated = w if name == "last iterate" else optchain.averaged_params(state)
        results[name] = distance(evaluated)
    for name, d in results.items():
        print(f"{name:<26} distance to the minimiser {d:.4f}")
    return results


if __name__ == "__main__":
    main()
