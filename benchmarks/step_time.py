"""Optimizer step time, compile time and state bytes: optchain against optax (and torch.optim).

For every named optimizer that optax also has, on three parameter trees, the jitted update
(with ``optax.apply_updates``, params and state donated) is timed as the median over many
steps, optchain and optax alternating in one process. Compile time is ``lower().compile()``.
``--flat`` adds optchain on the flat-buffer layout (``optchain.flat``). ``--torch-python``
runs ``torch_reference.py`` under another interpreter for torch's fused and foreach Adam.

    python benchmarks/step_time.py                       # all trees, all optimizers
    python benchmarks/step_time.py --trees many --optimizers adam sgd --flat
    python benchmarks/step_time.py --scale 0.01 --steps 5 --json out.json   # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optchain
from optchain import contrib as oc_contrib
from optchain import flat

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (optchain factory, optax factory), same hyperparameters and conventions; ``None``
# where optax has no such optimizer (torch's and MXNet's: optchain's time and state alone)
OPTIMIZERS: dict[
    str,
    tuple[
        Callable[[], optax.GradientTransformation],
        Callable[[], optax.GradientTransformation] | None,
    ],
] = {
    "sgd": (lambda: optchain.sgd(1e-2), lambda: optax.sgd(1e-2)),
    "sgd_momentum": (
        lambda: optchain.sgd(1e-2, momentum=0.9),
        lambda: optax.sgd(1e-2, momentum=0.9),
    ),
    "nesterov": (
        lambda: optchain.sgd(1e-2, momentum=0.9, nesterov=True),
        lambda: optax.sgd(1e-2, momentum=0.9, nesterov=True),
    ),
    "adagrad": (lambda: optchain.adagrad(1e-2), lambda: optax.adagrad(1e-2)),
    "rmsprop": (lambda: optchain.rmsprop(1e-3), lambda: optax.rmsprop(1e-3)),
    "adadelta": (lambda: optchain.adadelta(1.0), lambda: optax.adadelta(1.0)),
    "adam": (lambda: optchain.adam(1e-3), lambda: optax.adam(1e-3)),
    "adamw": (lambda: optchain.adamw(1e-3), lambda: optax.adamw(1e-3)),
    "nadam": (lambda: optchain.nadam(1e-3), lambda: optax.nadam(1e-3)),
    "amsgrad": (lambda: optchain.amsgrad(1e-3), lambda: optax.amsgrad(1e-3)),
    "adamax": (lambda: optchain.adamax(1e-3), lambda: optax.adamax(1e-3)),
    "sign_sgd": (lambda: optchain.sign_sgd(1e-3), lambda: optax.sign_sgd(1e-3)),
    "signum": (lambda: optchain.signum(1e-3), lambda: optax.signum(1e-3)),
    "rprop": (lambda: optchain.rprop(1e-3), lambda: optax.rprop(1e-3)),
    "lars": (lambda: optchain.lars(1e-2), lambda: optax.lars(1e-2)),
    "lamb": (lambda: optchain.lamb(1e-3), lambda: optax.lamb(1e-3)),
    # the zoo (issue 19): optax's defaults on both sides
    "lion": (lambda: optchain.lion(1e-4), lambda: optax.lion(1e-4)),
    "adabelief": (lambda: optchain.adabelief(1e-3), lambda: optax.adabelief(1e-3)),
    "yogi": (lambda: optchain.yogi(1e-3), lambda: optax.yogi(1e-3)),
    "radam": (lambda: optchain.radam(1e-3), lambda: optax.radam(1e-3)),
    "adamaxw": (lambda: optchain.adamaxw(1e-3), lambda: optax.adamaxw(1e-3)),
    "nadamw": (lambda: optchain.nadamw(1e-3), lambda: optax.nadamw(1e-3)),
    "adan": (lambda: optchain.adan(1e-3), lambda: optax.adan(1e-3)),
    "novograd": (lambda: optchain.novograd(1e-3), lambda: optax.novograd(1e-3)),
    "fromage": (lambda: optchain.fromage(1e-2), lambda: optax.fromage(1e-2)),
    "polyak_sgd": (lambda: optchain.polyak_sgd(), lambda: optax.polyak_sgd()),
    "optimistic_gradient_descent": (
        lambda: optchain.optimistic_gradient_descent(1e-2),
        lambda: optax.optimistic_gradient_descent(1e-2),
    ),
    "optimistic_adam": (
        lambda: optchain.optimistic_adam(1e-3),
        lambda: optax.optimistic_adam(1e-3),
    ),
    "optimistic_adam_v2": (
        lambda: optchain.optimistic_adam_v2(1e-3),
        lambda: optax.optimistic_adam_v2(1e-3),
    ),
    "adafactor": (lambda: optchain.adafactor(), lambda: optax.adafactor()),
    "sm3": (lambda: optchain.sm3(1e-2), lambda: optax.sm3(1e-2)),
    "lbfgs": (lambda: optchain.lbfgs(), lambda: optax.lbfgs()),
    "lookahead": (
        lambda: optchain.lookahead(optchain.adam(1e-3), 5, 0.5),
        lambda: optax.lookahead(optax.adam(1e-3), 5, 0.5),
    ),
    # torch.optim's and MXNet's, which optax does not have
    "asgd": (lambda: optchain.asgd(1e-2), None),
    "adafactor_torch": (lambda: optchain.adafactor_torch(1e-2), None),
    "ftrl": (lambda: optchain.ftrl(1e-2), None),
    "dcasgd": (lambda: optchain.dcasgd(1e-2, momentum=0.9), None),
    "sgld": (lambda: optchain.sgld(1e-4, key=0), None),
    # optax.contrib (issue 20), against optax.contrib's same-named optimizers
    **{
        name: (
            lambda name=name, a=args: getattr(oc_contrib, name)(*a),
            lambda name=name, a=args: getattr(optax.contrib, name)(*a),
        )
        for name, args in {
            "adopt": (1e-3,),
            "acprop": (1e-4,),
            "ademamix": (1e-3,),
            "simplified_ademamix": (1e-4,),
            "madgrad": (1e-3,),
            "prodigy": (1.0,),
            "dadapt_adamw": (1.0,),
            "dog": (1.0,),
            "dowg": (1.0,),
            "cocob": (1.0,),
            "schedule_free_adamw": (1e-3,),
            "schedule_free_sgd": (1e-2,),
            "momo": (1.0,),
            "momo_adam": (1e-2,),
            "sophia": (1e-3,),
            "muon": (1e-2,),
        }.items()
    },
    "mechanize": (
        lambda: optchain.mechanize(optchain.adamw(1e-3)),
        lambda: optax.contrib.mechanize(optax.adamw(1e-3)),
    ),
    "sam": (
        lambda: optchain.sam(optchain.sgd(1e-2), optchain.adversarial_perturbation(0.05)),
        lambda: optax.contrib.sam(
            optax.sgd(1e-2), optax.chain(optax.contrib.normalize(), optax.sgd(0.05))
        ),
    ),
    "galore": (
        lambda: optchain.galore(1e-3, rank=16),
        lambda: optax.contrib.galore(1e-3, rank=16),
    ),
}

# How the step calls ``update`` where a plain ``update(grads, state, params)`` is not enough
# (both libraries alike): ``value`` passes a loss (``polyak_sgd``); ``lbfgs`` minimizes the
# diagonal quadratic ``sum(c * w**2) / 2`` (``c = 10 ** (g / 0.02)``: curvatures from about
# 1e-4 to 1e4, so the loss stays far from 0 over the run and the line search does the same
# amount of work every step) with
# ``optax.value_and_grad_from_state`` and passes ``value=``, ``grad=``, ``value_fn=`` (the zoom
# line search evaluates it); ``lookahead`` steps ``LookaheadParams(fast, slow)``.
# ``momo``, ``momo_adam`` pass a loss too; ``objective`` passes Sophia's ``obj_fn`` (the
# quadratic ``sum(w**2) / 2``, whose Hessian-vector products Hutchinson's estimate takes).
STEP_KINDS: dict[str, str] = {
    "polyak_sgd": "value",
    "lbfgs": "lbfgs",
    "lookahead": "lookahead",
    "momo": "value",
    "momo_adam": "value",
    "sophia": "objective",
}


def gpt2_small_shapes() -> dict[str, tuple[int, ...]]:
    """GPT-2 small (124M parameters): 148 leaves."""
    d, vocab, ctx, layers = 768, 50257, 1024, 12
    shapes = {"wte": (vocab, d), "wpe": (ctx, d), "ln_f/scale": (d,), "ln_f/bias": (d,)}
    for i in range(layers):
        p = f"h{i}/"
        shapes.update(
            {
                p + "ln_1/scale": (d,),
                p + "ln_1/bias": (d,),
                p + "attn/c_attn/kernel": (d, 3 * d),
                p + "attn/c_attn/bias": (3 * d,),
                p + "attn/c_proj/kernel": (d, d),
                p + "attn/c_proj/bias": (d,),
                p + "ln_2/scale": (d,),
                p + "ln_2/bias": (d,),
                p + "mlp/c_fc/kernel": (d, 4 * d),
                p + "mlp/c_fc/bias": (4 * d,),
                p + "mlp/c_proj/kernel": (4 * d, d),
                p + "mlp/c_proj/bias": (d,),
            }
        )
    return shapes


def tree_shapes(name: str, scale: float) -> dict[str, tuple[int, ...]]:
    """``large``: 16 x 1M, ``many``: 1000 x 64x64, ``gpt2``: GPT-2 small. ``scale`` < 1 shrinks
    every leaf's first dimension (and the leaf count of ``many``) for quick runs."""

    def shrink(shape):
        if scale >= 1 or not shape:
            return shape
        return (max(1, int(shape[0] * scale)), *shape[1:])

    if name == "large":
        return {f"w{i:02d}": shrink((1024, 1024)) for i in range(16)}
    if name == "many":
        return {f"w{i:04d}": (64, 64) for i in range(max(2, int(1000 * min(scale, 1.0))))}
    if name == "gpt2":
        return {k: shrink(v) for k, v in gpt2_small_shapes().items()}
    raise ValueError(f"unknown tree {name!r}")


