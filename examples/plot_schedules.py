"""Draw optchain's schedules (learning-rate "cooling" strategies, cyclical rates, one-cycle
with its momentum) into one PNG.

    python examples/plot_schedules.py --out docs/schedules.png
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from optchain import schedules  # noqa: E402

PANELS = {
    "cooling": {
        "linear decay to lr/100 (tau=600)": schedules.linear_decay(0.1, 600),
        "exponential (0.5 every 250)": schedules.exponential(0.1, 0.5, 250),
        "multistep at 400, 700 (x0.1)": schedules.multistep(0.1, [400, 700]),
        "warmup 100 + cosine": schedules.warmup(schedules.cosine(0.1, 900), 100),
    },
    "restarts and cycles": {
        "SGDR (T0=100, x2)": schedules.cosine_warm_restarts(0.1, 100, 2),
        "triangular (200 up, 200 down)": schedules.cyclical(0.01, 0.1, 200),
        "triangular2": schedules.cyclical(0.01, 0.1, 200, mode="triangular2"),
        "exp_range (gamma 0.999)": schedules.cyclical(
            0.01, 0.1, 200, mode="exp_range", gamma=0.999
        ),
    },
    "one-cycle": {
        "learning rate": schedules.one_cycle(0.1, 1000),
        "momentum / 10": lambda t: schedules.one_cycle_momentum(1000)(t) / 10,
    },
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", default="schedules.png")
    args = parser.parse_args(argv)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.6))
    for ax, (title, panel) in zip(axes, PANELS.items()):
        for label, schedule in panel.items():
            schedules.plot(schedule, args.steps, ax=ax, label=label)
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
