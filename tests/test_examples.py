"""Examples and notebooks run, on small settings."""

import pathlib
import runpy
import sys

import jax
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_quickstart_ranks_optimizers(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["quickstart.py"])
    module = runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="quickstart")
    with jax.numpy_dtype_promotion("standard"):  # the example is user code, not strict
        rows = module["main"](["--steps", "40", "--optimizers", "adam,signum,ftml"])
    assert [name for _, name, _, _ in rows] == ["adam", "signum", "ftml"]
    for final, _, accuracy, _ in rows:
        assert final < 2.0 and accuracy > 0.5  # ten classes: chance is 0.1


def test_quickstart_rejects_unknown_optimizer(capsys):
    module = runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="quickstart")
    with pytest.raises(SystemExit):
        module["main"](["--optimizers", "adamm"])
    assert "choose from" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_executes(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "strip outputs"
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace("STEPS = 300", "STEPS = 60")
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()


def test_plot_schedules_writes_a_png(tmp_path):
    module = runpy.run_path(str(ROOT / "examples" / "plot_schedules.py"), run_name="plot_schedules")
    out = module["main"](["--steps", "200", "--out", str(tmp_path / "s.png")])
    assert pathlib.Path(out).stat().st_size > 20_000
