"""Run by tests/test_distributed.py in a subprocess with 8 simulated CPU devices.

Every check runs under ``jax.pmap`` and under ``jax.shard_map`` on an 8-device mesh. The
script prints one JSON object: check name -> "ok" or the failure message.
"""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import json  # noqa: E402
import traceback  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import AxisType  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import optchain as oc  # noqa: E402

N = 8
AXIS = "batch"
MESH = jax.make_mesh((N,), (AXIS,), axis_types=(AxisType.Auto,))


def _per_device(tree):
    return jax.tree.map(lambda x: x[None], tree)


def _local(tree):
    return jax.tree.map(lambda x: x[0], tree)


class Runner:
    """Drives ``tx`` data-parallel: params replicated, state and batch split over devices."""

    def __init__(self, mode, tx, loss):
        self.mode, self.tx = mode, tx

        def step(params, state, batch):
            grads = jax.grad(loss)(params, batch)
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state, updates

        if mode == "pmap":
            self._step = jax.pmap(step, axis_name=AXIS)
        else:
            self._init = jax.jit(
                jax.shard_map(
                    lambda p: _per_device(tx.init(p)), mesh=MESH, in_specs=P(), out_specs=P(AXIS)
                )
            )

            def local(params, state, batch):
                params, state, updates = step(params, _local(state), _local(batch))
                return params, _per_device(state), _per_device(updates)

            self._step = jax.jit(
                jax.shard_map(
                    local,
                    mesh=MESH,
                    in_specs=(P(), P(AXIS), P(AXIS)),
                    out_specs=(P(), P(AXIS), P(AXIS)),
                    check_vma=False,
                )
            )

    def init(self, params):
        if self.mode == "pmap":  # one state per device, stacked
            return jax.tree.map(lambda x: jnp.stack([x] * N), self.tx.init(params))
        return self._init(params)

    def step(self, params, state, batch):
        """batch: leaves shaped (N, per_device, ...). Returns params as one copy."""
        if self.mode == "pmap":
            rep = jax.tree.map(lambda x: jnp.stack([x] * N), params)
            rep, state, updates = self._step(rep, state, batch)
            # jax 0.10's pmap marks outputs that are equal on every device (after a collective)
            # as replicated, and then refuses them as inputs: hand back host copies
            state = jax.device_get(state)
            for leaf in jax.tree.leaves(rep):  # every device holds the same params
                assert all(np.array_equal(leaf[0], leaf[i]) for i in range(N))
            return jax.device_get(jax.tree.map(lambda x: x[0], rep)), state, updates
        return self._step(params, state, batch)


def _data(seed=0, per_device=4):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.normal(k1, (N, per_device, 5))
    y = jax.random.normal(k2, (N, per_device, 3))
    return x, y


def _loss(params, batch):
    x, y = batch
    pred = jnp.tanh(x @ params["w"] + params["b"])
    return jnp.mean((pred - y) ** 2)


def _params():
    return {"w": jnp.linspace(-0.5, 0.5, 15).reshape(5, 3), "b": jnp.array([0.1, -0.2, 0.0])}


def _full_batch(batch):
    x, y = batch
    return x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])


def _single_device(tx, steps, batches):
    params, state = _params(), tx.init(_params())
    for b in batches[:steps]:
        g = jax.grad(_loss)(params, _full_batch(b))
        u, state = tx.update(g, state, params)
        params = optax.apply_updates(params, u)
    return params


def _distributed(mode, tx, steps, batches):
    runner = Runner(mode, tx, _loss)
    params = _params()
    state = runner.init(params)
    for b in batches[:steps]:
        params, state, _ = runner.step(params, state, b)
    return params


BATCHES = [_data(seed) for seed in range(12)]


