"""Cross-device aggregation and compression.

The collectives run on 8 simulated devices under pmap and shard_map in a subprocess
(tests/distributed_check.py: the device count is fixed when JAX starts); the per-device
compressors and the byte accounting are tested here.
"""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optchain as oc

_SCRIPT = pathlib.Path(__file__).with_name("distributed_check.py")
_CHECKS = [
    "check_vote_is_sign_of_sum_with_ties",
    "check_mean_chain_equals_full_batch",
    "check_error_feedback_invariant",
    "check_error_feedback_sign_exchange_is_exact",
    "check_dgc_density_one_is_momentum_sgd",
    "check_dgc_sparse_exchange_is_exact",
    "check_signum_majority_on_identical_data_is_signum",
    "check_wire_bytes",
]


@pytest.fixture(scope="module")
def eight_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    result = subprocess.run(
        [sys.executable, str(_SCRIPT)], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["pmap", "shard_map"])
@pytest.mark.parametrize("check", _CHECKS)
def test_on_eight_devices(eight_devices, check, mode):
    outcome = eight_devices[f"{check}[{mode}]"]
    assert outcome == "ok", outcome


def test_the_subprocess_runs_every_check():
    source = _SCRIPT.read_text()
    defined = [
        line.split("(")[0][4:] for line in source.splitlines() if line.startswith("def check_")
    ]
    assert defined == _CHECKS


def test_majority_vote_under_vmap_axis():
    # vmap with an axis name runs the same collectives in one process
    g = jnp.array(
        [
            [1.0, -2.0, 0.0, -1.0],
            [3.0, -1.0, -4.0, 2.0],
            [-1.0, -1.0, 5.0, 0.5],
            [2.0, 1.0, -1.0, -3.0],
        ]
    )
    tx = oc.majority_vote("d")
    out = jax.vmap(lambda u: tx.update(u, tx.init(u))[0], axis_name="d")(g)
    by_hand = np.sign(np.sum(np.where(np.asarray(g) >= 0, 1, -1), axis=0))
    np.testing.assert_array_equal(out, np.broadcast_to(by_hand, (4, 4)))
    assert by_hand.tolist() == [1, -1, 0, 0]  # two ties among four devices


def test_sparse_mean_at_full_density_is_the_mean():
    g = jax.random.normal(jax.random.PRNGKey(0), (4, 3, 5))
    tx = oc.sparse_mean("d", 1.0)
    out = jax.vmap(lambda u: tx.update(u, tx.init(u))[0], axis_name="d")(g)
    np.testing.assert_allclose(out[2], jnp.mean(g, axis=0), rtol=1e-6, atol=1e-7)


def test_error_feedback_invariant_holds_every_step():
    tx = oc.error_feedback(oc.scaled_sign())
    update = jax.jit(tx.update)
    state = tx.init({"w": jnp.zeros((3, 4)), "b": jnp.zeros(2)})
    total_in = total_out = 0.0
    for t in range(20):
        g = jax.tree.map(
            lambda x: jnp.sin(x + t),
            {"w": jnp.arange(12.0).reshape(3, 4), "b": jnp.array([0.3, -2.0])},
        )
        old = state.residual
        c, state = update(g, state)
        for ci, ei, gi, oi in zip(*map(jax.tree.leaves, (c, state.residual, g, old)), strict=True):
            np.testing.assert_allclose(ci + ei, gi + oi, rtol=1e-6, atol=1e-6)
        total_in += sum(float(jnp.sum(x)) for x in jax.tree.leaves(g))
        total_out += sum(float(jnp.sum(x)) for x in jax.tree.leaves(c))
    # nothing is lost: what was not sent is still in the residual
    residual = sum(float(jnp.sum(x)) for x in jax.tree.leaves(state.residual))
    np.testing.assert_allclose(total_out + residual, total_in, rtol=1e-5, atol=1e-4)


