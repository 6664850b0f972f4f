"""Steps to a target loss for the optax.contrib optimizers: optchain against optax.

Two workloads built from data that ships with scikit-learn (no download):

* ``cnn``: the ``optchain compare`` CNN on the 8x8 digits (softmax cross-entropy, batch 128);
* ``mlp``: a two-hidden-layer MLP regression on scikit-learn's diabetes data (442 patients,
  10 features, standardized disease progression target; mean squared error, batch 32).

Every method runs ``optchain.contrib.<name>`` at three learning rates around its conventional
default (learning-rate-free methods: 0.5, 1 and 2 times their default 1.0); the best rate is
the one that reaches the target in the fewest steps (then the lowest final loss), and
``optax.contrib.<name>`` is rerun at that rate for the parity and speed columns. AdamW and
SGD (momentum 0.9) are the baselines. The target loss of a workload is what AdamW's best
rate reaches (10-step running mean) at half the step budget, rounded up to 2 digits.

Each step is one jitted call (a Python loop, as in ``optchain compare``: XLA's CPU
convolutions are much slower inside ``lax.scan``), compiled ahead of the timed steps. The
table's ms/step are medians over 5 alternating 10-step blocks of optchain and optax at the
best rate, run after both trajectories so both see the same machine load (the JSON also has
each run's median over 25-step blocks of its trajectory). Schedule-free methods record the
batch loss at ``schedule_free_eval_params`` (one more forward pass per step); SAM (opaque mode)
counts optimizer steps, each of two gradients. A method that raises or diverges is reported
in the table, not fatal.

Writes ``steps_to_target.png`` (loss curves of every method at its best rate, one panel per
workload), ``steps_to_target.md`` (the printed tables) and ``steps_to_target.json`` (every run,
and the best run's loss curve) into ``--out``.

    python benchmarks/steps_to_target.py --out results/        # the full run (~5-7 min, 2 cores)
    python benchmarks/steps_to_target.py --out /tmp/s --methods dog,prodigy --workloads cnn
    python benchmarks/steps_to_target.py --out /tmp/s --quick --methods adamw,dog
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optchain
from optchain import compare as cmp

ADAM_LRS = (1e-3, 3e-3, 1e-2)
FREE_LRS = (0.5, 1.0, 2.0)
SMOOTH = 10  # running-mean window of steps to target (as optchain compare)
BLOCK = 25  # steps per timing block


@dataclasses.dataclass(frozen=True)
class Method:
    make: Callable[[Any, float], Any]  # (library module, learning rate) -> transformation
    lrs: tuple[float, ...]
    default_lr: float
    lr_free: bool = False
    extra: frozenset[str] = frozenset()  # "value", "obj_fn", "grad_fn", "eval_params"


def _matrix_dims(lib, name: str):
    """Dimension numbers for Muon/GaLore: conv kernels (H, W, in, out) and matrices."""
    dims = getattr(lib.contrib, name)

    def of(params):
        def one(p):
            if p.ndim == 4:
                return dims(reduction_axis=(0, 1, 2), output_axis=3)
            return dims(reduction_axis=0, output_axis=1) if p.ndim == 2 else None

        return jax.tree.map(one, params)

    return of


METHODS: dict[str, Method] = {
    "adamw": Method(lambda lib, lr: lib.adamw(lr, weight_decay=1e-4), ADAM_LRS, 3e-3),
    "sgd": Method(lambda lib, lr: lib.sgd(lr, momentum=0.9), (0.01, 0.03, 0.1), 0.03),
    # the gradient (not its mean) over the previous step's belief: Adam's rates blow up
    "acprop": Method(lambda lib, lr: lib.contrib.acprop(lr), (1e-4, 3e-4, 1e-3), 3e-4),
    "ademamix": Method(lambda lib, lr: lib.contrib.ademamix(lr), ADAM_LRS, 3e-3),
    # m = b1 m + g without (1 - b1): the update is ~1 / (1 - b1) = 100 times Adam's
    "simplified_ademamix": Method(
        lambda lib, lr: lib.contrib.simplified_ademamix(lr), (3e-5, 1e-4, 3e-4), 1e-4
    ),
    "adopt": Method(lambda lib, lr: lib.contrib.adopt(lr), ADAM_LRS, 3e-3),
    "cocob": Method(lambda lib, lr: lib.contrib.cocob(lr), FREE_LRS, 1.0, True),
    "dadapt_adamw": Method(lambda lib, lr: lib.contrib.dadapt_adamw(lr), FREE_LRS, 1.0, True),
    "dog": Method(lambda lib, lr: lib.contrib.dog(lr), FREE_LRS, 1.0, True),
    "dowg": Method(lambda lib, lr: lib.contrib.dowg(lr), FREE_LRS, 1.0, True),
    "madgrad": Method(lambda lib, lr: lib.contrib.madgrad(lr), ADAM_LRS, 3e-3),
    "prodigy": Method(lambda lib, lr: lib.contrib.prodigy(lr), FREE_LRS, 1.0, True),
    "momo": Method(lambda lib, lr: lib.contrib.momo(lr), FREE_LRS, 1.0, True, frozenset({"value"})),
    "momo_adam": Method(
        lambda lib, lr: lib.contrib.momo_adam(lr),
        (3e-3, 1e-2, 3e-2),
        1e-2,
        True,
        frozenset({"value"}),
    ),
    "schedule_free_adamw": Method(
        lambda lib, lr: lib.contrib.schedule_free_adamw(lr),
        (1e-3, 2.5e-3, 1e-2),
        2.5e-3,
        extra=frozenset({"eval_params"}),
    ),
    "schedule_free_sgd": Method(
        lambda lib, lr: lib.contrib.schedule_free_sgd(lr),
        (0.1, 0.3, 1.0),
        1.0,
        extra=frozenset({"eval_params"}),
    ),
    "sophia": Method(
        lambda lib, lr: lib.contrib.sophia(lr),
        (3e-4, 1e-3, 3e-3),
        1e-3,
        extra=frozenset({"obj_fn"}),
    ),
    # SAM around AdamW: one adversarial step of normalized SGD (rho 0.05), the opaque mode
    # (every optimizer step costs two gradients)
    "sam": Method(
        lambda lib, lr: lib.contrib.sam(
            lib.adamw(lr, weight_decay=1e-4),
            lib.chain(lib.contrib.normalize(), lib.sgd(0.05)),
            sync_period=2,
            opaque_mode=True,
        ),
        ADAM_LRS,
        3e-3,
        extra=frozenset({"grad_fn"}),
    ),
    # Muon on the conv kernels and matrices, Adam (rate 3e-3) on the biases
    "muon": Method(
        lambda lib, lr: lib.contrib.muon(
            lr,
            adam_learning_rate=3e-3,
            muon_weight_dimension_numbers=_matrix_dims(lib, "MuonDimensionNumbers"),
        ),
        (0.01, 0.02, 0.05),
        0.02,
    ),
    # GaLore (rank 8, new projection every 50 steps) on the conv kernels and matrices
    "galore": Method(
        lambda lib, lr: lib.contrib.galore(
            lr,
            rank=8,
            update_proj_gap=50,
            weight_dimension_numbers=_matrix_dims(lib, "GaLoreDimensionNumbers"),
        ),
        ADAM_LRS,
        3e-3,
    ),
    # Mechanic learns the scale of AdamW's updates: the base rate is a constant
    "mechanize": Method(
        lambda lib, lr: lib.contrib.mechanize(lib.adamw(lr, weight_decay=1e-4)),
        FREE_LRS,
        1.0,
        True,
    ),
}
BASELINES = ("adamw", "sgd")


@dataclasses.dataclass
class Workload:
    name: str
    title: str
    params: Any
    loss_fn: Callable[[Any, jax.Array, jax.Array], jax.Array]
    x: jax.Array
    y: jax.Array
    batch_size: int
    steps: int
    full_loss: Callable[[Any], jax.Array] = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        loss_fn, x, y = self.loss_fn, self.x, self.y
        self.full_loss = jax.jit(lambda params: loss_fn(params, x, y))


def cnn_workload(steps: int, seed: int = 0, batch_size: int = 128) -> Workload:
    from flax import nnx

    (x_train, y_train), _ = cmp.load_digits_split(seed)
    graphdef, state = nnx.split(cmp.make_model(seed))

    def loss_fn(params, x, y):
        logits = nnx.merge(graphdef, params)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return Workload(
        "cnn",
        f"digits CNN (cross-entropy, batch {batch_size})",
        nnx.to_pure_dict(state),
        loss_fn,
        jnp.asarray(x_train),
        jnp.asarray(y_train),
        batch_size,
        steps,
    )


def load_diabetes_split(seed: int = 0):
    """scikit-learn's diabetes regression, standardized, split 80/20 with a fixed permutation."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order].astype(np.float32), y[order].astype(np.float32)
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def mlp_workload(steps: int, seed: int = 0, batch_size: int = 32) -> Workload:
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.hidden1 = nnx.Linear(10, 64, rngs=rngs)
            self.hidden2 = nnx.Linear(64, 64, rngs=rngs)
            self.head = nnx.Linear(64, 1, rngs=rngs)

        def __call__(self, x):
            x = nnx.relu(self.hidden1(x))
            x = nnx.relu(self.hidden2(x))
            return self.head(x)[:, 0]

    (x_train, y_train), _ = load_diabetes_split(seed)
    graphdef, state = nnx.split(MLP(nnx.Rngs(seed)))

    def loss_fn(params, x, y):
        return jnp.mean(jnp.square(nnx.merge(graphdef, params)(x) - y))

    return Workload(
        "mlp",
        f"diabetes MLP regression (mean squared error, batch {batch_size})",
        nnx.to_pure_dict(state),
        loss_fn,
        jnp.asarray(x_train),
        jnp.asarray(y_train),
        batch_size,
        steps,
    )


