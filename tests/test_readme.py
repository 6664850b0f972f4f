"""Every Python block of the README runs as pasted, on its own; its two set-up commands are the
ones CI uses.

A block that is deliberately a fragment (it needs a data set, or shows a recipe inside prose)
has the line ``<!-- fragment -->`` directly before its opening fence and is not run.
"""

import pathlib
import re

import jax
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

FENCE = re.compile(r"^(<!-- fragment[^\n]*-->\n)?```python\n(.*?)^```$", re.M | re.S)
BLOCKS = [(m.group(1) is not None, m.group(2)) for m in FENCE.finditer(README)]
RUNNABLE = [(i, code) for i, (fragment, code) in enumerate(BLOCKS, 1) if not fragment]


def test_the_readme_has_its_blocks():
    assert len(BLOCKS) == README.count("```python")  # every block is seen
    assert len(RUNNABLE) >= 7
    assert sum(fragment for fragment, _ in BLOCKS) <= 2  # fragments stay rare


@pytest.mark.parametrize(
    "code", [code for _, code in RUNNABLE], ids=[f"{i}: {c.splitlines()[0]}" for i, c in RUNNABLE]
)
def test_python_block_runs_as_pasted(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files (the checkpoint)
    namespace = {"__name__": "__main__"}  # a fresh interpreter: nothing defined beforehand
    with jax.numpy_dtype_promotion("standard"):  # README code is user code
        exec(compile(code, "README.md", "exec"), namespace)


def test_the_nnx_block_trains():
    """The NNX block asserts its own loss goes down: keep that check in it."""
    (code,) = [code for _, code in RUNNABLE if "def train_step(" in code]
    assert "assert losses[-1] < losses[0]" in code


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"^(python3 -m venv .*)$", README, re.M)
    assert len(commands) == 2 and commands[0].endswith(".venv/bin/optchain compare")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()


def test_the_optimizer_table_lists_every_named_optimizer_with_its_test():
    """Each named optimizer has a row naming its arguments (as the signature spells them), a
    paper and a test file that exists."""
    import inspect

    import optchain as oc

    start = README.index("## Named optimizers and what they reproduce")
    table = README[start : README.index("\n## ", start + 3)]
    rows = {
        m.group(1): line for line in table.splitlines() if (m := re.match(r"\| `(\w+)\(", line))
    }
    named = {
        n for n in oc.optimizers.__all__ if n != "named_optimizer" and not n.startswith("scale_by")
    }
    listed = set(rows) | set(re.findall(r"`(\w+)\(", table))
    assert named - listed == set()
    for name, line in rows.items():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        assert len(cells) == 6, line
        arguments = re.match(rf"`{name}\(([^`]*)\)`", cells[0]).group(1)
        params = inspect.signature(getattr(oc, name)).parameters
        for arg in re.split(r",\s*", arguments):
            arg = arg.split("=")[0].replace("*", "").strip()
            assert arg in {"", "...", "lr"} or arg in params, (name, arg)
        assert re.search(r"(19|20)\d\d", cells[4]), (name, cells[4])  # the paper
        for test_file in re.findall(r"`(test_\w+\.py)`", cells[5]):
            assert (ROOT / "tests" / test_file).exists(), test_file
        assert re.search(r"`test_\w+\.py`", cells[5]), (name, cells[5])
