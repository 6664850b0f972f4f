"""End-to-end Flax train step on a 500-leaf model: how much of the step is the optimizer?

A Linen MLP of 250 Dense layers (64 wide, so 500 leaves). Times, as medians over many steps
with buffers donated (the variants alternate in rounds): the gradient alone, the full step
with optax's Adam on the tree, with optchain's Adam on the tree, and with optchain's Adam on
the flat layout. The optimizer's share is the step time minus the gradient time.

    python benchmarks/train_step.py [--layers 250] [--steps 100] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import optchain
from optchain import flat


class Deep(nn.Module):
    layers: int
    width: int = 64

    @nn.compact
    def __call__(self, x):
        for _ in range(self.layers):
            x = x + 0.1 * jnp.tanh(nn.Dense(self.width)(x))
        return x


class Timer:
    """Collects per-call seconds of one compiled function over interleaved rounds.

    With ``feed_back`` ``fn`` returns a tuple like ``args`` (its donated buffers) and the
    output is passed to the next call."""

    def __init__(self, fn, args, feed_back=True):
        self.fn, self.args, self.feed_back, self.times = fn, args, feed_back, []
        out = fn(*args)  # compile and warm up
        jax.block_until_ready(out)
        if feed_back:
            self.args = out

    def run(self, steps):
        for _ in range(steps):
            start = time.perf_counter()
            out = self.fn(*self.args)
            jax.block_until_ready(out)
            self.times.append(time.perf_counter() - start)
            if self.feed_back:
                self.args = out

    def median(self):
        return statistics.median(self.times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=250)
    parser.add_argument("--steps", type=int, default=100, help="steps per round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds; every variant runs once per round"
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    model = Deep(args.layers)
    x = jax.random.normal(jax.random.PRNGKey(0), (32, 64))
    y = jax.random.normal(jax.random.PRNGKey(1), (32, 64))
    params = model.init(jax.random.PRNGKey(2), x)["params"]
    leaves = len(jax.tree.leaves(params))
    layout = flat.Layout.of(params)

    def loss(p):
        return jnp.mean((model.apply({"params": p}, x) - y) ** 2)

    def loss_flat(fp):
        return loss(layout.unflatten(fp))

    # the gradient alone (its output fed back in so every call does the same work)
    def stepper(tx, lossf):
        def step(p, s):
            u, s = tx.update(jax.grad(lossf)(p), s, p)
            return optax.apply_updates(p, u), s

        return jax.jit(step, donate_argnums=(0, 1))

    copy = lambda t: jax.tree.map(jnp.copy, t)  # noqa: E731
    timers = {
        "gradient only (tree)": Timer(jax.jit(jax.grad(loss)), (params,), False),
        "gradient only (flat)": Timer(
            jax.jit(jax.grad(loss_flat)), (layout.flatten(params),), False
        ),
    }
    for name, tx, lossf, p in [
        ("optax adam, tree", optax.adam(1e-3), loss, copy(params)),
        ("optchain adam, tree", optchain.adam(1e-3), loss, copy(params)),
        ("optchain adam, flat", optchain.adam(1e-3), loss_flat, layout.flatten(params)),
    ]:
        timers[name] = Timer(stepper(tx, lossf), (p, tx.init(p)))
    # the variants alternate, so a slow spell of the machine hits all of them alike
    for _ in range(args.rounds):
        for timer in timers.values():
            timer.run(args.steps)
    results = {name: timer.median() for name, timer in timers.items()}

    print(f"{leaves} leaves, {sum(w.size for w in jax.tree.leaves(params)):,} parameters\n")
    print("| step | ms | optimizer share (step - gradient), ms |")
    print("|---|---:|---:|")
    for name, t in results.items():
        # the optimizer's share: the step minus the gradient on the same layout
        base = results["gradient only (flat)" if "flat" in name else "gradient only (tree)"]
        share = "" if name.startswith("gradient") else f"{1e3 * (t - base):.3f}"
        print(f"| {name} | {1e3 * t:.3f} | {share} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"leaves": leaves, "seconds": results}, f, indent=1)
    return results


if __name__ == "__main__":
    main()
