"""Optimizers racing on 2-D surfaces: Rosenbrock, Beale, the saddle x^2 - y^2 and the monkey
saddle x^3 - 3xy^2. Used by ``optchain race`` and the notebooks (needs the ``examples`` extra for
plotting)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optchain
from optchain import compare


@dataclasses.dataclass(frozen=True)
class Surface:
    """A 2-D test function with a start point, a plotting box and a base learning rate."""

    name: str
    fn: Callable[[jax.Array], jax.Array]
    start: tuple[float, float]
    box: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    learning_rate: float
    minimum: tuple[float, float] | None
    log_levels: bool
    bound: float = 1e3  # a run whose |x| or |y| exceeds this has escaped and stops there


def _rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def _beale(p):
    x, y = p[0], p[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _saddle(p):
    return p[0] ** 2 - p[1] ** 2


def _monkey_saddle(p):
    return p[0] ** 3 - 3 * p[0] * p[1] ** 2


SURFACES = {
    "rosenbrock": Surface(
        "rosenbrock", _rosenbrock, (-1.2, 1.0), (-2.0, 2.0, -1.0, 3.0), 2e-3, (1.0, 1.0), True
    ),
    "beale": Surface("beale", _beale, (1.0, 1.4), (-0.5, 4.0, -1.0, 2.0), 5e-3, (3.0, 0.5), True),
    # started on the stable manifold y = 0: plain gradient descent walks into the saddle point
    "saddle": Surface(
        "saddle", _saddle, (1.0, 0.0), (-1.2, 1.2, -1.2, 1.2), 1e-2, None, False, 2.0
    ),
    # a higher-order saddle: the gradient vanishes quadratically, so descent stalls near it
    "monkey_saddle": Surface(
        "monkey_saddle", _monkey_saddle, (0.8, 0.0), (-1.0, 1.0, -1.0, 1.0), 2e-2, None, False, 1.5
    ),
}

# Learning rate of each optimizer as a multiple of the surface's base rate (adaptive methods
# take steps of about the learning rate, so they get a larger multiple). Every optimizer of
# ``optchain compare`` races (the same constructors, ``compare.OPTIMIZERS``).
RELATIVE_RATE = {
    "sgd": 1.0,
    "momentum": 1.0,
    "nesterov": 1.0,
    "adagrad": 150.0,
    "rmsprop": 5.0,
    "adadelta": 1000.0,
    "adam": 30.0,
    "adamw": 30.0,
    "amsgrad": 30.0,
    "nadam": 30.0,
    "adamax": 30.0,
    "ftml": 10.0,
    "sign_sgd": 2.0,
    "signum": 2.0,
    "delta_bar_delta": 0.5,
    "noisy_sgd": 1.0,
    "rprop": 5.0,
    "lars": 1.0,
    "lamb": 30.0,
    "lion": 2.0,
    "adabelief": 30.0,
    "yogi": 30.0,
    "radam": 1.0,  # its first steps are plain momentum steps
    "adamaxw": 30.0,
    "nadamw": 30.0,
    "adan": 30.0,
    "novograd": 30.0,
    "fromage": 10.0,
    "polyak_sgd": 100.0,
    "optimistic_gradient_descent": 0.5,
    "optimistic_adam": 30.0,
    "optimistic_adam_v2": 30.0,
    "adafactor": 30.0,
    "sm3": 150.0,
    "lbfgs": 100.0,
    "lookahead": 30.0,
    "asgd": 1.0,
    "adafactor_torch": 30.0,
    "ftrl": 100.0,
    "dcasgd": 0.5,  # its compensation lamda g^2 (w - w_prev) grows with the gradient
    "sgld": 0.1,  # its noise has variance lr: a small rate keeps it on the surface
    # optax.contrib; the learning-rate-free methods race at their own rate (see _RACE_MAKERS)
    "adopt": 30.0,
    "acprop": 0.3,  # its first step divides by a belief of eps: large
    "ademamix": 30.0,
    "simplified_ademamix": 1.0,  # no (1 - b1) factor: steps of about lr / (1 - b1)
    "madgrad": 30.0,
    "prodigy": 1.0,
    "dadapt_adamw": 1.0,
    "mechanize": 30.0,
    "dog": 1.0,
    "dowg": 1.0,
    "cocob": 1.0,
    "schedule_free_adamw": 30.0,
    "schedule_free_sgd": 1.0,
    "sam": 30.0,
    "sophia": 30.0,
    "momo": 100.0,
    "momo_adam": 30.0,
    "muon": 30.0,
    "galore": 30.0,
}

DEFAULT_RACERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "noisy_sgd")

# where the race uses other settings than the digits CNN of ``optchain compare``
_RACE_MAKERS: dict[str, Callable[[float, int], optax.GradientTransformation]] = {
    "delta_bar_delta": lambda lr, seed: optchain.delta_bar_delta(lr),
    "lars": lambda lr, seed: optchain.lars(lr),
    "lamb": lambda lr, seed: optchain.lamb(lr),
    # learning-rate-free: their defaults (the estimate of the distance sets the step)
    "prodigy": lambda lr, seed: optchain.prodigy(),
    "dadapt_adamw": lambda lr, seed: optchain.dadapt_adamw(),
    "dog": lambda lr, seed: optchain.dog(),
    "dowg": lambda lr, seed: optchain.dowg(),
    "cocob": lambda lr, seed: optchain.cocob(),
}


def racer(name: str, learning_rate: float, seed: int = 0) -> optax.GradientTransformation:
    """The optimizer called ``name`` at ``learning_rate`` (noise keyed by ``seed``)."""
    if name not in RELATIVE_RATE:
        raise ValueError(f"unknown optimizer {name!r}; choose from {sorted(RELATIVE_RATE)}")
    make = _RACE_MAKERS.get(name) or compare.OPTIMIZERS[name][0]
    return make(learning_rate, seed)


def trajectory(tx: optax.GradientTransformation, surface: Surface, steps: int) -> np.ndarray:
    """Positions (steps + 1, 2) of ``tx`` descending ``surface`` from its start (one jitted scan)."""

    def body(carry, _):
        p, state = carry
        value, grad = jax.value_and_grad(surface.fn)(p)
        if isinstance(
            tx, optax.GradientTransformationExtraArgs
        ):  # line searches, Polyak, Momo, Sophia
            u, new_state = tx.update(grad, state, p, value=value, grad=grad, value_fn=surface.fn)
        else:
            u, new_state = tx.update(grad, state, p)
        escaped = jnp.max(jnp.abs(p)) > surface.bound
        p = jnp.where(escaped, p, p + jnp.asarray(u))
        state = jax.tree.map(lambda a, b: jnp.where(escaped, a, b), state, new_state)
        return (p, state), p

    start = jnp.asarray(surface.start, jnp.float32)
    _, path = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), None, steps))(start)
    return np.concatenate([np.asarray(start)[None], np.asarray(path)])


def run(
    surfaces: list[str], racers: list[str], steps: int, seed: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """Trajectories ``{surface: {optimizer: positions}}``."""
    unknown = [s for s in surfaces if s not in SURFACES]
    if unknown:
        raise ValueError(f"unknown surface(s) {unknown}; choose from {sorted(SURFACES)}")
    out: dict[str, dict[str, np.ndarray]] = {}
    for s in surfaces:
        surface = SURFACES[s]
        out[s] = {
            r: trajectory(racer(r, surface.learning_rate * RELATIVE_RATE[r], seed), surface, steps)
            for r in racers
        }
    return out


def table(
    paths: dict[str, dict[str, np.ndarray]],
) -> list[tuple[str, str, float, float, float, str]]:
    """Rows (surface, optimizer, final x, final y, final loss, status).

    Status is ``"escaped"`` for a run that left the surface's bound (an unbounded saddle),
    ``"diverged"`` for a non-finite position, else ``""``.
    """
    rows = []
    for s, racers in paths.items():
        surface = SURFACES[s]
        for r, path in racers.items():
            x, y = path[-1]
            if not np.all(np.isfinite(path[-1])):
                rows.append((s, r, float(x), float(y), float("nan"), "diverged"))
                continue
            status = "escaped" if np.max(np.abs(path[-1])) > surface.bound else ""
            rows.append(
                (s, r, float(x), float(y), float(surface.fn(jnp.asarray(path[-1]))), status)
            )
    return rows


def format_table(rows) -> str:
    lines = [f"{'surface':<14} {'optimizer':<12} {'x':>9} {'y':>9} {'loss':>11}  status"]
    for s, r, x, y, loss, status in rows:
        lines.append(f"{s:<14} {r:<12} {x:>9.4f} {y:>9.4f} {loss:>11.4g}  {status}")
    return "\n".join(lines)


def _contours(ax, surface: Surface):
    xmin, xmax, ymin, ymax = surface.box
    xs, ys = np.meshgrid(np.linspace(xmin, xmax, 200), np.linspace(ymin, ymax, 200))
    zs = np.asarray(jax.vmap(jax.vmap(lambda x, y: surface.fn(jnp.stack([x, y]))))(xs, ys))
    if surface.log_levels:
        levels = np.logspace(np.log10(max(zs.min(), 1e-3)), np.log10(zs.max()), 25)
        ax.contour(xs, ys, zs, levels=levels, cmap="Greys", linewidths=0.6, norm="log")
    else:
        ax.contour(xs, ys, zs, levels=25, cmap="Greys", linewidths=0.6)
    if surface.minimum is not None:
        ax.plot(
            *surface.minimum, marker="*", color="gold", markersize=14, markeredgecolor="k", zorder=5
        )
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(surface.name.replace("_", " "))


def plot(paths: dict[str, dict[str, np.ndarray]], upto: int | None = None) -> Any:
    """A figure with one panel per surface: contours and each optimizer's trajectory."""
    import matplotlib.pyplot as plt

    n = len(paths)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 5.0 * rows), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, (s, racers) in zip(axes.flat, paths.items()):
        _contours(ax, SURFACES[s])
        for k, (r, path) in enumerate(racers.items()):
            shown = path if upto is None else path[: upto + 1]
            ax.plot(shown[:, 0], shown[:, 1], "-", color=colors(k), lw=1.6, label=r)
            ax.plot(shown[-1, 0], shown[-1, 1], "o", color=colors(k), markersize=5)
        ax.plot(*SURFACES[s].start, "kx", markersize=8)
        ax.legend(fontsize=8, loc="best")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def animate(paths: dict[str, dict[str, np.ndarray]], out: str, frames: int = 40) -> str:
    """Write an animated GIF of the race to ``out`` (matplotlib's Pillow writer)."""
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    steps = len(next(iter(next(iter(paths.values())).values()))) - 1
    marks = np.unique(np.linspace(0, steps, frames).astype(int))
    fig = plot(paths, upto=0)
    lines = [
        [ln for ln in ax.get_lines() if ln.get_label() and not ln.get_label().startswith("_")]
        for ax in fig.axes
        if ax.get_visible()
    ]

    def draw(i):
        upto = int(marks[i])
        for ax_lines, racers in zip(lines, paths.values()):
            for line, path in zip(ax_lines, racers.values()):
                line.set_data(path[: upto + 1, 0], path[: upto + 1, 1])
        return [ln for group in lines for ln in group]

    FuncAnimation(fig, draw, frames=len(marks), blit=False).save(out, writer=PillowWriter(fps=10))
    plt.close(fig)
    return out
