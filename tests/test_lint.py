"""ruff (lint and format) and pyright run as part of the test command."""

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _tool(name):
    path = pathlib.Path(sys.executable).parent / name
    return str(path) if path.exists() else shutil.which(name)


@pytest.mark.parametrize(
    "args",
    [
        ["check", "."],
        ["format", "--check", "."],
    ],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff(args):
    ruff = _tool("ruff")
    assert ruff, "ruff is a test dependency"
    result = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pyright():
    pyright = _tool("pyright")
    assert pyright, "pyright is a test dependency"
    result = subprocess.run(
        [pyright, "--pythonpath", sys.executable],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