def test_error_feedback_zeroes_int_leaves_and_keeps_bf16_dtype():
    tx = oc.error_feedback(oc.sign())
    params = {"w": jnp.ones(3, jnp.bfloat16), "n": jnp.array([1, 2], jnp.int32)}
    state = tx.init(params)
    assert state.residual["w"].dtype == jnp.float32
    u, state = tx.update({"w": jnp.array([0.25, -1.0, 0.0], jnp.bfloat16), "n": params["n"]}, state)
    assert u["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(u["n"], [0, 0])  # not optimized: a zero update
    assert u["n"].dtype == jnp.int32
    np.testing.assert_allclose(state.residual["w"], [-0.75, 0.0, 0.0])


def test_scaled_sign_keeps_the_l1_norm():
    x = jnp.array([[-3.0, 1.0], [2.0, -6.0]])
    out = oc.scaled_sign().update(x, oc.scaled_sign().init(x))[0]
    np.testing.assert_allclose(out, [[-3.0, 3.0], [3.0, -3.0]])
    assert float(jnp.sum(jnp.abs(out))) == float(jnp.sum(jnp.abs(x)))


def test_dgc_sends_top_k_and_keeps_the_rest():
    tx = oc.dgc_sparsify(0.2, momentum=0.5)
    g = jnp.array([0.1, -5.0, 0.3, 2.0, -0.2, 0.05, 0.0, 1.0, -0.4, 0.6])
    state = tx.init(g)
    out, state = tx.update(g, state)
    # u = g, v = g; the 2 largest |v| are sent and cleared from v and u
    np.testing.assert_array_equal(out, jnp.where(jnp.abs(g) >= 2.0, g, 0.0))
    np.testing.assert_array_equal(state.accumulation, jnp.where(jnp.abs(g) >= 2.0, 0.0, g))
    np.testing.assert_array_equal(state.velocity, jnp.where(jnp.abs(g) >= 2.0, 0.0, g))
    # second step: u = 0.5 u + g, v += u; conservation: out + v_new = v_old + u_new
    v_old, u_old = state.accumulation, state.velocity
    out, state = tx.update(g, state)
    u_new = 0.5 * u_old + g
    np.testing.assert_allclose(out + state.accumulation, v_old + u_new, rtol=1e-6)
    assert int(jnp.count_nonzero(out)) == 2


def test_dgc_without_masking_keeps_velocity():
    tx = oc.dgc_sparsify(0.5, momentum=0.9, momentum_masking=False)
    g = jnp.array([1.0, -2.0, 3.0, -4.0])
    state = tx.update(g, tx.init(g))[1]
    np.testing.assert_array_equal(state.velocity, g)


def test_dgc_density_follows_the_warmup_schedule():
    schedule = oc.schedules.dgc_warmup(steps_per_epoch=2, final_density=0.001)
    tx = oc.dgc_sparsify(schedule, momentum=0.0)
    g = jnp.linspace(1.0, 2.0, 4000)
    state = tx.init(g)
    update = jax.jit(tx.update)
    counts = []
    for _ in range(10):
        out, state = update(g, state)
        counts.append(int(jnp.count_nonzero(out)))
    assert counts == [1000, 1000, 250, 250, 63, 63, 16, 16, 4, 4]
    np.testing.assert_allclose(
        [1 - float(schedule(2 * e)) for e in range(6)],
        [0.75, 0.9375, 0.984375, 0.99609375, 0.999, 0.999],
        rtol=1e-6,
    )


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="density"):
        oc.dgc_sparsify(0.0)
    with pytest.raises(ValueError, match="density"):
        oc.sparse_mean("d", 1.5)
    with pytest.raises(ValueError, match="max_density"):
        oc.dgc_sparsify(0.01, max_density=2.0)
    with pytest.raises(ValueError, match="momentum"):
        oc.dgc_sparsify(0.01, momentum=1.5)
    with pytest.raises(ValueError, match="axis_name"):
        oc.majority_vote("")
    with pytest.raises(ValueError, match="axis_name"):
        oc.mean_across_devices(None)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        oc.schedules.dgc_warmup(0)


def test_collective_bytes_reads_hlo():
    hlo = "\n".join(
        [
            "  %ar = f32[1000]{0} all-reduce(f32[1000]{0} %x), replica_groups={}",
            "  %ag = u8[8,125]{1,0} all-gather(u8[1,125]{1,0} %p), dimensions={0}",
            "  %t = (f32[10]{0}, bf16[4]{0}) all-reduce(f32[10]{0} %a, bf16[4]{0} %b)",
            "  %ags = (s32[1,3]{1,0}, s32[8,3]{1,0}) all-gather-start(s32[1,3]{1,0} %i)",
            "  %agd = s32[8,3]{1,0} all-gather-done((s32[8,3]{1,0}, u32[]) %ags)",
            "  %add = f32[1000]{0} add(f32[1000]{0} %ar, f32[1000]{0} %ar)",
        ]
    )
    got = oc.collective_bytes(hlo, devices=8)
    assert got["ops"] == [
        ("all-reduce", 4000),
        ("all-gather", 125),
        ("all-reduce", 48),
        ("all-gather", 12),
    ]
    assert got["sent"] == 4000 + 125 + 48 + 12
    np.testing.assert_allclose(got["ring"], 2 * 7 / 8 * 4048 + 7 * (125 + 12))


AGGREGATORS = {
    "mean_across_devices": lambda: oc.mean_across_devices("d"),
    "majority_vote": lambda: oc.majority_vote("d"),
    "scaled_sign_mean": lambda: oc.scaled_sign_mean("d"),
    "sparse_mean": lambda: oc.sparse_mean("d", 0.5),
}


@pytest.mark.parametrize("name", sorted(AGGREGATORS))
def test_aggregators_zero_integer_leaves_and_take_python_scalars(name):
    tx = AGGREGATORS[name]()
    g = {
        "f": jnp.array([[1.0, -2.0, 0.5], [3.0, 1.0, -0.5]]),
        "i": jnp.array([[3, 4], [5, 6]], jnp.int32),
        "b": jnp.array([[True, False], [True, True]]),
        "s": 0.25,
    }
    axes = ({"f": 0, "i": 0, "b": 0, "s": None},)

    def step(u):
        return tx.update(u, tx.init(u))[0]

    eager = jax.vmap(step, in_axes=axes, axis_name="d")(g)
    jitted = jax.jit(jax.vmap(step, in_axes=axes, axis_name="d"))(g)
    for key in ("i", "b"):
        assert eager[key].dtype == g[key].dtype and not np.any(np.asarray(eager[key]))
    for key in ("f", "s"):
        np.testing.assert_allclose(eager[key], jitted[key], rtol=1e-6)


def test_mean_across_devices_averages_complex_leaves():
    z = jnp.asarray(np.arange(6).reshape(2, 3) * (1 + 2j), jnp.complex64)
    tx = oc.mean_across_devices("d")
    out = jax.vmap(lambda u: tx.update(u, tx.init(u))[0], axis_name="d")(z)
    assert out.dtype == jnp.complex64
    np.testing.assert_allclose(out[0], np.mean(np.asarray(z), axis=0), rtol=1e-6)


def test_sign_and_sparse_exchanges_refuse_complex_updates():
    z = jnp.ones((2, 3), jnp.complex64)
    for tx in (oc.majority_vote("d"), oc.scaled_sign_mean("d"), oc.sparse_mean("d", 0.5)):
        with pytest.raises(ValueError, match="complex"):
            jax.vmap(lambda u, tx=tx: tx.update(u, tx.init(None))[0], axis_name="d")(z)
