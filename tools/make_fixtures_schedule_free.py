"""Writes the reference trajectories of the authors' schedule-free optimizers (``schedulefree``
1.4's ``SGDScheduleFree`` and ``AdamWScheduleFree``, torch).

Run it in the torch environment of ``tools/make_fixtures.py`` (neither torch nor schedulefree is
a test dependency):

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy \
        schedulefree==1.4
    /tmp/torchenv/bin/python tools/make_fixtures_schedule_free.py

The problem is ``tools/make_fixtures.py``'s (its ``initial_params``, ``gradient``, ``flat`` and
``SHAPES``: two float32 parameters of an ill-conditioned quartic with a step-dependent wobble),
run for ``STEPS`` = 200 updates with ``foreach=False``. The optimizer is in ``train()`` mode,
where the parameters are the train point y (the gradient is taken there). After each step the
script switches to ``eval()`` to read the evaluation point x (the average), then back to
``train()``, and restores y exactly (the two interpolations round in float32, so the trajectory
continues from the train point it would have had without looking at x).

Output: ``tests/fixtures/schedule_free_trajectories.npz`` with, per case, ``<case>/params`` of
shape (STEPS + 1, 17) (the train point y before each step, then after the last),
``<case>/eval`` of the same shape (the ``eval()`` parameters x at the same moments; x = y
before the first step), ``<case>/z`` of shape (STEPS, 17) (``state["z"]`` after each step),
``<case>/grads`` of shape (STEPS, 17) (the gradient given at each step) and ``<case>/config``
(the JSON of the constructor call).
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from make_fixtures import OUT, flat, gradient, initial_params  # noqa: E402

STEPS = 200

# case -> (schedulefree class name, constructor arguments)
CASES = {
    "sgd": ("SGDScheduleFree", {"lr": 0.05}),
    "sgd_warmup_wd": (
        "SGDScheduleFree",
        {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.01, "warmup_steps": 20},
    ),
    "sgd_r": (
        "SGDScheduleFree",
        {"lr": 0.04, "warmup_steps": 10, "r": 1.0, "weight_lr_power": 1.0},
    ),
    "adamw": ("AdamWScheduleFree", {"lr": 0.01}),
    "adamw_warmup_wd": (
        "AdamWScheduleFree",
        {"lr": 0.02, "betas": [0.95, 0.99], "eps": 1e-6, "weight_decay": 0.05, "warmup_steps": 25},
    ),
    "adamw_r": (
        "AdamWScheduleFree",
        {"lr": 0.02, "warmup_steps": 10, "r": 1.0, "weight_lr_power": 0.5},
    ),
}


def run(name: str, kwargs: dict) -> dict[str, np.ndarray]:
    import schedulefree
    import torch

    torch.manual_seed(0)
    params = {k: torch.tensor(v) for k, v in initial_params().items()}
    args = dict(kwargs)
    if "betas" in args:
        args["betas"] = tuple(args["betas"])
    opt = getattr(schedulefree, name)(list(params.values()), foreach=False, **args)
    opt.train()

    def read() -> dict[str, np.ndarray]:
        return {k: p.detach().numpy().copy() for k, p in params.items()}

    def read_eval() -> np.ndarray:
        train_point = {k: p.detach().clone() for k, p in params.items()}
        opt.eval()
        x = flat(read())
        opt.train()
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(train_point[k])
        return x

    ys, xs, zs, grads = [], [], [], []
    for step in range(STEPS):
        current = read()
        ys.append(flat(current))
        xs.append(read_eval())
        g = gradient(current, step)
        grads.append(flat(g))
        for k, p in params.items():
            p.grad = torch.tensor(g[k])
        opt.step()
        zs.append(flat({k: opt.state[p]["z"].numpy().copy() for k, p in params.items()}))
    ys.append(flat(read()))
    xs.append(read_eval())
    return {
        "params": np.stack(ys),
        "eval": np.stack(xs),
        "z": np.stack(zs),
        "grads": np.stack(grads),
    }


def main() -> None:
    import importlib.metadata

    import torch

    arrays = {}
    for case, (name, kwargs) in CASES.items():
        for key, value in run(name, kwargs).items():
            arrays[f"{case}/{key}"] = value
        config = {
            "optimizer": f"schedulefree.{name}",
            "schedulefree": importlib.metadata.version("schedulefree"),
            "torch": torch.__version__,
            "steps": STEPS,
            **kwargs,
        }
        arrays[f"{case}/config"] = np.array(json.dumps(config))
    path = OUT / "schedule_free_trajectories.npz"
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({len(CASES)} cases, {STEPS} steps)")


if __name__ == "__main__":
    main()
