"""Writes the reference trajectories the tests compare optchain against.

Run each system in its own virtual environment (neither is a test dependency):

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python tools/make_fixtures.py torch

    python -m venv /tmp/mxenv && /tmp/mxenv/bin/pip install mxnet==1.9.1 "numpy<1.24"
    /tmp/mxenv/bin/python tools/make_fixtures.py mxnet

Each case runs ``STEPS`` updates on two float32 parameters (``w`` of shape (3, 4) and
``b`` of shape (5,)) of an ill-conditioned quartic whose gradient depends on the
parameters and carries a deterministic perturbation, so that the gradient's sign and
size change from step to step. For every step the file stores the parameters before the
step and the gradient the reference system was given; the tests feed the same gradients
to optchain and compare the parameters after each step (step-for-step, no drift).

Output: ``tests/fixtures/<system>_trajectories.npz`` with, per case, ``<case>/params``
of shape (STEPS + 1, 17), ``<case>/grads`` of shape (STEPS, 17), and ``<case>/config``,
the JSON of the reference's constructor arguments.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

STEPS = 60
SHAPES = {"w": (3, 4), "b": (5,)}
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def initial_params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    return {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}


def gradient(params: dict[str, np.ndarray], step: int) -> dict[str, np.ndarray]:
    """Gradient of sum(h/2 (x - 1)^2 + x^4/40) plus a bounded, step-dependent term."""
    out = {}
    for offset, (k, x) in enumerate(params.items()):
        idx = np.arange(x.size, dtype=np.float32).reshape(x.shape)
        h = np.float32(10.0) ** (idx / np.float32(max(x.size - 1, 1)) * 2 - 1)
        wobble = np.float32(0.3) * np.sin(np.float32(1.3) * step + idx + offset).astype(np.float32)
        out[k] = (h * (x - 1) + x**3 / np.float32(10) + wobble).astype(np.float32)
    return out


def flat(tree: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([tree[k].reshape(-1) for k in SHAPES])


TORCH_CASES = {
    "sgd": ("SGD", {"lr": 0.05}),
    "sgd_momentum": ("SGD", {"lr": 0.05, "momentum": 0.9}),
    "sgd_dampening_wd": (
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01},
    ),
    "sgd_nesterov_wd": (
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ),
    "adagrad": ("Adagrad", {"lr": 0.1}),
    "adagrad_init_wd": (
        "Adagrad",
        {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6, "weight_decay": 0.01},
    ),
    "rmsprop": ("RMSprop", {"lr": 0.01}),
    "rmsprop_centered": ("RMSprop", {"lr": 0.01, "centered": True}),
    "rmsprop_momentum_wd": ("RMSprop", {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.01}),
    "rmsprop_centered_momentum": (
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "centered": True, "momentum": 0.5},
    ),
    "adadelta": ("Adadelta", {"lr": 1.0}),
    "adadelta_wd": ("Adadelta", {"lr": 0.5, "rho": 0.95, "eps": 1e-5, "weight_decay": 0.01}),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_wd": ("Adam", {"lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.01}),
    "adamw": ("AdamW", {"lr": 0.01, "weight_decay": 0.01}),
    "amsgrad": ("Adam", {"lr": 0.01, "betas": [0.9, 0.99], "amsgrad": True}),
    "adamax": ("Adamax", {"lr": 0.01}),
    "adamax_wd": ("Adamax", {"lr": 0.02, "betas": [0.8, 0.95], "weight_decay": 0.01}),
    "rprop": ("Rprop", {"lr": 0.01}),
    "rprop_custom": ("Rprop", {"lr": 0.05, "etas": [0.3, 1.5], "step_sizes": [1e-3, 0.2]}),
}

MXNET_CASES = {
    "ftml": ("FTML", {"learning_rate": 0.01}),
    "ftml_custom": ("FTML", {"learning_rate": 0.05, "beta1": 0.5, "beta2": 0.99, "epsilon": 1e-6}),
    "ftml_wd_clip": ("FTML", {"learning_rate": 0.01, "wd": 0.01, "clip_gradient": 1.0}),
    "signum": ("Signum", {"learning_rate": 0.01, "momentum": 0.9}),
    "signum_wd": ("Signum", {"learning_rate": 0.01, "momentum": 0.8, "wd": 0.01, "wd_lh": 0.05}),
    "signsgd": ("Signum", {"learning_rate": 0.01, "momentum": 0.0}),
    "signsgd_wd": ("Signum", {"learning_rate": 0.01, "momentum": 0.0, "wd": 0.01}),
    "nag": ("NAG", {"learning_rate": 0.05, "momentum": 0.9}),
}


def run_torch(name: str, kwargs: dict) -> tuple[np.ndarray, np.ndarray]:
    import torch

    torch.manual_seed(0)
    params = {k: torch.tensor(v) for k, v in initial_params().items()}
    for p in params.values():
        p.requires_grad_(True)
    args = dict(kwargs)
    for key in ("betas", "etas", "step_sizes"):
        if key in args:
            args[key] = tuple(args[key])
    opt = getattr(torch.optim, name)(list(params.values()), foreach=False, **args)
    traj, grads = [], []
    for step in range(STEPS):
        current = {k: p.detach().numpy().copy() for k, p in params.items()}
        traj.append(flat(current))
        g = gradient(current, step)
        grads.append(flat(g))
        for k, p in params.items():
            p.grad = torch.tensor(g[k])
        opt.step()
    traj.append(flat({k: p.detach().numpy() for k, p in params.items()}))
    return np.stack(traj), np.stack(grads)


def run_mxnet(name: str, kwargs: dict) -> tuple[np.ndarray, np.ndarray]:
    import mxnet as mx

    opt = mx.optimizer.create(name.lower(), **kwargs)
    updater = mx.optimizer.get_updater(opt)
    weights = {k: mx.nd.array(v, dtype="float32") for k, v in initial_params().items()}
    traj, grads = [], []
    for step in range(STEPS):
        current = {k: w.asnumpy().copy() for k, w in weights.items()}
        traj.append(flat(current))
        g = gradient(current, step)
        grads.append(flat(g))
        for index, (k, w) in enumerate(weights.items()):
            updater(index, mx.nd.array(g[k], dtype="float32"), w)
    traj.append(flat({k: w.asnumpy() for k, w in weights.items()}))
    return np.stack(traj), np.stack(grads)


def main(system: str) -> None:
    cases, runner = {"torch": (TORCH_CASES, run_torch), "mxnet": (MXNET_CASES, run_mxnet)}[system]
    arrays = {}
    for case, (name, kwargs) in cases.items():
        traj, grads = runner(name, kwargs)
        assert np.all(np.isfinite(traj)), case
        arrays[f"{case}/params"] = traj.astype(np.float32)
        arrays[f"{case}/grads"] = grads.astype(np.float32)
        arrays[f"{case}/config"] = np.array(json.dumps({"optimizer": name, **kwargs}))
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / f"{system}_trajectories.npz", **arrays)
    print(f"wrote {len(cases)} cases to {OUT / f'{system}_trajectories.npz'}")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("torch", "mxnet"):
        sys.exit("usage: make_fixtures.py torch|mxnet")
    main(sys.argv[1])
