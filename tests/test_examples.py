"""Examples and notebooks run, on small settings."""

import os
import pathlib
import runpy
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("standard_promotion")


def _example(name):
    return runpy.run_path(str(ROOT / "examples" / f"{name}.py"), run_name=name)


def test_nnx_train_step():
    losses = _example("nnx_train_step")["main"](["--steps", "150"])
    assert losses[-1] < 0.2 * losses[0]


def test_linen_train_state():
    assert _example("linen_train_state")["main"](["--steps", "150"]) > 0.95


def test_gradient_accumulation_equals_the_full_batch_step():
    accumulated, full = _example("gradient_accumulation")["main"](
        ["--every", "4", "--updates", "10"]
    )
    np.testing.assert_allclose(accumulated, full, rtol=1e-5, atol=1e-6)


def test_averaged_evaluation_is_closer_than_the_last_iterate():
    results = _example("averaged_evaluation")["main"](["--steps", "1200"])
    last = results["last iterate"]
    assert all(d < 0.5 * last for name, d in results.items() if name != "last iterate")


def test_greedy_layerwise_freezes_then_fine_tunes():
    report, unchanged = _example("greedy_layerwise")["main"](["--steps", "150"])
    assert unchanged  # hidden_0 bit-identical while frozen
    accuracies = [acc for _, acc in report.values()]
    assert min(accuracies) > 0.9, report
    assert accuracies[-1] >= accuracies[0], report  # deeper + fine-tuned is no worse


def test_data_parallel_schemes_train_on_8_devices():
    # the device count is fixed when JAX starts: run the script in its own process
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "data_parallel.py"), "--steps", "300"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {
        cells[0]: cells[1:]
        for line in result.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| scheme")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert len(rows) == 4, result.stdout
    for name, cells in rows.items():
        assert float(cells[-3]) > 0.95, (name, cells)  # test accuracy
    ratio = {name: float(cells[-1].rstrip("x")) for name, cells in rows.items()}
    assert ratio["Signum, majority vote"] > 31, ratio
    assert ratio["local momentum, error feedback, scaled signs"] > 31, ratio
    assert ratio["DGC, warm-up to density 0.01"] > 45, ratio


def test_custom_optimizer_variants_all_train():
    finals = _example("custom_optimizer")["main"](["--steps", "300"])
    assert finals["adam (named)"] == finals["adam (by hand)"]
    assert all(v < 1e-2 for v in finals.values())


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_executes(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "strip outputs"
    monkeypatch.setenv("OPTCHAIN_QUICK", "1")  # every notebook reads it for small settings
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert images or path.name == "01_recipes.ipynb", "notebook drew no figure"


def test_notebooks_list():
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert names == [
        "01_recipes.ipynb",
        "02_race_and_saddles.ipynb",
        "03_cooling_and_cycles.ipynb",
        "04_condition_number.ipynb",
        "05_averaging.ipynb",
        "06_landscape.ipynb",
    ]


def test_plot_schedules_writes_a_png(tmp_path):
    module = runpy.run_path(str(ROOT / "examples" / "plot_schedules.py"), run_name="plot_schedules")
    out = module["main"](["--steps", "200", "--out", str(tmp_path / "s.png")])
    assert pathlib.Path(out).stat().st_size > 20_000
