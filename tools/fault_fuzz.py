"""Fault-injection fuzz of ``optchain.skip_nonfinite`` around every named optimizer.

Not part of the test suite (``tests/transforms/test_nonfinite.py`` holds the assertions);
a report to read. Run from the repository root:

    .venv/bin/python tools/fault_fuzz.py [--steps 200] [--seed 0] [--rate 0.06]

For every optimizer of ``tests/named_optimizers.py``'s ``NAMED`` table it runs ``--steps``
steps on a small noisy quadratic (parameters ``b`` of shape (3,) and ``w`` of shape (4, 3)).
On a fraction ``--rate`` of the steps one gradient element is replaced by ``+-1e20`` (finite
in float32, but its square overflows), on another ``--rate`` by NaN, Inf or -Inf. Every run of
one optimizer goes through the same jitted step function, so bit-exact comparisons compare the
same compiled program on different data.

Table 1 (all faults, ``skip_nonfinite(opt, max_consecutive_skips=None)``): how many steps were
skipped, whether the parameters and state are finite at the end, whether the result equals,
bit for bit, the run with every faulty step removed, and (a consistency check that must always
say yes) the run with exactly the skipped steps removed. An optimizer whose state a 1e20
element does not overflow (sgd, sign methods, adamax, ...) applies that step: there the result
differs from the run without the faulty steps, and the table says so.

Table 2 (1e20 elements only): the guard as it is (``check_state=True``), the previous guard
(``check_state=False``: gradients and updates checked, the state not), and no guard at all.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optchain as oc

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from named_optimizers import NAMED  # noqa: E402

SHAPES = {"b": (3,), "w": (4, 3)}
HUGE, NONFINITE = 1, 2


def loss(params, batch):
    """A quadratic with a minimum at w = 1, b = -0.5, tilted by the batch."""
    return (
        0.5 * jnp.sum((params["w"] - 1.0) ** 2 * 3.0)
        + jnp.sum((params["b"] + 0.5) ** 2)
        + jnp.sum(params["w"] * batch["w"])
        + jnp.sum(params["b"] * batch["b"])
    )


def make_data(steps, seed, rate):
    """Batches, per-step gradient masks and values, and the kind of fault of each step."""
    rng = np.random.default_rng(seed)
    batches = {k: rng.normal(size=(steps, *s)).astype(np.float32) * 0.3 for k, s in SHAPES.items()}
    masks = {k: np.zeros((steps, *s), bool) for k, s in SHAPES.items()}
    values = {k: np.zeros((steps, *s), np.float32) for k, s in SHAPES.items()}
    kind = np.zeros(steps, np.int32)
    draw = rng.random(steps)
    kind[draw < 2 * rate] = NONFINITE
    kind[draw < rate] = HUGE
    for t in np.flatnonzero(kind):
        leaf = str(rng.choice(sorted(SHAPES)))
        where = (t, *(int(rng.integers(0, n)) for n in SHAPES[leaf]))
        masks[leaf][where] = True
        if kind[t] == HUGE:
            values[leaf][where] = rng.choice([1e20, -1e20])
        else:
            values[leaf][where] = rng.choice([np.nan, np.inf, -np.inf])
    return batches, masks, values, kind


def without(masks, values, kind, drop):
    """The faults with those of the steps in ``drop`` (a kind) cleared."""
    off = kind == drop
    m = {k: np.where(off.reshape(-1, *[1] * (v.ndim - 1)), False, v) for k, v in masks.items()}
    return m, values


class Runner:
    """One jitted training step for one transform, driven from Python."""

    def __init__(self, tx):
        self.tx = tx

        @jax.jit
        def step(params, state, batch, mask, value):
            grads = jax.grad(loss)(params, batch)
            grads = jax.tree.map(jnp.where, mask, value, grads)
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self.step = step

    def run(self, data, keep):
        batches, masks, values = data
        rng = np.random.default_rng(123)
        params = {
            k: jnp.asarray(rng.normal(size=s).astype(np.float32) * 0.5) for k, s in SHAPES.items()
        }
        state = self.tx.init(params)
        applied = np.zeros(len(keep), bool)
        first_bad = None
        for t in np.flatnonzero(keep):
            pick = lambda tree, t=t: {k: v[t] for k, v in tree.items()}  # noqa: E731
            params, state = self.step(params, state, pick(batches), pick(masks), pick(values))
            if isinstance(state, oc.SkipNonfiniteState):
                applied[t] = bool(state.last_step_finite)
            if first_bad is None and not finite(params, state):
                first_bad = int(t)
        return params, state, applied, first_bad


def finite(params, state):
    return bool(oc.all_finite(params) & oc.all_finite(state))


def _bits(x):
    x = np.asarray(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x)
    return x.dtype.str, x.shape, x.tobytes()


def same_bits(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(_bits(x) == _bits(y) for x, y in zip(la, lb))


def yes(flag):
    return "yes" if flag else "no"


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.06, help="fraction of each fault kind")
    args = parser.parse_args()
    start = time.perf_counter()

    mixed_rows, huge_rows = [], []
    for i, name in enumerate(sorted(NAMED)):
        batches, masks, values, kind = make_data(args.steps, args.seed + i, args.rate)
        every = np.ones(args.steps, bool)
        guard = Runner(oc.skip_nonfinite(NAMED[name](), max_consecutive_skips=None))

        # table 1: every fault
        p, s, applied, _ = guard.run((batches, masks, values), every)
        p_clean, s_clean, _, _ = guard.run((batches, masks, values), kind == 0)
        p_kept, s_kept, _, _ = guard.run((batches, masks, values), applied)
        mixed_rows.append(
            (
                name,
                args.steps,
                f"{(kind == HUGE).sum()}/{(kind == NONFINITE).sum()}",
                f"{(~applied).sum()} ({(~applied & (kind == HUGE)).sum()}/"
                f"{(~applied & (kind == NONFINITE)).sum()})",
                yes(finite(p, s)),
                yes(same_bits((p, s.inner_state), (p_clean, s_clean.inner_state))),
                yes(same_bits((p, s.inner_state), (p_kept, s_kept.inner_state))),
            )
        )

        # table 2: 1e20 elements only
        huge_only = (batches, *without(masks, values, kind, NONFINITE))
        p, s, applied, _ = guard.run(huge_only, every)
        p_clean, s_clean, _, _ = guard.run(huge_only, kind != HUGE)
        old = Runner(oc.skip_nonfinite(NAMED[name](), None, check_state=False))
        p_old, s_old, applied_old, _ = old.run(huge_only, every)
        plain = Runner(NAMED[name]())
        p_plain, s_plain, _, first_bad = plain.run(huge_only, every)
        huge_rows.append(
            (
                name,
                (kind == HUGE).sum(),
                (~applied).sum(),
                yes(finite(p, s)),
                yes(same_bits((p, s.inner_state), (p_clean, s_clean.inner_state))),
                (~applied_old).sum(),
                yes(finite(p_old, s_old)),
                yes(finite(p_plain, s_plain)),
                "-" if first_bad is None else first_bad,
            )
        )

    print(
        f"Table 1: skip_nonfinite(opt), {args.steps} steps, seed {args.seed}, faults 1e20/NaN-Inf "
        f"on ~{args.rate:.0%} of the steps each"
    )
    table(
        (
            "optimizer",
            "steps",
            "bad 1e20/nan",
            "skipped (1e20/nan)",
            "finite at end",
            "= w/o bad steps",
            "= w/o skipped steps",
        ),
        mixed_rows,
    )
    print()
    print("Table 2: 1e20 elements only (no NaN/Inf)")
    table(
        (
            "optimizer",
            "1e20 steps",
            "guard: skipped",
            "finite",
            "= w/o 1e20 steps",
            "check_state=False: skipped",
            "finite",
            "no guard: finite",
            "first non-finite step",
        ),
        huge_rows,
    )
    n = len(huge_rows)
    print()
    print(
        f"1e20 only: no guard ends non-finite for {sum(r[7] == 'no' for r in huge_rows)} of {n} "
        f"optimizers; check_state=False for {sum(r[6] == 'no' for r in huge_rows)}; "
        f"skip_nonfinite for {sum(r[3] == 'no' for r in huge_rows)}."
    )
    print(
        f"all faults: skip_nonfinite ends non-finite for "
        f"{sum(r[4] == 'no' for r in mixed_rows)} of {n}; bit-exact with the run without the "
        f"skipped steps for {sum(r[6] == 'yes' for r in mixed_rows)} of {n}."
    )
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
