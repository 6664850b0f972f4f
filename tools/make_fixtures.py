"""Writes the reference trajectories the tests compare optchain against.

Run each system in its own virtual environment (neither is a test dependency):

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python tools/make_fixtures.py torch
    /tmp/torchenv/bin/python tools/make_fixtures.py torch-schedules

    python -m venv /tmp/mxenv && /tmp/mxenv/bin/pip install mxnet==1.9.1 "numpy<1.24"
    /tmp/mxenv/bin/python tools/make_fixtures.py mxnet

Each case runs ``STEPS`` updates on two float32 parameters (``w`` of shape (3, 4) and
``b`` of shape (5,)) of an ill-conditioned quartic whose gradient depends on the
parameters and carries a deterministic perturbation, so that the gradient's sign and
size change from step to step. For every step the file stores the parameters before the
step and the gradient the reference system was given; the tests feed the same gradients
to optchain and compare the parameters after each step (step-for-step, no drift).

``torch-schedules`` writes ``tests/fixtures/torch_schedules.npz``: the learning rate (and
momentum) torch.optim.lr_scheduler sets at every step for each case in ``SCHEDULE_CASES``
(base rate 0.1, SGD with momentum 0.9), and for ``ReduceLROnPlateau`` the rate after each
``step(value)`` on the loss sequences of ``plateau_sequences`` (base rate 1, so the rate is
the scale).

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


def run_torch(
    name: str, kwargs: dict, steps: int = STEPS, after_step=None
) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` updates of ``torch.optim.<name>(**kwargs)`` on the problem; ``after_step(opt,
    params)`` (if given) is called after each, to read the optimizer's state."""
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
    for step in range(steps):
        current = {k: p.detach().numpy().copy() for k, p in params.items()}
        traj.append(flat(current))
        g = gradient(current, step)
        grads.append(flat(g))
        for k, p in params.items():
            p.grad = torch.tensor(g[k])
        opt.step()
        if after_step is not None:
            after_step(opt, params)
    traj.append(flat({k: p.detach().numpy() for k, p in params.items()}))
    return np.stack(traj), np.stack(grads)