WORKLOADS = {"cnn": cnn_workload, "mlp": mlp_workload}


@dataclasses.dataclass
class Run:
    method: str
    library: str  # "optchain" or "optax"
    lr: float
    losses: np.ndarray  # batch loss at every step
    final_loss: float  # whole training set, at the evaluation parameters
    seconds_per_step: float
    compile_seconds: float
    error: str | None = None
    steps_to_target: int | None = None
    # runs ``n`` more steps from where the trajectory ended; returns seconds per step
    resume: Callable[[int], float] | None = dataclasses.field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        finite = math.isfinite(self.final_loss) and bool(np.all(np.isfinite(self.losses)))
        return self.error is None and finite

    def status(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        if not math.isfinite(self.final_loss) or not np.all(np.isfinite(self.losses)):
            bad = np.flatnonzero(~np.isfinite(self.losses))
            return f"diverged (step {int(bad[0]) + 1})" if bad.size else "diverged"
        return "ok"


def smoothed(losses: np.ndarray) -> np.ndarray:
    window = min(SMOOTH, len(losses))
    if window == 0:
        return losses
    return np.convolve(losses, np.ones(window) / window, mode="valid")


def steps_to(losses: np.ndarray, target: float) -> int | None:
    """First step at which the running mean of the batch loss is below ``target``."""
    if not math.isfinite(target) or len(losses) == 0:
        return None
    hit = np.flatnonzero(smoothed(losses) < target)
    return int(hit[0]) + min(SMOOTH, len(losses)) if hit.size else None


def train(work: Workload, name: str, lib, lr: float, seed: int = 0) -> Run:
    """``work.steps`` jitted steps of method ``name`` from library ``lib`` at rate ``lr``."""
    method = METHODS[name]
    library = "optchain" if lib is optchain else "optax"
    loss_fn = work.loss_fn
    try:
        tx = method.make(lib, lr)
        params = jax.tree.map(jnp.array, work.params)
        state = tx.init(params)

        def step(params, state, xs, ys, index):
            x, y = xs[index], ys[index]
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            recorded = loss
            if "eval_params" in method.extra:
                recorded = loss_fn(lib.contrib.schedule_free_eval_params(state, params), x, y)
            extra = {}
            if "value" in method.extra:
                extra["value"] = loss
            if "obj_fn" in method.extra:
                extra["obj_fn"] = lambda p: loss_fn(p, x, y)
            if "grad_fn" in method.extra:
                extra["grad_fn"] = lambda p, _: jax.grad(loss_fn)(p, x, y)
            updates, state = tx.update(grads, state, params, **extra)
            return lib.apply_updates(params, updates), state, recorded

        rng = np.random.default_rng(seed + 1)
        index = jnp.asarray(rng.integers(0, len(work.x), size=(work.steps, work.batch_size)))
        start = time.perf_counter()
        compiled = jax.jit(step).lower(params, state, work.x, work.y, index[0]).compile()
        compile_seconds = time.perf_counter() - start
        losses, blocks = [], []
        start = block_start = time.perf_counter()
        for t in range(work.steps):
            params, state, loss = compiled(params, state, work.x, work.y, index[t])
            losses.append(loss)
            if (t + 1) % BLOCK == 0:
                loss.block_until_ready()
                now = time.perf_counter()
                blocks.append((now - block_start) / BLOCK)
                block_start = now
        losses = np.asarray(jnp.stack(losses)) if losses else np.zeros(0, np.float32)
        total = time.perf_counter() - start
        per_step = float(np.median(blocks)) if blocks else total / max(work.steps, 1)
        evaluated = params
        if "eval_params" in method.extra:
            evaluated = lib.contrib.schedule_free_eval_params(state, params)
        final = float(work.full_loss(evaluated))
        carry = [params, state]

        def resume(n: int) -> float:
            begin = time.perf_counter()
            loss = None
            for t in range(n):
                p, s, loss = compiled(carry[0], carry[1], work.x, work.y, index[t % work.steps])
                carry[:] = [p, s]
            if loss is not None:
                loss.block_until_ready()
            return (time.perf_counter() - begin) / max(n, 1)

        return Run(name, library, lr, losses, final, per_step, compile_seconds, resume=resume)
    except Exception as e:  # noqa: BLE001  (a failing method is reported, not fatal)
        message = f"{type(e).__name__}: {e}".splitlines()[0][:120]
        return Run(
            name, library, lr, np.zeros(0, np.float32), math.nan, math.nan, math.nan, message
        )


def best(runs: list[Run]) -> Run:
    """Fewest steps to the target, then the lowest final loss; a failed run only if all fail."""

    def key(r: Run):
        steps = r.steps_to_target if r.steps_to_target is not None else math.inf
        return (not r.ok, steps, r.final_loss if r.ok else math.inf)

    return min(runs, key=key)


def target_from(adamw: list[Run], steps: int) -> float:
    """What AdamW's best rate (lowest final loss) reaches at half the budget, 2 digits up."""
    good = [r for r in adamw if r.ok and len(r.losses)]
    if not good:
        return math.nan
    run = min(good, key=lambda r: r.final_loss)
    curve = smoothed(run.losses)
    value = float(curve[min(max(steps // 2 - min(SMOOTH, steps), 0), len(curve) - 1)])
    if value <= 0 or not math.isfinite(value):
        return value
    scale = 10.0 ** (math.floor(math.log10(value)) - 1)
    return math.ceil(value / scale) * scale


def curve_difference(a: Run, b: Run) -> float:
    """Largest relative difference between two loss curves (0 when identical)."""
    if not (a.ok and b.ok) or len(a.losses) != len(b.losses):
        return math.nan
    scale = np.maximum(np.abs(b.losses), 1e-12)
    return float(np.max(np.abs(a.losses - b.losses) / scale)) if len(a.losses) else 0.0


@dataclasses.dataclass
class Row:
    method: str
    sweep: list[Run]  # optchain at every rate
    chosen: Run  # optchain's best rate
    optax: Run | None  # optax at that rate
    # seconds per step of optchain and optax at the best rate, timed in alternating blocks,
    # and the median of the per-round ratios (NaN where a run failed)
    timing: tuple[float, float, float] = (math.nan, math.nan, math.nan)


def bench_workload(
    work: Workload, names, only_default, seed, target, log, rounds: int = 5, block: int = 10
):
    sweeps: dict[str, list[Run]] = {}
    for name in names:
        method = METHODS[name]
        lrs = [method.default_lr] if only_default else list(method.lrs)
        sweeps[name] = []
        for lr in lrs:
            run = train(work, name, optchain, lr, seed)
            sweeps[name].append(run)
            log(f"{work.name:>3} {name:<20} lr={lr:<8g} optchain {_loss(run)}")
    if target is None:
        target = target_from(sweeps["adamw"], work.steps)
    rows = []
    for name in names:
        for run in sweeps[name]:
            run.steps_to_target = steps_to(run.losses, target)
        chosen = best(sweeps[name])
        lrs = [chosen.lr] if chosen.ok else [r.lr for r in sweeps[name]]
        reference = [train(work, name, optax, lr, seed) for lr in lrs]
        for run in reference:
            run.steps_to_target = steps_to(run.losses, target)
            log(f"{work.name:>3} {name:<20} lr={run.lr:<8g} optax    {_loss(run)}")
        row = Row(name, sweeps[name], chosen, best(reference))
        row.timing = interleaved(row.chosen, row.optax, rounds, block)
        for run in sweeps[name] + reference:
            run.resume = None  # frees the compiled step and its state
        rows.append(row)
    return rows, target


def interleaved(a: Run, b: Run | None, rounds: int, block: int) -> tuple[float, float, float]:
    """More steps of ``a`` and ``b`` in alternating blocks: both see the same machine load."""
    if b is None or not (a.ok and b.ok) or a.resume is None or b.resume is None:
        return (a.seconds_per_step, math.nan, math.nan)
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(a.resume(block))
        tb.append(b.resume(block))
    ratio = float(np.median(np.asarray(ta) / np.asarray(tb)))
    return float(np.median(ta)), float(np.median(tb)), ratio


def _loss(run: Run) -> str:
    if not run.ok:
        return run.status()
    return f"final loss {run.final_loss:.4g}, {1e3 * run.seconds_per_step:.2f} ms/step"


def _fmt(value: float, spec: str = ".4g") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def _steps(run: Run) -> str:
    return "-" if run.steps_to_target is None else str(run.steps_to_target)


def _final(run: Run) -> str:
    return _fmt(run.final_loss) if run.ok else run.status()


def _optax_own(name: str) -> bool:
    ours = getattr(optchain.contrib, name, None)
    return ours is not None and ours is getattr(optax.contrib, name, None)


def format_rows(work: Workload, rows: list[Row], target: float) -> str:
    lines = [
        f"**{work.title}**, {work.steps} steps, target loss {_fmt(target)} "
        "(10-step running mean of the batch loss)",
        "",
        "| method | best lr | steps to target | final loss | ms/step "
        "| optax steps | optax final loss | optax ms/step | ms/step ratio | curve rel. diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        c, o = row.chosen, row.optax
        c_time, o_time, ratio = row.timing
        name = row.method + (" (baseline)" if row.method in BASELINES else "")
        if _optax_own(row.method):
            name += " (optax's own)"  # optchain.contrib still re-exports optax's function
        lines.append(
            f"| {name} | {c.lr:g} | {_steps(c)} | {_final(c)} | {_fmt(1e3 * c_time, '.2f')} "
            f"| {_steps(o) if o else '-'} | {_final(o) if o else '-'} "
            f"| {_fmt(1e3 * o_time, '.2f')} | {_fmt(ratio, '.2f')} "
            f"| {_fmt(curve_difference(c, o), '.1e') if o else '-'} |"
        )
    return "\n".join(lines)


def format_lr_free(work: Workload, rows: list[Row], target: float) -> str:
    by_name = {row.method: row for row in rows}
    adamw = [r.steps_to_target for r in by_name["adamw"].sweep if r.steps_to_target is not None]
    adamw_best = min(adamw) if adamw else None
    lines = [
        f"**{work.name}: learning-rate-free methods at their default rate** (AdamW's best: "
        f"{adamw_best if adamw_best is not None else 'target not reached'} steps; "
        f"pass = within 1.5x)",
        "",
        "| method | default lr | steps to target | x AdamW's best | within 1.5x | final loss |",
        "|---|---:|---:|---:|:---:|---:|",
    ]
    if not any(METHODS[row.method].lr_free for row in rows):
        return lines[0] + ": none selected"
    for row in rows:
        method = METHODS[row.method]
        if not method.lr_free:
            continue
        runs = [r for r in row.sweep if r.lr == method.default_lr]
        if not runs:
            continue
        run = runs[0]
        factor = (
            run.steps_to_target / adamw_best
            if run.steps_to_target is not None and adamw_best
            else math.nan
        )
        passed = "yes" if math.isfinite(factor) and factor <= 1.5 else "no"
        lines.append(
            f"| {row.method} | {method.default_lr:g} | {_steps(run)} | {_fmt(factor, '.2f')} "
            f"| {passed} | {_final(run)} |"
        )
    return "\n".join(lines)


def plot(results: list[tuple[Workload, list[Row], float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(7.5 * len(results), 8), squeeze=False)
    colors = plt.get_cmap("tab20")
    order = list(METHODS)
    for ax, (work, rows, target) in zip(axes[0], results, strict=True):
        start = math.inf
        for row in rows:
            run = row.chosen
            if not len(run.losses):
                continue
            curve = smoothed(np.where(np.isfinite(run.losses), run.losses, np.nan))
            steps = np.arange(len(curve)) + (len(run.losses) - len(curve)) + 1
            k = order.index(row.method)
            baseline = row.method in BASELINES
            color = {"adamw": "black", "sgd": "dimgray"}.get(row.method, colors(k % 20))
            ls = "-" if baseline else ("--" if k % 2 else ":")
            label = f"{row.method} (lr {run.lr:g})"
            ax.plot(steps, curve, ls=ls, lw=2.2 if baseline else 1.4, color=color, label=label)
            if baseline and len(curve) and math.isfinite(curve[0]):
                start = min(start, float(curve[0]))
        if math.isfinite(target):
            ax.axhline(target, color="gray", lw=0.8, ls="-.", label=f"target {target:g}")
        ax.set_yscale("log")
        if math.isfinite(start):  # a method that blows up does not squash the others
            ax.set_ylim(top=3 * start)
        ax.set_xlabel("step")
        ax.set_ylabel("batch loss (10-step running mean)")
        ax.set_title(f"{work.title}\neach method at its best learning rate", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.09))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _parse_targets(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in WORKLOADS or not value:
            raise SystemExit(f"--target wants WORKLOAD=LOSS with WORKLOAD in {sorted(WORKLOADS)}")
        out[name] = float(value)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the PNG, markdown and JSON")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated names")
    parser.add_argument("--workloads", default="cnn,mlp")
    parser.add_argument("--steps", type=int, default=None, help="step budget (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", action="append", default=[], help="WORKLOAD=LOSS")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 20 steps, the default rate only"
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    names = [n for n in args.methods.split(",") if n]
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; known: {', '.join(METHODS)}")
    if "adamw" not in names:
        names.insert(0, "adamw")  # the target and the 1.5x rule are AdamW's
    workloads = [w for w in args.workloads.split(",") if w]
    if set(workloads) - set(WORKLOADS):
        parser.error(f"--workloads: choose from {sorted(WORKLOADS)}")
    targets = _parse_targets(args.target)
    steps = args.steps or (20 if args.quick else 300)
    timing = (2, 5) if args.quick else (5, 10)  # rounds and steps of the alternating timing

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    results, sections, summary = [], [], {}
    for wname in workloads:
        work = WORKLOADS[wname](steps, args.seed)
        rows, target = bench_workload(
            work, names, args.quick, args.seed, targets.get(wname), log, *timing
        )
        results.append((work, rows, target))
        sections += [format_rows(work, rows, target), format_lr_free(work, rows, target)]
        summary[wname] = {
            "target": target,
            "steps": steps,
            "rows": [
                {
                    "method": row.method,
                    "runs": [_as_dict(r) for r in row.sweep + ([row.optax] if row.optax else [])],
                    "best_lr": row.chosen.lr,
                    "best_losses": [_number(float(v)) for v in row.chosen.losses],
                    "seconds_per_step_alternating": {
                        "optchain": _number(row.timing[0]),
                        "optax": _number(row.timing[1]),
                        "ratio": _number(row.timing[2]),
                    },
                }
                for row in rows
            ],
        }
    elapsed = time.perf_counter() - start
    sections.append(f"({len(workloads)} workloads, {len(names)} methods, {elapsed:.0f} s in all)")
    text = "\n\n".join(sections)
    print(text)
    png = os.path.join(args.out, "steps_to_target.png")
    plot(results, png)
    with open(os.path.join(args.out, "steps_to_target.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "steps_to_target.json"), "w") as f:
        json.dump({"workloads": summary, "seconds": elapsed}, f, indent=1)
    log(f"wrote {png}")
    return {"results": results, "summary": summary, "text": text, "seconds": elapsed}


def _number(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _as_dict(run: Run) -> dict[str, Any]:
    number = _number
    return {
        "library": run.library,
        "lr": run.lr,
        "steps_to_target": run.steps_to_target,
        "final_loss": number(run.final_loss),
        "seconds_per_step": number(run.seconds_per_step),
        "compile_seconds": number(run.compile_seconds),
        "status": run.status(),
    }


if __name__ == "__main__":
    main()
