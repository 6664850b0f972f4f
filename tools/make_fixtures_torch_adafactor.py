"""Writes the torch.optim.Adafactor trajectories that tests/test_zoo_torch_adafactor.py checks.

Run it in the torch virtual environment of tools/make_fixtures.py (torch is no test
dependency):

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python tools/make_fixtures_torch_adafactor.py

Each case runs ``STEPS`` updates of ``torch.optim.Adafactor`` (the single-tensor loop,
``foreach=False``) on the problem of tools/make_fixtures.py (its ``initial_params``,
``gradient`` and ``flat``: ``w`` of shape (3, 4), which torch factors, and ``b`` of shape
(5,)); the case ``batched`` replaces ``w`` by a (2, 3, 4) leaf, factored over its last two
axes. For every step the file stores the parameters before the step and the gradient torch
was given; the tests feed the same gradients and compare the parameters after each step.

Output: ``tests/fixtures/torch_adafactor_trajectories.npz`` with, per case,
``<case>/params`` (STEPS + 1, n), ``<case>/grads`` (STEPS, n) and ``<case>/config`` (the
JSON of torch's constructor arguments and of the leaves' shapes), and ``torch_defaults``
(the JSON of ``Adafactor``'s keyword defaults).
"""

from __future__ import annotations

import inspect
import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_fixtures import OUT, SHAPES, flat, gradient, initial_params  # noqa: E402

STEPS = 200
BATCHED = {"w": (2, 3, 4), "b": (5,)}

# case -> (torch's keyword arguments, the leaves' shapes)
CASES: dict[str, tuple[dict, dict]] = {
    "defaults": ({}, SHAPES),  # lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1
    # lr above 1/sqrt(t) from t = 5 on: the relative step 1/sqrt(t) takes over
    "relative_step": ({"lr": 0.5}, SHAPES),
    # a faster decay, eps1 clamps the root of b's second moment now and then, d clips often
    "decay_eps_d": ({"lr": 0.05, "beta2_decay": -0.5, "eps": (0.1, 0.05), "d": 1.1}, SHAPES),
    # eps1 clamps w's row mean and b's root on most steps, eps2 the parameter scale
    "large_eps": ({"lr": 0.05, "eps": (0.3, 1.5)}, SHAPES),
    "weight_decay": ({"lr": 0.05, "weight_decay": 0.5}, SHAPES),
    "maximize": ({"lr": 0.02, "maximize": True}, SHAPES),
    "batched": ({"lr": 0.05, "beta2_decay": -0.7}, BATCHED),
}


def _params(shapes: dict) -> dict[str, np.ndarray]:
    if shapes == SHAPES:
        return initial_params()
    rng = np.random.default_rng(4321)
    return {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}


def _flat(tree: dict[str, np.ndarray], shapes: dict) -> np.ndarray:
    if shapes == SHAPES:
        return flat(tree)
    return np.concatenate([tree[k].reshape(-1) for k in shapes])


def run(kwargs: dict, shapes: dict) -> tuple[np.ndarray, np.ndarray]:
    import torch

    torch.manual_seed(0)
    params = {k: torch.tensor(v) for k, v in _params(shapes).items()}
    for p in params.values():
        p.requires_grad_(True)
    args = dict(kwargs)
    if "eps" in args:
        args["eps"] = tuple(args["eps"])
    opt = torch.optim.Adafactor(list(params.values()), foreach=False, **args)
    traj, grads = [], []
    for step in range(STEPS):
        current = {k: p.detach().numpy().copy() for k, p in params.items()}
        traj.append(_flat(current, shapes))
        g = gradient(current, step)
        grads.append(_flat(g, shapes))
        for k, p in params.items():
            p.grad = torch.tensor(g[k])
        opt.step()
    traj.append(_flat({k: p.detach().numpy() for k, p in params.items()}, shapes))
    return np.stack(traj), np.stack(grads)


def main() -> None:
    import torch

    assert torch.__version__.startswith("2.13"), torch.__version__
    signature = inspect.signature(torch.optim.Adafactor.__init__).parameters.values()
    defaults = {p.name: p.default for p in signature if p.default is not inspect.Parameter.empty}
    arrays = {"torch_defaults": np.array(json.dumps(defaults))}
    for case, (kwargs, shapes) in CASES.items():
        traj, grads = run(kwargs, shapes)
        assert np.all(np.isfinite(traj)), case
        arrays[f"{case}/params"] = traj.astype(np.float32)
        arrays[f"{case}/grads"] = grads.astype(np.float32)
        config = {"optimizer": "Adafactor", **kwargs, "shapes": shapes}
        arrays[f"{case}/config"] = np.array(json.dumps(config))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "torch_adafactor_trajectories.npz"
    np.savez_compressed(path, **arrays)
    print(f"wrote {len(CASES)} cases ({STEPS} steps each) to {path}")


if __name__ == "__main__":
    main()
