"""benchmarks/steps_to_target.py runs: a 2-method, 1-rate, few-step version of the table."""

import json
import math
import pathlib
import runpy

import pytest

import optchain

ROOT = pathlib.Path(__file__).resolve().parent.parent

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytestmark = pytest.mark.usefixtures("standard_promotion")


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(ROOT / "benchmarks" / "steps_to_target.py"), run_name="stt")


def _table(text, title):
    """The markdown rows (header and separator left out) of the table under ``title``."""
    block = text.split(title, 1)[1].split("\n\n")[1]
    return [line for line in block.splitlines()[2:] if line.startswith("|")]


def test_quick_run_table_shape(script, tmp_path):
    argv = ["--out", str(tmp_path), "--quick", "--methods", "dog", "--steps", "12", "--quiet"]
    out = script["main"](argv)
    summary = out["summary"]
    assert list(summary) == ["cnn", "mlp"]
    for work in summary.values():
        # AdamW is always added first: the target and the 1.5x rule are its
        assert [row["method"] for row in work["rows"]] == ["adamw", "dog"]
        assert math.isfinite(work["target"]) and work["target"] > 0
        for row in work["rows"]:
            # one rate (the default) for optchain, then optax at the same rate
            assert [(r["library"], r["status"]) for r in row["runs"]] == [
                ("optchain", "ok"),
                ("optax", "ok"),
            ]
            assert row["runs"][0]["lr"] == row["runs"][1]["lr"] == row["best_lr"]
            for r in row["runs"]:
                assert math.isfinite(r["final_loss"]) and r["final_loss"] > 0
                assert r["seconds_per_step"] > 0 and r["compile_seconds"] > 0
            timing = row["seconds_per_step_alternating"]
            assert timing["optchain"] > 0 and timing["optax"] > 0 and timing["ratio"] > 0
        # the target is what AdamW reaches at half the budget: it gets there by step 12
        adamw = work["rows"][0]["runs"][0]
        assert adamw["steps_to_target"] is not None and 10 <= adamw["steps_to_target"] <= 12
    text = out["text"]
    for title in ("**digits CNN", "**diabetes MLP"):
        rows = _table(text, title)
        names = [r.split("|")[1].strip().removesuffix(" (optax's own)") for r in rows]
        assert names == ["adamw (baseline)", "dog"]
        assert all(r.count("|") == 11 for r in rows)
    lr_free = _table(text, "**cnn: learning-rate-free")
    assert len(lr_free) == 1 and lr_free[0].startswith("| dog | 1 |")
    png = tmp_path / "steps_to_target.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "steps_to_target.json").read_text())["workloads"]["mlp"]
    assert (tmp_path / "steps_to_target.md").read_text().strip() == text.strip()


def test_failing_methods_are_reported(script):
    methods, method = script["METHODS"], script["Method"]

    def broken(lib, lr):
        raise RuntimeError("no such optimizer")

    methods["broken"] = method(broken, (1.0,), 1.0)
    methods["exploding"] = method(lambda lib, lr: lib.sgd(lr), (1e30,), 1e30)
    try:
        work = script["mlp_workload"](4)
        failed = script["train"](work, "broken", optchain, 1.0)
        assert failed.status() == "error: RuntimeError: no such optimizer"
        nan = script["train"](work, "exploding", optchain, 1e30)
        assert nan.status().startswith("diverged") and not nan.ok
        row = script["Row"]("exploding", [nan], script["best"]([nan]), None)
        line = script["format_rows"](work, [row], 1.0).splitlines()[-1]
        assert line.startswith("| exploding | 1e+30 | - | diverged")
    finally:
        del methods["broken"], methods["exploding"]