def make_tree(shapes, seed):
    keys = jax.random.split(jax.random.PRNGKey(seed), len(shapes))
    return {
        k: 0.02 * jax.random.normal(key, s, jnp.float32)
        for key, (k, s) in zip(keys, shapes.items(), strict=True)
    }


def state_bytes(state) -> int:
    return int(
        sum(
            np.asarray(x).nbytes if not hasattr(x, "nbytes") else x.nbytes
            for x in jax.tree.leaves(state)
        )
    )


class Stepper:
    """One jitted step ``state = step(state, grads)`` with the state donated and fixed gradients."""

    def __init__(self, step, state, grads):
        self.grads = grads
        self.state = jax.tree.map(jnp.copy, state)
        start = time.perf_counter()
        self.compiled = jax.jit(step, donate_argnums=0).lower(self.state, grads).compile()
        self.compile_seconds = time.perf_counter() - start

    def run(self, steps: int) -> list[float]:
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            self.state = self.compiled(self.state, self.grads)
            jax.block_until_ready(self.state)
            times.append(time.perf_counter() - start)
        return times


def quadratic(params, curvature):
    """``sum(c * w**2) / 2`` over all leaves: the loss of the ``lbfgs`` step."""
    terms = jax.tree.map(lambda w, c: jnp.sum(0.5 * c * w * w), params, curvature)
    return sum(jax.tree.leaves(terms))


