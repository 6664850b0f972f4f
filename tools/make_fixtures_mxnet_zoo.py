r"""Writes the Apache MXNet 1.9.1 references of optchain's ``ftrl``, ``dcasgd`` and ``sgld``.

Run it in MXNet's virtual environment (MXNet is not a test dependency):

    python -m venv /tmp/mxenv && /tmp/mxenv/bin/pip install mxnet==1.9.1 "numpy<1.24"
    /tmp/mxenv/bin/python tools/make_fixtures_mxnet_zoo.py

The trajectories use tools/make_fixtures.py's problem (its ``initial_params``, ``gradient``
and ``flat``, rows in ``SHAPES`` order: two float32 parameters of a perturbed ill-conditioned quartic) for
``STEPS`` = 200 steps; per case the file holds ``<case>/params`` of shape (201, 17), the
parameters before each step and after the last, ``<case>/grads`` of shape (200, 17), the
gradients MXNet was given, and ``<case>/config``, the JSON of MXNet's constructor arguments.

MXNet 1.9.1's ``DCASGD.update`` cannot run with ``momentum > 0`` (it takes the truth value
of its momentum NDArray: a ``ValueError`` for more than one element, an ``AssertionError``
when its one element is 0). The ``dcasgd_momentum*`` cases therefore run :class:`_DcasgdMomentum`,
MXNet's ``DCASGD`` with only that test changed to ``mom is not None`` (the evident intent,
computed with MXNet's own NDArray operations); their config says ``"patched": true``.

SGLD's noise comes from MXNet's random stream, which optchain cannot reproduce. Instead the
file holds MXNet's empirical noise moments: ``sgld/<case>/noise_mean`` and ``noise_var``
(one value per step) of :math:`r = w_{t+1} - w_t + \tfrac{\alpha}{2}(g_t + \lambda w_t)`
over ``SGLD_SIZE`` weights, which for MXNet's convention are :math:`N(0, \alpha)` draws.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402

STEPS = 200
SGLD_STEPS = 4
SGLD_SIZE = 200_000
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"
FILE = OUT / "mxnet_zoo_trajectories.npz"

CASES = {
    "ftrl": ("Ftrl", {"learning_rate": 0.1}),
    "ftrl_custom": ("Ftrl", {"learning_rate": 0.05, "lamda1": 0.05, "beta": 0.5, "wd": 0.01}),
    "ftrl_clip": ("Ftrl", {"learning_rate": 0.2, "lamda1": 0.0, "beta": 2.0, "clip_gradient": 1.0}),
    "dcasgd": ("DCASGD", {"learning_rate": 0.05}),
    "dcasgd_wd": (
        "DCASGD",
        {"learning_rate": 0.05, "lamda": 0.1, "wd": 0.01, "clip_gradient": 2.0},
    ),
    "dcasgd_momentum": ("DCASGD", {"learning_rate": 0.02, "momentum": 0.9, "patched": True}),
    "dcasgd_momentum_wd": (
        "DCASGD",
        {"learning_rate": 0.02, "momentum": 0.5, "lamda": 0.2, "wd": 0.05, "patched": True},
    ),
}
SGLD_CASES = {
    "default": {"learning_rate": 0.01},
    "wd": {"learning_rate": 0.04, "wd": 0.1},
}


def _dcasgd_momentum_class():
    import mxnet as mx

    class _DcasgdMomentum(mx.optimizer.DCASGD):
        """MXNet's DCASGD whose momentum branch runs (``mom is not None``)."""

        def update(self, index, weight, grad, state):
            self._update_count(index)
            lr, wd = self._get_lr(index), self._get_wd(index)
            g = grad * self.rescale_grad
            if self.clip_gradient is not None:
                g = mx.nd.clip(g, -self.clip_gradient, self.clip_gradient)
            mom, previous = state
            step = -lr * (g + wd * weight + self.lamda * g * g * (weight - previous))
            if mom is None:
                mom = step
            else:
                mom[:] = self.momentum * mom + step
            previous[:] = weight
            weight[:] += mom

    return _DcasgdMomentum


def run_mxnet(name: str, kwargs: dict) -> tuple[np.ndarray, np.ndarray]:
    args = {k: v for k, v in kwargs.items() if k != "patched"}
    optimizer = _dcasgd_momentum_class()(**args) if kwargs.get("patched") else None
    return make_fixtures.run_mxnet(name, args, STEPS, optimizer)


def sgld_moments(kwargs: dict) -> tuple[np.ndarray, np.ndarray]:
    """MXNet SGLD's noise: mean and variance of the residual after the drift, per step."""
    import mxnet as mx

    mx.random.seed(0)
    lr, wd = kwargs["learning_rate"], kwargs.get("wd", 0.0)
    updater = mx.optimizer.get_updater(mx.optimizer.create("sgld", **kwargs))
    rng = np.random.default_rng(7)
    w = mx.nd.array(rng.normal(size=SGLD_SIZE).astype(np.float32), dtype="float32")
    means, variances = [], []
    for _ in range(SGLD_STEPS):
        before = w.asnumpy().astype(np.float64)
        g = (0.5 * before + 0.1).astype(np.float32)
        updater(0, mx.nd.array(g, dtype="float32"), w)
        residual = w.asnumpy().astype(np.float64) - before + lr / 2 * (g + wd * before)
        means.append(residual.mean())
        variances.append(residual.var())
    return np.asarray(means), np.asarray(variances)


def main() -> None:
    arrays = {}
    for case, (name, kwargs) in CASES.items():
        traj, grads = run_mxnet(name, kwargs)
        assert np.all(np.isfinite(traj)), case
        arrays[f"{case}/params"] = traj.astype(np.float32)
        arrays[f"{case}/grads"] = grads.astype(np.float32)
        arrays[f"{case}/config"] = np.array(json.dumps({"optimizer": name, **kwargs}))
    for case, kwargs in SGLD_CASES.items():
        mean, var = sgld_moments(kwargs)
        arrays[f"sgld/{case}/noise_mean"] = mean
        arrays[f"sgld/{case}/noise_var"] = var
        arrays[f"sgld/{case}/config"] = np.array(
            json.dumps({"optimizer": "SGLD", "size": SGLD_SIZE, **kwargs})
        )
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FILE, **arrays)
    print(f"wrote {len(CASES)} trajectories and {len(SGLD_CASES)} SGLD cases to {FILE}")
    for case in SGLD_CASES:
        print(case, arrays[f"sgld/{case}/noise_mean"], arrays[f"sgld/{case}/noise_var"])


if __name__ == "__main__":
    main()
