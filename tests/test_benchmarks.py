"""The benchmark scripts run (tiny sizes; the timings themselves are not tested)."""

import json
import os
import pathlib
import runpy
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("standard_promotion")


def _script(name):
    return runpy.run_path(str(ROOT / "benchmarks" / f"{name}.py"), run_name=name)


def test_step_time_smoke(tmp_path):
    out = tmp_path / "rows.json"
    rows = _script("step_time")["main"](
        [
            "--trees",
            "large",
            "--optimizers",
            "adam",
            "lamb",
            "--flat",
            "--scale",
            "0.002",
            "--steps",
            "2",
            "--rounds",
            "1",
            "--json",
            str(out),
        ]
    )
    assert [(r["tree"], r["optimizer"]) for r in rows] == [("large", "adam"), ("large", "lamb")]
    adam = rows[0]
    # Adam keeps two float32 moments per parameter plus a few scalar counters (optax: one)
    assert 0 <= adam["state_bytes"] - adam["optax_state_bytes"] <= 64
    assert 2 * 4 * adam["parameters"] <= adam["state_bytes"] <= 2 * 4 * adam["parameters"] + 64
    assert all(r["optchain_ms"] > 0 and r["flat_ms"] > 0 and r["optax_compile_s"] > 0 for r in rows)
    assert json.loads(out.read_text())["rows"][0]["tree"] == "large"
    # the GPT-2 tree, by its shapes (compiling its 148 leaves six times took 15 s of the test)
    shapes = _script("step_time")["gpt2_small_shapes"]()
    assert (
        len(shapes) == 148
        and sum(int(__import__("math").prod(s)) for s in shapes.values()) == 124_439_808
    )


def test_step_time_steps_with_extra_arguments():
    """polyak_sgd (value=), lbfgs (value=, grad=, value_fn=) and lookahead (fast/slow params)
    run in both libraries, with the same state bytes up to optchain's scalar counters."""
    rows = _script("step_time")["main"](
        ["--trees", "large", "--scale", "0.001", "--steps", "2", "--rounds", "1"]
        + ["--optimizers", "polyak_sgd", "lbfgs", "lookahead"]
    )
    assert [r["optimizer"] for r in rows] == ["polyak_sgd", "lbfgs", "lookahead"]
    assert all(0 <= r["state_bytes"] - r["optax_state_bytes"] <= 16 for r in rows)
    assert all(r["optchain_ms"] > 0 and r["optax_ms"] > 0 for r in rows)


def test_step_time_times_the_optimizers_optax_does_not_have():
    """torch's and MXNet's optimizers: optchain's time and state alone, state bytes as the
    algorithm says (ASGD one average, FTRL z and n, DCASGD momentum and previous weights,
    SGLD a key), counters aside."""
    names = ["asgd", "ftrl", "dcasgd", "sgld", "adafactor_torch"]
    rows = _script("step_time")["main"](
        ["--trees", "large", "--scale", "0.001", "--steps", "2", "--rounds", "1", "--optimizers"]
        + names
    )
    assert [r["optimizer"] for r in rows] == names
    assert all("ratio" not in r and r["optchain_ms"] > 0 for r in rows)
    copies = {r["optimizer"]: r["state_bytes"] / (4 * r["parameters"]) for r in rows}
    assert 1 <= copies["asgd"] <= 1.01 and 2 <= copies["ftrl"] <= 2.01
    assert 2 <= copies["dcasgd"] <= 2.01 and copies["sgld"] < 0.01
    assert copies["adafactor_torch"] > 0  # factored: on this tiny tree about one copy


def test_train_step_smoke():
    results = _script("train_step")["main"](["--layers", "3", "--steps", "2", "--rounds", "2"])
    assert set(results) >= {"gradient only (tree)", "optax adam, tree", "optchain adam, flat"}


def test_wire_bytes_smoke():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "wire_bytes.py"),
            "--size",
            "64",
            "--layers",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| majority vote, packed signs | 1,024 | 32.0x |" in result.stdout


def test_adam_passes_smoke(tmp_path):
    out = tmp_path / "rows.json"
    rows = _script("adam_passes")["main"](
        ["--leaves", "3", "--leaf-size", "4096", "--chunk", "1024", "--steps", "2", "--rounds", "1"]
        + ["--json", str(out)]
    )
    assert [r["variant"] for r in rows] == [
        "sgd in place",
        "optchain adam",
        "optchain adam, bf16 moments",
        "hand adam, 3 passes",
        "hand adam, leaf order",
        "hand adam, per-moment order",
        "hand adam, chunked loop (1024)",
    ]
    # every variant updates its donated buffers in place: no parameter-sized copies
    assert [r["copies"] for r in rows] == [0] * 7
    assert all(r["ms"] > 0 and r["gb_per_s"] > 0 for r in rows)
    assert json.loads(out.read_text())[4]["bytes_per_param"] == 40


def test_adam_passes_variants_compute_adam():
    """The hand-written variants (ordered, chunked) are Adam: three steps match optchain.adam."""
    import jax
    import jax.numpy as jnp

    table = _script("adam_passes")["variants"](256)
    keys = jax.random.split(jax.random.key(3), 2)
    params = [jax.random.normal(k, (1024,)) for k in keys]
    grads = [jnp.cos(3.0 * p) for p in params]
    finals = {}
    for name, (init, step, _) in table.items():
        if name == "sgd in place" or "bf16" in name:
            continue
        state, jitted = init(params), jax.jit(step)
        for _ in range(3):
            state = jitted(state, grads)
        finals[name] = state[0]
    expected = finals.pop("optchain adam")
    assert len(finals) == 4
    for name, got in finals.items():
        for e, g in zip(expected, got):
            assert jnp.allclose(e, g, rtol=1e-6, atol=1e-7), name
        # and they moved: 3 Adam steps of about lr each
        assert jnp.allclose(jnp.abs(got[0] - params[0]), 3e-3, rtol=0.05, atol=2e-4)
