"""Data-parallel training with compressed gradients: a Flax MLP on digits, the batch split over
8 simulated CPU devices with ``shard_map``, four ways of exchanging gradients.

    python examples/data_parallel.py --steps 300

Every scheme is an optchain chain whose aggregation link takes the mesh axis name; the train
step is the same for all of them. Optimizer state is per device (each device keeps its own
momentum, residual or accumulation), so it carries a leading device axis sharded over the mesh.
The learning rate follows the linear scaling rule with warm-up for the global batch.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")

import argparse  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from jax.sharding import AxisType  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import optchain  # noqa: E402
from optchain.compare import load_digits_split  # noqa: E402

AXIS = "batch"
PER_DEVICE = 32


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(128)(x))
        return nn.Dense(10)(x)


def schemes(devices: int, steps: int):
    """Each scheme is a list of (transform, steps) phases; the state carries across phases."""
    rate = optchain.schedules.linear_scaling_rule(
        0.02, PER_DEVICE, PER_DEVICE * devices, steps // 10
    )
    # DGC's warm-up: 4 short "epochs" at density 1/4, 1/16, 1/64, 1/256, then 0.01. The
    # exchange buffer is static, so the step is rebuilt for each epoch with that epoch's
    # density as max_density (same state structure; only the buffer size changes).
    epoch = max(1, steps // 16)
    density = optchain.schedules.dgc_warmup(epoch, final_density=0.01)
    dgc = [
        (optchain.dgc_sgd(rate, AXIS, density, 0.9, max_density=float(density(e * epoch))), epoch)
        for e in range(4)
    ]
    dgc.append((optchain.dgc_sgd(rate, AXIS, density, 0.9, max_density=0.01), steps - 4 * epoch))
    return {
        "f32 mean + momentum SGD": [
            (
                optax.chain(optchain.mean_across_devices(AXIS), optchain.sgd(rate, momentum=0.9)),
                steps,
            )
        ],
        "Signum, majority vote": [(optchain.signum_majority(2e-3, AXIS, beta=0.9), steps)],
        # momentum per device, then error-feedback sign compression (Zheng et al. 2019)
        "local momentum, error feedback, scaled signs": [
            (
                optax.chain(
                    optchain.momentum(0.9),
                    optchain.error_feedback(optchain.scaled_sign()),
                    optchain.scaled_sign_mean(AXIS),
                    optchain.scale_by_learning_rate(rate),
                ),
                steps,
            )
        ],
        "DGC, warm-up to density 0.01": dgc,
    }


def compile_step(tx, model, mesh):
    """The jitted data-parallel step: params replicated, state and batch split over devices."""

    def loss_fn(p, xb, yb):
        logits = model.apply({"params": p}, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    def local_step(p, state, xb, yb):
        state = jax.tree.map(lambda s: s[0], state)
        loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb)
        updates, state = tx.update(grads, state, p)  # the collective happens in here
        loss = jax.lax.pmean(loss, AXIS)
        return optax.apply_updates(p, updates), jax.tree.map(lambda s: s[None], state), loss

    return jax.jit(
        jax.shard_map(
            local_step,
            mesh=mesh,
            in_specs=(P(), P(AXIS), P(AXIS), P(AXIS)),
            out_specs=(P(), P(AXIS), P()),
            check_vma=False,
        )
    )


def train(phases, model, params, data, mesh, seed=0):
    """Runs the phases; returns the loss per step, the test accuracy and the bytes each device
    sends per step in the last phase (read from the compiled step)."""
    (x, y), (x_test, y_test) = data
    x, y = jnp.asarray(x), jnp.asarray(y)
    batch = PER_DEVICE * mesh.size
    init = jax.jit(
        jax.shard_map(
            lambda p: jax.tree.map(lambda s: s[None], phases[0][0].init(p)),
            mesh=mesh,
            in_specs=P(),
            out_specs=P(AXIS),
        )
    )
    state = init(params)  # one state per device
    losses, wire = [], 0
    key = jax.random.PRNGKey(seed)
    for tx, steps in phases:
        step = compile_step(tx, model, mesh)
        text = step.lower(params, state, x[:batch], y[:batch]).compile().as_text()
        wire = optchain.collective_bytes(text, mesh.size)["sent"]
        for _ in range(steps):
            key, sub = jax.random.split(key)
            idx = jax.random.randint(sub, (batch,), 0, x.shape[0])
            params, state, loss = step(params, state, x[idx], y[idx])
            losses.append(float(loss))
    accuracy = float(jnp.mean(jnp.argmax(model.apply({"params": params}, x_test), -1) == y_test))
    return losses, accuracy, wire


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)

    devices = jax.device_count()
    mesh = jax.make_mesh((devices,), (AXIS,), axis_types=(AxisType.Auto,))
    data = load_digits_split(0)
    model = MLP()
    params = model.init(jax.random.PRNGKey(0), data[0][0][:1])["params"]
    count = sum(p.size for p in jax.tree.leaves(params))
    print(f"{devices} devices x {PER_DEVICE} examples, {count:,} parameters, {args.steps} steps\n")

    results = {}
    for name, phases in schemes(devices, args.steps).items():
        results[name] = train(phases, model, params, data, mesh)

    marks = sorted({0, args.steps // 4, args.steps // 2, args.steps - 1})
    base_wire = results["f32 mean + momentum SGD"][2]
    header = " | ".join(f"loss @{m}" for m in marks)
    print(f"| scheme | {header} | test acc | bytes/device/step | vs mean |")
    print("|---|" + "---:|" * (len(marks) + 3))
    for name, (losses, accuracy, wire) in results.items():
        cells = " | ".join(f"{losses[m]:.3f}" for m in marks)
        print(f"| {name} | {cells} | {accuracy:.3f} | {wire:,} | {base_wire / wire:.1f}x |")
    return results


if __name__ == "__main__":
    main()
