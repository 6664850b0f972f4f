"""Bytes each device sends per step, read from the compiled program's collectives.

A 10M-parameter model (ten 1000 x 1000 float32 layers) trained data-parallel on 8 simulated
CPU devices with ``shard_map``: float32 mean, Signum with the bit-packed majority vote, and
Deep Gradient Compression at density 0.001. Nothing runs; each step is lowered and compiled
and its HLO read by ``optchain.collective_bytes``.

    python benchmarks/wire_bytes.py [--json out.json] [--size 1000] [--layers 10]
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from jax.sharding import AxisType  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import optchain as oc  # noqa: E402

AXIS = "batch"


def measure(tx, params, mesh):
    def step(grads, state, params):
        updates, state = tx.update(grads, state, params)
        return updates, state

    sharded = jax.shard_map(
        step, mesh=mesh, in_specs=(P(), P(), P()), out_specs=(P(), P()), check_vma=False
    )
    state = jax.eval_shape(tx.init, params)
    text = jax.jit(sharded).lower(params, state, params).compile().as_text()
    return oc.collective_bytes(text, mesh.size)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="each layer is size x size")
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    devices = jax.device_count()
    mesh = jax.make_mesh((devices,), (AXIS,), axis_types=(AxisType.Auto,))
    shape = jax.ShapeDtypeStruct((args.size, args.size), jnp.float32)
    params = {f"layer_{i}": shape for i in range(args.layers)}
    count = args.layers * args.size * args.size
    schemes = {
        "f32 mean (pmean)": oc.mean_across_devices(AXIS),
        "majority vote, packed signs": oc.signum_majority(1e-4, AXIS),
        "error feedback, scaled signs": optax.chain(
            oc.error_feedback(oc.scaled_sign()), oc.scaled_sign_mean(AXIS)
        ),
        "DGC, density 0.001": oc.dgc_sgd(0.01, AXIS, density=0.001),
    }
    rows = []
    for name, tx in schemes.items():
        got = measure(tx, params, mesh)
        rows.append({"scheme": name, "sent": got["sent"], "ring": got["ring"], "ops": got["ops"]})
    base = rows[0]
    print(f"{count:,} parameters, {devices} devices, bytes per device per step\n")
    print("| scheme | sent into collectives | vs f32 mean | ring estimate | vs f32 mean |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['scheme']} | {r['sent']:,} | {base['sent'] / r['sent']:.1f}x "
            f"| {r['ring']:,.0f} | {base['ring'] / r['ring']:.1f}x |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"parameters": count, "devices": devices, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
