"""Writes ``tests/fixtures/torch_lbfgs_trajectories.npz``: torch.optim.LBFGS with
``line_search_fn="strong_wolfe"``, one L-BFGS iteration per ``step(closure)``.

Run in a virtual environment with torch (not a test dependency):

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python tools/make_fixtures_torch_lbfgs.py

Each case of ``CASES`` builds ``LBFGS(params, lr, max_iter=1, max_eval=1 + max_ls,
history_size, tolerance_grad, tolerance_change, line_search_fn="strong_wolfe")`` (``max_iter=1``
makes each ``step`` one iteration; torch's search may then evaluate ``max_eval - 1`` trial
points, and torch's default ``max_eval`` for ``max_iter=1`` would be 1, no search at all) and
runs ``STEPS`` steps on a deterministic smooth problem:

* ``rosenbrock``: the 8-dimensional Rosenbrock function of one parameter ``x``;
* ``quartic``: an ill-conditioned quartic ``sum(h/2 (v - 1)^2 + v^4/4)`` (``h`` from 0.1 to
  10) over two parameters ``w`` (2, 3) and ``b`` (4,).

The cases differ in what the search does: one trial nearly always (``rosenbrock``,
``quartic``), extrapolation from a small ``lr`` (``rosenbrock_small_lr``), searches that run
out of trials (``rosenbrock_short_search``) and zooming back from a large ``lr``
(``quartic_large_lr``). The parameters move on the first 59, 79, 50, 26 and 26 steps (then
``tolerance_grad`` stops them, or every search fails); the rest check that nothing moves.

Everything is float64 (``torch.float64`` here, ``jax.enable_x64`` in the test): in float32 the
two systems' roundoff (the order of sums, ``s = t d`` in torch against ``w_new - w_old`` here),
amplified by L-BFGS, parts the trajectories by more than 1e-5 within 6-15 steps. In float64
they agree to 8e-8 over all 200 steps. Cases whose line search meets a near-tie of the cubic's
discriminant at convergence (``lr=0.01`` on the quartic) part at that step even in float64 and
are not used.

Output, per case: ``<case>/params`` (STEPS + 1, n), the flat parameters before the first step
and after each step (the parameters' order), ``<case>/loss`` (STEPS,), the loss each step
returned (at the parameters before it), ``<case>/evals`` (STEPS,), torch's ``func_evals``
after each step, and ``<case>/config``, the JSON of the constructor arguments.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

STEPS = 200
DTYPE = np.float64
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"
CASES = {  # the search: mostly one trial / extrapolating / running out / zooming
    "rosenbrock": dict(
        problem="rosenbrock", lr=1.0, history_size=5, tolerance_grad=1e-7, max_ls=25
    ),
    "rosenbrock_small_lr": dict(
        problem="rosenbrock", lr=0.05, history_size=10, tolerance_grad=1e-7, max_ls=25
    ),
    "rosenbrock_short_search": dict(
        problem="rosenbrock", lr=0.02, history_size=10, tolerance_grad=1e-7, max_ls=2
    ),
    "quartic": dict(problem="quartic", lr=1.0, history_size=4, tolerance_grad=1e-5, max_ls=25),
    "quartic_large_lr": dict(
        problem="quartic", lr=30.0, history_size=4, tolerance_grad=1e-7, max_ls=6
    ),
}
TOLERANCE_CHANGE = 1e-9


def initial_params(problem: str) -> dict[str, np.ndarray]:
    """The starting point of ``problem``, float32, as a dict name -> array."""
    if problem == "rosenbrock":
        x = np.array([-1.2, 1.0, -0.5, 0.8, 1.3, -0.7, 0.4, 1.1], DTYPE)
        return {"x": x}
    return {
        "w": np.array([[2.0, -1.5, 0.3], [1.7, -0.4, 2.5]], DTYPE),
        "b": np.array([-2.0, 0.5, 3.0, -1.0], DTYPE),
    }


def curvatures(size: int, offset: int) -> np.ndarray:
    """``h`` of the quartic: 10 ** linspace(-2, 2) over the 10 entries, in order."""
    exponents = np.linspace(-1.0, 1.0, 10)[offset : offset + size]
    return (10.0**exponents).astype(DTYPE)


def main() -> None:
    import torch  # noqa: PLC0415 - only this script needs torch

    torch.set_num_threads(1)

    def loss_fn(problem, tensors):
        if problem == "rosenbrock":
            (x,) = tensors
            return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
        total, offset = 0.0, 0
        for v in tensors:
            h = torch.from_numpy(curvatures(v.numel(), offset)).reshape(v.shape)
            total = total + torch.sum(h / 2 * (v - 1.0) ** 2 + v**4 / 4)
            offset += v.numel()
        return total

    out: dict[str, np.ndarray] = {}
    for case, config in CASES.items():
        problem = config["problem"]
        tensors = [torch.tensor(v, requires_grad=True) for v in initial_params(problem).values()]
        opt = torch.optim.LBFGS(
            tensors,
            lr=config["lr"],
            max_iter=1,
            max_eval=1 + config["max_ls"],
            tolerance_grad=config["tolerance_grad"],
            tolerance_change=TOLERANCE_CHANGE,
            history_size=config["history_size"],
            line_search_fn="strong_wolfe",
        )

        def closure():
            opt.zero_grad()
            loss = loss_fn(problem, tensors)  # noqa: B023 - used within the iteration
            loss.backward()
            return loss

        def flat():
            return np.concatenate([t.detach().numpy().reshape(-1) for t in tensors])  # noqa: B023

        params, losses, evals = [flat()], [], []
        for _ in range(STEPS):
            losses.append(float(opt.step(closure).detach()))
            params.append(flat())
            evals.append(opt.state[tensors[0]].get("func_evals", 0))
        params_arr = np.stack(params)
        moved = np.flatnonzero(np.any(params_arr[1:] != params_arr[:-1], axis=1))
        trials = np.diff(np.asarray([1, *evals])) - 1
        print(
            f"{case}: loss {losses[0]:.3e} -> {losses[-1]:.3e}, last moving step {moved[-1]}, "
            f"line-search trials per step {np.bincount(trials).tolist()}"
        )
        out[f"{case}/params"] = params_arr
        out[f"{case}/loss"] = np.asarray(losses, DTYPE)
        out[f"{case}/evals"] = np.asarray(evals, np.int32)
        out[f"{case}/config"] = np.asarray(
            json.dumps({**config, "tolerance_change": TOLERANCE_CHANGE})
        )
    path = OUT / "torch_lbfgs_trajectories.npz"
    np.savez(path, **out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