def update_step(tx, kind: str = "plain"):
    """``step((params, opt_state), grads)``: one update of ``tx`` and ``apply_updates``, calling
    ``update`` as ``STEP_KINDS`` says (for ``lbfgs``, ``grads`` is the curvature ``c``)."""

    def step(state, grads):
        params, opt_state = state
        if kind == "value":
            updates, opt_state = tx.update(grads, opt_state, params, value=jnp.float32(1.0))
        elif kind == "lbfgs":

            def loss(w):
                return quadratic(w, grads)

            value, grad = optax.value_and_grad_from_state(loss)(params, state=opt_state)
            updates, opt_state = tx.update(
                grad, opt_state, params, value=value, grad=grad, value_fn=loss
            )
        elif kind == "objective":
            objective = lambda w: quadratic(w, jax.tree.map(jnp.ones_like, w))  # noqa: E731
            updates, opt_state = tx.update(grads, opt_state, params, obj_fn=objective)
        else:
            updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return step


class Runner(Stepper):
    """One optimizer step of ``tx`` (update + ``apply_updates``) on ``params``."""

    def __init__(self, tx, params, grads, kind: str = "plain"):
        if kind == "lookahead":
            params = optax.LookaheadParams.init_synced(params)
        elif kind == "lbfgs":
            grads = jax.tree.map(lambda g: 10.0 ** (g / 0.02), grads)
        super().__init__(update_step(tx, kind), (params, tx.init(params)), grads)
        self.state_bytes = state_bytes(self.state[1])


