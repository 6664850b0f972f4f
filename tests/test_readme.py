"""The README's Python snippets run, and its two set-up commands are the ones CI uses."""

import pathlib
import re

import jax
import jax.numpy as jnp
import optax

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_python_snippets_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) >= 3
    namespace = {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "learning_rate": 1e-3}
    namespace.update(params={"w": jnp.ones(3)}, grads={"w": jnp.ones(3)}, loss=1.0)
    with jax.numpy_dtype_promotion("standard"):  # README code is user code
        for block in blocks:
            exec(compile(block, "README.md", "exec"), namespace)
        x, y = jnp.ones((4, 8)), jnp.zeros((4, 1))
        losses = [
            float(namespace["train_step"](namespace["model"], namespace["optimizer"], x, y))
            for _ in range(5)
        ]
    assert losses[-1] < losses[0]
    for name in ("adam_with_sign", "noisy_adam", "warm_momentum"):
        assert isinstance(namespace[name], optax.GradientTransformation)


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"^(python3 -m venv .*)$", README, re.M)
    assert len(commands) == 2 and commands[0].endswith(".venv/bin/optchain compare")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()
