"""Writes the torch.optim reference trajectories of the zoo's torch variants (ASGD, NAdam, RAdam).

Run it in the torch environment of ``tools/make_fixtures.py`` (torch is no test dependency):

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python tools/make_fixtures_torch_zoo.py

The problem is ``tools/make_fixtures.py``'s (its ``initial_params``, ``gradient``, ``flat`` and
``SHAPES``: two float32 parameters of an ill-conditioned quartic with a step-dependent wobble),
run for ``STEPS`` = 200 updates with ``foreach=False`` (torch's single-tensor code path).

Output: ``tests/fixtures/torch_zoo_trajectories.npz`` with, per case, ``<case>/params`` of shape
(STEPS + 1, 17) (the parameters before each step, then after the last), ``<case>/grads`` of
shape (STEPS, 17) (the gradient torch was given at each step), ``<case>/config`` (the JSON of
the constructor call) and, for ASGD, ``<case>/ax`` of shape (STEPS, 17): torch's averaged
parameters ``state["ax"]`` after each step.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import make_fixtures  # noqa: E402
from make_fixtures import OUT, flat  # noqa: E402

STEPS = 200

# case -> (torch.optim class name, constructor arguments)
CASES = {
    "asgd": ("ASGD", {"lr": 0.05}),
    "asgd_averaging": ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.6, "t0": 50.0}),
    "asgd_wd": ("ASGD", {"lr": 0.03, "lambd": 1e-3, "alpha": 1.0, "t0": 0.0, "weight_decay": 0.01}),
    "nadam": ("NAdam", {"lr": 0.01}),
    "nadam_wd": (
        "NAdam",
        {"lr": 0.01, "betas": [0.8, 0.99], "momentum_decay": 0.01, "weight_decay": 0.01},
    ),
    "nadam_decoupled": (
        "NAdam",
        {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True},
    ),
    "radam": ("RAdam", {"lr": 0.01}),
    "radam_wd": ("RAdam", {"lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 0.01}),
    "radam_decoupled": (
        "RAdam",
        {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True},
    ),
    # a large eps, where torch's placement (added to sqrt(v) before debiasing) is visible
    "radam_eps": ("RAdam", {"lr": 0.01, "betas": [0.9, 0.99], "eps": 0.1}),
}


def run(name: str, kwargs: dict) -> dict[str, np.ndarray]:
    averages = []

    def read_average(opt, params):  # torch's averaged parameters ``ax`` after each step
        averages.append(flat({k: opt.state[p]["ax"].numpy().copy() for k, p in params.items()}))

    hook = read_average if name == "ASGD" else None
    traj, grads = make_fixtures.run_torch(name, kwargs, STEPS, hook)
    out = {"params": traj, "grads": grads}
    if averages:
        out["ax"] = np.stack(averages)
    return out


def main() -> None:
    import torch

    arrays = {}
    for case, (name, kwargs) in CASES.items():
        for key, value in run(name, kwargs).items():
            arrays[f"{case}/{key}"] = value
        config = {"optimizer": name, "torch": torch.__version__, "steps": STEPS, **kwargs}
        arrays[f"{case}/config"] = np.array(json.dumps(config))
    path = OUT / "torch_zoo_trajectories.npz"
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({len(CASES)} cases, {STEPS} steps)")


if __name__ == "__main__":
    main()