class FlatRunner(Runner):
    """The same step on the flat layout: params, grads and state are one buffer per dtype."""

    def __init__(self, tx, params, grads, kind: str = "plain"):
        layout = flat.Layout.of(params)
        super().__init__(tx, layout.flatten(params), layout.flatten(grads), kind)


def measure(pairs: dict[str, Stepper], steps: int, rounds: int) -> dict[str, float]:
    """Median step time per runner, running them alternately in ``rounds`` blocks."""
    samples: dict[str, list[float]] = {k: [] for k in pairs}
    for r in pairs.values():
        r.run(2)  # warm-up
    block = max(1, steps // rounds)
    for _ in range(rounds):
        for k, r in pairs.items():
            samples[k].extend(r.run(block))
    return {k: statistics.median(v) for k, v in samples.items()}


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} on {jax.devices()[0].platform}, optax {optax.__version__}"


def torch_rows(python: str, trees: list[str], scale: float, steps: int) -> list[dict]:
    """torch's Adam on the same shapes, in a subprocess under ``python`` (torch need not be
    importable here)."""
    shapes = {tree: {k: list(v) for k, v in tree_shapes(tree, scale).items()} for tree in trees}
    cmd = [python, os.path.join(HERE, "torch_reference.py"), "--steps", str(steps)]
    out = subprocess.run(cmd, input=json.dumps(shapes), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", nargs="*", default=["large", "many", "gpt2"])
    parser.add_argument("--optimizers", nargs="*", default=list(OPTIMIZERS))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the trees (quick runs)")
    parser.add_argument("--flat", action="store_true", help="also time optchain on the flat layout")
    parser.add_argument("--torch-python", default=None, help="interpreter with torch installed")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    rows = []
    print(f"machine: {machine()}\n")
    print(
        "| tree | optimizer | optchain ms | optax ms | ratio | flat ms | compile optchain s | compile optax s | compile flat s | state bytes | optax state bytes |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tree in args.trees:
        shapes = tree_shapes(tree, args.scale)
        params, grads = make_tree(shapes, 0), make_tree(shapes, 1)
        for name in args.optimizers:
            ours, theirs = OPTIMIZERS[name]
            kind = STEP_KINDS.get(name, "plain")
            runners: dict[str, Runner] = {"optchain": Runner(ours(), params, grads, kind)}
            if theirs is not None:
                runners["optax"] = Runner(theirs(), params, grads, kind)
            if args.flat:
                runners["flat"] = FlatRunner(ours(), params, grads, kind)
            times = measure(runners, args.steps, args.rounds)
            row = {
                "tree": tree,
                "leaves": len(shapes),
                "parameters": int(sum(np.prod(s) for s in shapes.values())),
                "optimizer": name,
                **{f"{k}_ms": 1e3 * v for k, v in times.items()},
                **{f"{k}_compile_s": r.compile_seconds for k, r in runners.items()},
                "state_bytes": runners["optchain"].state_bytes,
            }
            if "optax" in runners:
                row["optax_state_bytes"] = runners["optax"].state_bytes
                row["ratio"] = row["optchain_ms"] / row["optax_ms"]
            rows.append(row)

            def cell(key, fmt=".2f"):
                return format(row[key], fmt) if key in row else ""

            print(
                f"| {tree} | {name} | {cell('optchain_ms')} | {cell('optax_ms')} | {cell('ratio')} "
                f"| {cell('flat_ms')} | {cell('optchain_compile_s')} | {cell('optax_compile_s')} "
                f"| {cell('flat_compile_s')} | {cell('state_bytes', ',')} "
                f"| {cell('optax_state_bytes', ',')} |",
                flush=True,
            )
            del runners
    if args.torch_python:
        print("\n| tree | torch.optim | ms |\n|---|---|---:|")
        for r in torch_rows(args.torch_python, args.trees, args.scale, args.steps):
            rows.append(r)
            print(f"| {r['tree']} | {r['optimizer']} | {r['torch_ms']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
