"""Writes the authors' reference trajectories of Prodigy (``prodigyopt`` 1.1) and D-Adaptation's
Adam (``dadaptation`` 3.2), which ``optchain.prodigy`` and ``optchain.dadapt_adamw`` reproduce
through their documented keywords.

Run it in the torch environment of ``tools/make_fixtures.py`` (no test dependency):

    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 numpy prodigyopt==1.1 dadaptation==3.2
    /tmp/torchenv/bin/python tools/make_fixtures_lr_free.py

The problem is ``tools/make_fixtures.py``'s (``initial_params``, ``gradient``, ``flat``,
``SHAPES``: two float32 parameters of an ill-conditioned quartic with a step-dependent wobble),
``STEPS`` = 200 updates. Both packages keep their scalars (``d``, the numerator) as Python
floats (float64) and the tensors in float32.

Output: ``tests/fixtures/lr_free_torch.npz`` with, per case, ``<case>/params`` of shape
(STEPS + 1, 17) (the parameters before each step, then after the last), ``<case>/grads`` of
shape (STEPS, 17) (the gradient given at each step), ``<case>/d`` of shape (STEPS,) (the
estimate ``d`` after each step) and ``<case>/config`` (the JSON of the constructor call).
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from make_fixtures import OUT, flat, gradient, initial_params  # noqa: E402

STEPS = 200

# case -> (package.class, constructor arguments)
CASES = {
    "prodigy": ("prodigyopt.Prodigy", {"lr": 1.0}),
    "prodigy_bias_correction": (
        "prodigyopt.Prodigy",
        {"lr": 1.0, "use_bias_correction": True, "weight_decay": 0.05},
    ),
    "prodigy_coupled": (
        "prodigyopt.Prodigy",
        {"lr": 0.5, "betas": [0.8, 0.99], "beta3": 0.9, "weight_decay": 0.05, "decouple": False},
    ),
    "prodigy_growth": (
        "prodigyopt.Prodigy",
        {"lr": 1.0, "d_coef": 0.5, "growth_rate": 1.05, "safeguard_warmup": True, "d0": 1e-5},
    ),
    "dadapt_adam": ("dadaptation.DAdaptAdam", {"lr": 1.0}),
    "dadapt_adam_decoupled": (
        "dadaptation.DAdaptAdam",
        {"lr": 1.0, "weight_decay": 0.05, "decouple": True, "use_bias_correction": True},
    ),
    "dadapt_adam_coupled": (
        "dadaptation.DAdaptAdam",
        {"lr": 0.5, "betas": [0.8, 0.99], "weight_decay": 0.05, "growth_rate": 1.1, "d0": 1e-5},
    ),
}


def run(cls_name: str, kwargs: dict) -> dict[str, np.ndarray]:
    import importlib

    import torch

    module, name = cls_name.split(".")
    cls = getattr(importlib.import_module(module), name)
    torch.manual_seed(0)
    params = {k: torch.tensor(v) for k, v in initial_params().items()}
    for p in params.values():
        p.requires_grad_(True)
    args = dict(kwargs)
    if "betas" in args:
        args["betas"] = tuple(args["betas"])
    opt = cls(list(params.values()), **args)
    traj, grads, ds = [], [], []
    for step in range(STEPS):
        current = {k: p.detach().numpy().copy() for k, p in params.items()}
        traj.append(flat(current))
        g = gradient(current, step)
        grads.append(flat(g))
        for k, p in params.items():
            p.grad = torch.tensor(g[k])
        opt.step()
        ds.append(float(opt.param_groups[0]["d"]))
    traj.append(flat({k: p.detach().numpy() for k, p in params.items()}))
    return {"params": np.stack(traj), "grads": np.stack(grads), "d": np.asarray(ds, np.float64)}


def main() -> None:
    import dadaptation
    import prodigyopt
    import torch

    versions = {
        "torch": torch.__version__,
        "prodigyopt": getattr(prodigyopt, "__version__", "1.1"),
        "dadaptation": getattr(dadaptation, "__version__", "3.2"),
    }
    arrays = {}
    for case, (name, kwargs) in CASES.items():
        out = run(name, kwargs)
        assert np.all(np.isfinite(out["params"])), case
        for key, value in out.items():
            arrays[f"{case}/{key}"] = value
        config = {"optimizer": name, **versions, "steps": STEPS, **kwargs}
        arrays[f"{case}/config"] = np.array(json.dumps(config))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "lr_free_torch.npz"
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({len(CASES)} cases, {STEPS} steps)")


if __name__ == "__main__":
    main()