def check_vote_is_sign_of_sum_with_ties(mode):
    rng = np.random.default_rng(0)
    # device i's signs per entry; column 0..3 force 4-4 ties, exact zeros vote +1
    signs = rng.choice([-1.0, 1.0], size=(N, 40))
    signs[:4, :4], signs[4:, :4] = 1.0, -1.0
    magnitude = rng.uniform(0.1, 2.0, size=(N, 40))
    g = signs * magnitude
    g[:, 5] = 0.0  # every device has an exact zero here: votes +1 each
    grads = {
        "a": jnp.asarray(g[:, :24].reshape(N, 4, 6), jnp.float32),
        "b": jnp.asarray(g[:, 24:], jnp.bfloat16),
        "steps": jnp.arange(N, dtype=jnp.int32),
    }
    tx = oc.majority_vote(AXIS)

    def vote(u):
        return tx.update(u, tx.init(u))[0]

    if mode == "pmap":
        out = jax.pmap(vote, axis_name=AXIS)(grads)
    else:
        out = jax.jit(
            jax.shard_map(
                lambda u: _per_device(vote(_local(u))),
                mesh=MESH,
                in_specs=P(AXIS),
                out_specs=P(AXIS),
                check_vma=False,
            )
        )(grads)
    by_hand = np.sign(np.sum(np.where(g >= 0, 1, -1), axis=0))
    assert np.all(by_hand[:4] == 0) and by_hand[5] == 1
    for d in range(N):
        np.testing.assert_array_equal(np.asarray(out["a"][d]).ravel(), by_hand[:24])
        np.testing.assert_array_equal(np.asarray(out["b"][d], np.float32), by_hand[24:])
        assert out["b"].dtype == jnp.bfloat16
        assert int(out["steps"][d]) == 0  # integer leaves get a zero update


def check_mean_chain_equals_full_batch(mode):
    tx = optax.chain(oc.mean_across_devices(AXIS), oc.adam(0.05))
    got = _distributed(mode, tx, 10, BATCHES)
    want = _single_device(oc.adam(0.05), 10, BATCHES)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def check_error_feedback_invariant(mode):
    tx = optax.chain(oc.error_feedback(oc.scaled_sign()), oc.mean_across_devices(AXIS))
    runner = Runner(mode, tx, _loss)
    params = _params()
    state = runner.init(params)
    for b in BATCHES[:6]:
        old = state[0].residual
        grads = jax.vmap(lambda xb, yb: jax.grad(_loss)(params, (xb, yb)))(*b)
        compressed = jax.vmap(lambda g, s: oc.error_feedback(oc.scaled_sign()).update(g, s)[0])(
            grads, state[0]
        )
        params, state, _ = runner.step(params, state, b)
        new = state[0].residual
        for c, e_new, g, e_old in zip(
            *map(jax.tree.leaves, (compressed, new, grads, old)), strict=True
        ):
            # c and g are recomputed outside the step's program: 1-ulp differences
            np.testing.assert_allclose(c + e_new, g + e_old, rtol=1e-5, atol=1e-6)
        assert any(float(jnp.max(jnp.abs(e))) > 0 for e in jax.tree.leaves(new))


def check_error_feedback_sign_exchange_is_exact(mode):
    local = oc.error_feedback(oc.scaled_sign())
    tx = optax.chain(local, oc.scaled_sign_mean(AXIS))
    runner = Runner(mode, tx, _loss)
    params = _params()
    state = runner.init(params)
    for b in BATCHES[:4]:
        grads = jax.vmap(lambda xb, yb: jax.grad(_loss)(params, (xb, yb)))(*b)
        sent = jax.vmap(lambda g, s: local.update(g, s)[0])(grads, state[0])
        params, state, updates = runner.step(params, state, b)
        for s, u in zip(jax.tree.leaves(sent), jax.tree.leaves(updates), strict=True):
            np.testing.assert_allclose(u[0], jnp.mean(s, axis=0), rtol=1e-5, atol=1e-6)