def run_mxnet(
    name: str, kwargs: dict, steps: int = STEPS, optimizer=None
) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` updates of MXNet's ``name`` optimizer (or of the given ``optimizer``)."""
    import mxnet as mx

    opt = mx.optimizer.create(name.lower(), **kwargs) if optimizer is None else optimizer
    updater = mx.optimizer.get_updater(opt)
    weights = {k: mx.nd.array(v, dtype="float32") for k, v in initial_params().items()}
    traj, grads = [], []
    for step in range(steps):
        current = {k: w.asnumpy().copy() for k, w in weights.items()}
        traj.append(flat(current))
        g = gradient(current, step)
        grads.append(flat(g))
        for index, (k, w) in enumerate(weights.items()):
            updater(index, mx.nd.array(g[k], dtype="float32"), w)
    traj.append(flat({k: w.asnumpy() for k, w in weights.items()}))
    return np.stack(traj), np.stack(grads)


SCHEDULE_CASES = {
    # name: (scheduler, kwargs, steps, optimizer kwargs)
    "linear_warmup": ("LinearLR", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 7}, 12),
    "linear_decay": ("LinearLR", {"start_factor": 1.0, "end_factor": 0.01, "total_iters": 10}, 14),
    "exponential": ("ExponentialLR", {"gamma": 0.9}, 30),
    "step": ("StepLR", {"step_size": 4, "gamma": 0.5}, 20),
    "multistep": ("MultiStepLR", {"milestones": [3, 7, 12], "gamma": 0.3}, 20),
    "cosine": ("CosineAnnealingLR", {"T_max": 15, "eta_min": 0.001}, 16),
    "polynomial": ("PolynomialLR", {"total_iters": 10, "power": 2.0}, 15),
    "warm_restarts_mult2": (
        "CosineAnnealingWarmRestarts",
        {"T_0": 3, "T_mult": 2, "eta_min": 0.01},
        50,
    ),
    "warm_restarts": ("CosineAnnealingWarmRestarts", {"T_0": 5}, 22),
    "cyclic_triangular": (
        "CyclicLR",
        {
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 4,
            "step_size_down": 6,
            "base_momentum": 0.8,
            "max_momentum": 0.95,
        },
        30,
    ),
    "cyclic_triangular2": (
        "CyclicLR",
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "mode": "triangular2"},
        30,
    ),
    "cyclic_exp_range": (
        "CyclicLR",
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "mode": "exp_range", "gamma": 0.97},
        40,
    ),
    "one_cycle": ("OneCycleLR", {"max_lr": 0.1, "total_steps": 25}, 25),
    "one_cycle_linear_three_phase": (
        "OneCycleLR",
        {
            "max_lr": 0.1,
            "total_steps": 30,
            "pct_start": 0.25,
            "anneal_strategy": "linear",
            "div_factor": 10.0,
            "final_div_factor": 100.0,
            "three_phase": True,
            "base_momentum": 0.8,
            "max_momentum": 0.9,
        },
        30,
    ),
}


def plateau_sequences() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(90, dtype=np.float64)
    return {
        # improves, then a noisy plateau, then improves again
        "decreasing_plateau": np.concatenate(
            [2.0 - 0.05 * t[:20], 1.0 + 0.002 * rng.standard_normal(40), 0.9 - 0.01 * t[:30]]
        ),
        # entirely negative: improves, plateaus near -3
        "negative": np.concatenate([-1.0 - 0.1 * t[:20], -3.0 + 0.01 * rng.standard_normal(70)]),
        # a noisy positive plateau, then down through zero to a noisy negative plateau
        "crossing_zero": np.concatenate(
            [
                0.5 + 0.01 * rng.standard_normal(30),
                0.5 - 0.05 * t[:30],
                -1.0 + 0.01 * rng.standard_normal(30),
            ]
        ),
        # an accuracy for mode="max"
        "accuracy": np.minimum(0.9, 0.5 + 0.02 * t) + 0.003 * rng.standard_normal(90),
    }


PLATEAU_CASES = {
    "default": ("decreasing_plateau", {}),
    "tight": (
        "decreasing_plateau",
        {"factor": 0.5, "patience": 2, "threshold": 0.01, "cooldown": 2, "min_lr": 0.05},
    ),
    "abs_negative": (
        "negative",
        {"factor": 0.5, "patience": 3, "threshold": 0.05, "threshold_mode": "abs"},
    ),
    "rel_negative": ("negative", {"factor": 0.5, "patience": 3, "threshold": 0.01}),
    "rel_crossing_zero": (
        "crossing_zero",
        {"factor": 0.7, "patience": 2, "threshold": 0.02, "cooldown": 1},
    ),
    "abs_crossing_zero": (
        "crossing_zero",
        {"factor": 0.7, "patience": 2, "threshold": 0.02, "threshold_mode": "abs"},
    ),
    "max_rel": ("accuracy", {"mode": "max", "factor": 0.5, "patience": 4, "threshold": 0.001}),
    "max_abs_cooldown": (
        "accuracy",
        {
            "mode": "max",
            "factor": 0.3,
            "patience": 1,
            "threshold": 0.01,
            "threshold_mode": "abs",
            "cooldown": 3,
            "min_lr": 0.001,
        },
    ),
    "eps_stops_reduction": (
        "decreasing_plateau",
        {"factor": 0.5, "patience": 0, "min_lr": 0.2, "eps": 0.05},
    ),
}


def run_torch_schedules() -> dict[str, np.ndarray]:
    import torch

    arrays = {}
    for case, (name, kwargs, steps) in SCHEDULE_CASES.items():
        param = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
        sched = getattr(torch.optim.lr_scheduler, name)(opt, **kwargs)
        lrs, moms = [], []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            moms.append(opt.param_groups[0]["momentum"])
            opt.step()
            sched.step()
        arrays[f"{case}/lr"] = np.asarray(lrs, np.float64)
        arrays[f"{case}/momentum"] = np.asarray(moms, np.float64)
        arrays[f"{case}/config"] = np.array(
            json.dumps({"scheduler": name, "base_lr": 0.1, **kwargs})
        )
    sequences = plateau_sequences()
    for name, values in sequences.items():
        arrays[f"plateau_values/{name}"] = values.astype(np.float32)
    for case, (sequence, kwargs) in PLATEAU_CASES.items():
        param = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([param], lr=1.0)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        lrs = []
        for value in sequences[sequence].astype(np.float32):
            sched.step(float(value))
            lrs.append(opt.param_groups[0]["lr"])
        arrays[f"plateau/{case}/lr"] = np.asarray(lrs, np.float64)
        arrays[f"plateau/{case}/config"] = np.array(json.dumps({"sequence": sequence, **kwargs}))
    return arrays


def main(system: str) -> None:
    if system == "torch-schedules":
        arrays = run_torch_schedules()
        OUT.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(OUT / "torch_schedules.npz", **arrays)
        print(f"wrote {len(SCHEDULE_CASES)} schedules and {len(PLATEAU_CASES)} plateau cases")
        return
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
    if len(sys.argv) != 2 or sys.argv[1] not in ("torch", "mxnet", "torch-schedules"):
        sys.exit("usage: make_fixtures.py torch|mxnet|torch-schedules")
    main(sys.argv[1])
