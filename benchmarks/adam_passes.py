"""Why Adam on XLA:CPU is slower than torch's fused kernel: memory passes, measured.

An Adam step is memory-bound. torch's fused kernel reads p, g, m, v and writes p, m, v in one
pass (28 bytes per float32 parameter). XLA:CPU (jaxlib 0.10.x) has no multi-output loop
fusion, so any JAX Adam compiles to three passes per leaf: new m (reads m, g), new v (reads v,
g), new p (reads p and the new m and v): 40 bytes. This script times, on one tree of
``--leaves`` equal leaves, the variants that were tried to close that gap, next to an in-place
SGD step that measures the bandwidth XLA reaches:

* ``sgd in place``: ``p - lr * g`` (12 B/param), the bandwidth yardstick;
* ``optchain adam`` with float32 and with bfloat16 moments (28 B/param);
* ``hand adam, 3 passes``: the same arithmetic written as one function (what optax compiles to);
* ``hand adam, leaf order``: leaf i+1's m and v wait (through a data dependence on one element)
  until leaf i's new m and v exist, so each leaf's three passes run close together and the
  second reads of g, m and v hit the last-level cache. Not expressible inside an
  ``optax.GradientTransformation`` whose m and v come from separate transforms;
* ``hand adam, per-moment order``: the same, but each moment only waits for its own previous
  leaf (what an ordered ``tree.map`` inside each transform could do);
* ``hand adam, chunked loop``: a ``fori_loop`` over cache-sized chunks updated in place;
* torch's fused Adam on the same shapes with ``--torch-python``.

``GB/s`` is the modelled traffic (``B/param`` x parameters) over the median time; a value above
the SGD yardstick means some of that traffic was served from cache.

    python benchmarks/adam_passes.py                    # 16 leaves x 1M float32 parameters
    python benchmarks/adam_passes.py --torch-python /path/to/venv-with-torch/bin/python
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import optax

import optchain
from optchain._core import computed_once

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from step_time import Stepper, measure  # noqa: E402  (a sibling script, not a package)

B1, B2, EPS, LR = 0.9, 0.999, 1e-8, 1e-3


def _gate(x, token):
    """``x`` unchanged, but only computable once ``token`` (a scalar) is: an exact 1 that XLA
    cannot fold, finite whatever ``token`` holds."""
    zero = jnp.where(jnp.isfinite(token), token * 0, 0)
    return x * (zero + 1).astype(x.dtype)


def _moments(m, v, g_m, g_v):
    """New m from ``g_m`` and new v from ``g_v`` (the same gradient, maybe gated differently)."""
    return B1 * m + (1 - B1) * g_m, B2 * v + (1 - B2) * g_v * g_v


def _new_p(p, m, v, count):
    m_hat = m / (1 - B1**count)
    v_hat = v / (1 - B2**count)
    return p - LR * m_hat / (jnp.sqrt(v_hat) + EPS)


def hand_adam(order: str):
    """Adam on lists of leaves; ``order`` is ``none``, ``leaf`` or ``moment``."""

    def step(state, grads):
        params, mus, nus, count = state
        count = count + 1
        new = []
        token_m = token_v = None
        for p, m, v, g in zip(params, mus, nus, grads):
            g_m = g if token_m is None else _gate(g, token_m)
            g_v = g if token_v is None else _gate(g, token_v)
            m2, v2 = _moments(m, v, g_m, g_v)
            if order == "leaf":
                token_m = token_v = m2[0] + v2[0]
            elif order == "moment":
                token_m, token_v = m2[0], v2[0]
            new.append((_new_p(p, m2, v2, count), m2, v2))
        return [n[0] for n in new], [n[1] for n in new], [n[2] for n in new], count

    return step


def chunked_adam(chunk: int):
    """Adam as a ``fori_loop`` over ``chunk``-element slices of each leaf, updated in place."""

    def leaf(p, m, v, g, count):
        size = min(chunk, p.shape[0])

        def body(i, carry):
            p, m, v = carry
            start = i * size
            take = functools.partial(
                jax.lax.dynamic_slice_in_dim, start_index=start, slice_size=size
            )
            m1, v1 = take(m), take(v)
            g1 = take(g)
            m2, v2 = _moments(m1, v1, g1, g1)
            # stored once, so the in-place writes need no copy of the carry (see _core)
            m2, v2 = computed_once(m2, m1), computed_once(v2, v1)
            p2 = _new_p(take(p), m2, v2, count)
            put = functools.partial(jax.lax.dynamic_update_slice_in_dim, start_index=start, axis=0)
            return put(p, p2), put(m, m2), put(v, v2)

        return jax.lax.fori_loop(0, p.shape[0] // size, body, (p, m, v))

    def step(state, grads):
        params, mus, nus, count = state
        count = count + 1
        new = [leaf(p, m, v, g, count) for p, m, v, g in zip(params, mus, nus, grads)]
        return [n[0] for n in new], [n[1] for n in new], [n[2] for n in new], count

    return step


def sgd_in_place(state, grads):
    return [p - LR * g for p, g in zip(state, grads)]


def optchain_adam(dtype):
    tx = optchain.adam(LR, mu_dtype=dtype, nu_dtype=dtype)

    def init(params):
        return params, tx.init(params)

    def step(state, grads):
        params, opt_state = state
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return init, step


def variants(chunk: int):
    """name -> (init(params) -> state, step(state, grads) -> state, modelled bytes per param)."""

    def lists(params):
        return (
            params,
            [jnp.zeros_like(p) for p in params],
            [jnp.zeros_like(p) for p in params],
            jnp.zeros((), jnp.int32),
        )

    return {
        "sgd in place": (lambda ps: ps, sgd_in_place, 12),
        "optchain adam": (*optchain_adam(None), 40),
        "optchain adam, bf16 moments": (*optchain_adam(jnp.bfloat16), 28),
        "hand adam, 3 passes": (lists, hand_adam("none"), 40),
        "hand adam, leaf order": (lists, hand_adam("leaf"), 40),
        "hand adam, per-moment order": (lists, hand_adam("moment"), 40),
        f"hand adam, chunked loop ({chunk})": (lists, chunked_adam(chunk), 40),
    }


def _array_copies(hlo: str) -> int:
    """Copies of non-scalar buffers in a compiled module (a scalar counter copy is free)."""
    return len(re.findall(r"= \w+\[\d[^\]]*\]\S* copy\(", hlo))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=16)
    parser.add_argument("--leaf-size", type=int, default=1 << 20)
    parser.add_argument("--chunk", type=int, default=1 << 17, help="elements per loop chunk")
    parser.add_argument("--steps", type=int, default=60, help="per variant, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--torch-python", default=None, help="interpreter with torch installed")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    keys = jax.random.split(jax.random.key(0), args.leaves)
    params = [0.02 * jax.random.normal(k, (args.leaf_size,)) for k in keys]
    grads = [0.5 * p for p in params]
    n = args.leaves * args.leaf_size
    table = variants(args.chunk)
    steppers = {name: Stepper(step, init(params), grads) for name, (init, step, _) in table.items()}
    copies = {name: _array_copies(s.compiled.as_text()) for name, s in steppers.items()}
    times = measure(steppers, args.steps, args.rounds)

    rows = [
        {
            "variant": name,
            "ms": 1e3 * times[name],
            "bytes_per_param": table[name][2],
            "gb_per_s": table[name][2] * n / times[name] / 1e9,
            "copies": copies[name],
        }
        for name in table
    ]
    if args.torch_python:
        shapes = {"tree": {f"leaf{i}": [args.leaf_size] for i in range(args.leaves)}}
        cmd = [args.torch_python, os.path.join(HERE, "torch_reference.py"), "--steps", "60"]
        out = subprocess.run(
            cmd, input=json.dumps(shapes), capture_output=True, text=True, check=True
        )
        for r in json.loads(out.stdout.strip().splitlines()[-1]):
            if r["optimizer"] == "Adam(fused=True)":
                seconds = r["torch_ms"] / 1e3
                rows.append(
                    {
                        "variant": "torch Adam(fused=True)",
                        "ms": r["torch_ms"],
                        "bytes_per_param": 28,
                        "gb_per_s": 28 * n / seconds / 1e9,
                        "copies": None,
                    }
                )

    print(
        f"{args.leaves} leaves x {args.leaf_size} float32, jax {jax.__version__}, {os.cpu_count()} cores\n"
    )
    print("| variant | ms | B/param (model) | GB/s | array copies |\n|---|---:|---:|---:|---:|")
    for r in rows:
        copies_text = "" if r["copies"] is None else r["copies"]
        print(
            f"| {r['variant']} | {r['ms']:.2f} | {r['bytes_per_param']} | {r['gb_per_s']:.1f} | {copies_text} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