def check_dgc_density_one_is_momentum_sgd(mode):
    got = _distributed(
        mode, oc.dgc_sgd(0.1, AXIS, density=1.0, momentum=0.9, momentum_masking=False), 10, BATCHES
    )
    want = _single_device(oc.sgd(0.1, momentum=0.9), 10, BATCHES)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    # with momentum factor masking every sent entry's velocity is cleared: plain SGD
    got = _distributed(mode, oc.dgc_sgd(0.1, AXIS, density=1.0, momentum=0.9), 10, BATCHES)
    want = _single_device(oc.sgd(0.1), 10, BATCHES)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def check_dgc_sparse_exchange_is_exact(mode):
    density = 0.2  # w: 3 of 15 entries, b: 1 of 3
    local = oc.dgc_sparsify(density, 0.9)
    tx = optax.chain(local, oc.sparse_mean(AXIS, density))
    runner = Runner(mode, tx, _loss)
    params = _params()
    state = runner.init(params)
    for b in BATCHES[:5]:
        grads = jax.vmap(lambda xb, yb: jax.grad(_loss)(params, (xb, yb)))(*b)
        sent = jax.vmap(lambda g, s: local.update(g, s)[0])(grads, state[0])
        params, state, updates = runner.step(params, state, b)
        for s, u in zip(jax.tree.leaves(sent), jax.tree.leaves(updates), strict=True):
            nonzero = np.count_nonzero(np.asarray(s).reshape(N, -1), axis=1)
            assert np.all(nonzero <= max(1, int(np.ceil(density * s[0].size)))), nonzero
            np.testing.assert_allclose(u[0], jnp.mean(s, axis=0), rtol=1e-6, atol=1e-7)


def check_signum_majority_on_identical_data_is_signum(mode):
    same = [(jnp.stack([b[0][0]] * N), jnp.stack([b[1][0]] * N)) for b in BATCHES]
    got = _distributed(mode, oc.signum_majority(0.01, AXIS, beta=0.9), 10, same)
    want = _single_device(oc.signum(0.01, 0.9), 10, [(b[0][:1], b[1][:1]) for b in same])
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def check_wire_bytes(mode):
    size = 1 << 20
    rows = {}
    for name, tx in {
        "mean": oc.mean_across_devices(AXIS),
        "vote": oc.signum_majority(0.01, AXIS),
        "dgc": oc.dgc_sgd(0.01, AXIS, density=0.001),
        "ef_sign": optax.chain(oc.error_feedback(oc.scaled_sign()), oc.scaled_sign_mean(AXIS)),
    }.items():

        def step(w, state, tx=tx):
            u, state = tx.update({"w": w}, state, {"w": w})
            return u["w"], state

        w = jax.ShapeDtypeStruct((size,), jnp.float32)
        if mode == "pmap":
            state = jax.eval_shape(
                jax.pmap(tx.init, axis_name=AXIS),
                {"w": jax.ShapeDtypeStruct((N, size), jnp.float32)},
            )
            text = (
                jax.pmap(step, axis_name=AXIS)
                .lower(jax.ShapeDtypeStruct((N, size), jnp.float32), state)
                .compile()
                .as_text()
            )
        else:
            state = jax.eval_shape(tx.init, {"w": w})
            fn = jax.shard_map(
                lambda w, s, step=step: step(w, s),
                mesh=MESH,
                in_specs=(P(), P()),
                out_specs=(P(), P()),
                check_vma=False,
            )
            text = jax.jit(fn).lower(w, state).compile().as_text()
        rows[name] = oc.collective_bytes(text, N)["sent"]
    assert rows["mean"] == 4 * size, rows
    assert rows["mean"] / rows["vote"] >= 32, rows
    assert rows["mean"] / rows["dgc"] >= 250, rows
    assert rows["ef_sign"] == size // 8 + 4, rows  # packed signs + one float32 scale


CHECKS = {name: fn for name, fn in globals().items() if name.startswith("check_")}


def main():
    results = {}
    for mode in ("pmap", "shard_map"):
        for name, fn in CHECKS.items():
            try:
                fn(mode)
                results[f"{name}[{mode}]"] = "ok"
            except Exception:  # report every failure, not just the first
                results[f"{name}[{mode}]"] = traceback.format_exc()[-3000:]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
