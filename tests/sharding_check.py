"""Run by tests/test_sharding.py in a subprocess with 8 simulated CPU devices.

For every named optimizer (and the averaging transforms): ``jax.eval_shape(tx.init, ...)``
works on ``ShapeDtypeStruct``s, and on an 8-device mesh every state leaf shaped like a
parameter (or like a stack of them) carries that parameter's sharding, after ``init`` (eager
and jitted) and after a jitted update.
"""

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from jax.sharding import AxisType, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402
from named_optimizers import NAMED, NOT_SHARDED  # noqa: E402

import optchain as oc  # noqa: E402

OPTIMIZERS = {
    **{name: make for name, make in NAMED.items() if name not in NOT_SHARDED},
    "averaging": lambda: optax.chain(
        oc.adam(0.01), oc.tail_average(3), oc.polyak_average(), oc.ema_params()
    ),
}
SPECS = {"w": P("data", "model"), "b": P("model")}
SHAPES = {"w": (16, 8), "b": (8,)}


def check_state(name, how, state, params):
    checked = 0
    for leaf in jax.tree.leaves(state):
        want = None
        for key, shape in SHAPES.items():
            if leaf.shape == shape:
                want = SPECS[key]
            elif leaf.shape == (3, *shape):  # tail_average(3)'s stacked iterates
                want = P(None, *SPECS[key])
        if want is None:
            continue
        got = leaf.sharding.spec
        assert tuple(got) == tuple(want), f"{name} {how}: {leaf.shape} has {got}, want {want}"
        checked += 1
    n_params = len(jax.tree.leaves(params))
    stateless = ("sign_sgd", "noisy_sgd", "sgld", "fromage")  # no per-parameter state to shard
    assert checked >= n_params or name in stateless, (name, how, checked)
    return checked


def main():
    assert jax.device_count() == 8
    total = 0
    for name, make in OPTIMIZERS.items():
        tx = make()
        abstract = {k: jax.ShapeDtypeStruct(s, jnp.float32) for k, s in SHAPES.items()}
        shapes = jax.eval_shape(tx.init, abstract)
        assert jax.tree.structure(shapes) == jax.tree.structure(
            tx.init(jax.tree.map(jnp.zeros_like, abstract))
        )
        for mode in ("explicit", "auto"):
            if mode == "explicit":
                mesh = jax.make_mesh((4, 2), ("data", "model"))
            else:
                mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(AxisType.Auto,) * 2)
            with jax.set_mesh(mesh):
                params = {
                    k: jax.device_put(jnp.ones(s) * 0.5, NamedSharding(mesh, SPECS[k]))
                    for k, s in SHAPES.items()
                }
                total += check_state(name, f"{mode}-eager", tx.init(params), params)
                if mode == "explicit":  # with Auto axes, jit needs out_shardings (see README)
                    state = jax.jit(tx.init)(params)
                    total += check_state(name, f"{mode}-jit", state, params)
                    grads = jax.tree.map(lambda p: p * 0.1, params)
                    _, state = jax.jit(tx.update)(grads, state, params)
                    total += check_state(name, f"{mode}-after-update", state, params)
    print(f"OK {len(OPTIMIZERS)} optimizers, {total} state leaves checked")


if __name__ == "__main__":
    sys.exit(main())
