"""The ``optchain`` command: ``optchain compare`` and ``optchain race``.

Needs the ``examples`` extra (``pip install optchain[examples]``): Flax, scikit-learn,
matplotlib and tqdm.
"""

from __future__ import annotations

import argparse
import pathlib
import sys


def _names(text: str, valid, what: str, parser) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        parser.error(f"unknown {what} {unknown or text!r}; valid: {', '.join(sorted(valid))}")
    return names


def compare(args, parser) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from tqdm import tqdm

    from optchain import compare as cmp

    names = _names(args.optimizers, cmp.OPTIMIZERS, "optimizer(s)", parser)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    with tqdm(total=args.steps * len(names), unit="step", disable=args.quiet) as bar:
        for name in names:
            bar.set_description(f"{name:<16}")
            results.append(
                cmp.train_one(
                    name,
                    args.steps,
                    learning_rate=args.lr,
                    schedule=args.schedule,
                    seed=args.seed,
                    target=args.target,
                    progress=bar,
                )
            )
    print(cmp.format_table(results, args.steps, args.target))
    title = f"digits CNN, {args.schedule} learning rate, seed {args.seed}"
    fig = cmp.plot_losses(results, title)
    png = out / "compare_losses.png"
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")
    return 0


def race(args, parser) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from optchain import race as rc

    surfaces = _names(args.surfaces, rc.SURFACES, "surface(s)", parser)
    racers = _names(args.optimizers, rc.RELATIVE_RATE, "optimizer(s)", parser)
    if args.frames < 2:
        parser.error(f"--frames must be at least 2; got {args.frames}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = rc.run(surfaces, racers, args.steps, args.seed)
    print(rc.format_table(rc.table(paths)))
    fig = rc.plot(paths)
    png = out / "race.png"
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")
    if args.animate:
        gif = rc.animate(paths, str(out / "race.gif"), frames=args.frames)
        print(f"wrote {gif}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optchain", description="optchain demos on built-in data")
    sub = parser.add_subparsers(dest="command", required=True)

    from optchain import compare as cmp
    from optchain import race as rc

    p = sub.add_parser(
        "compare", help="train a small CNN on scikit-learn's digits with several optimizers"
    )
    p.add_argument("--optimizers", default=",".join(cmp.DEFAULT), help="comma-separated names")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument(
        "--lr", type=float, default=None, help="one learning rate for all (default: per optimizer)"
    )
    p.add_argument("--schedule", default="constant", choices=sorted(cmp.SCHEDULES))
    p.add_argument(
        "--target", type=float, default=0.3, help="train loss for the steps-to-target column"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="optchain_out", help="folder for the PNG")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=compare)

    r = sub.add_parser(
        "race", help="optimizers racing on 2-D surfaces (Rosenbrock, Beale, saddles)"
    )
    r.add_argument("--optimizers", default=",".join(rc.DEFAULT_RACERS))
    r.add_argument("--surfaces", default=",".join(rc.SURFACES))
    r.add_argument("--steps", type=int, default=500)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--animate", action="store_true", help="also write race.gif")
    r.add_argument("--frames", type=int, default=40, help="frames of race.gif")
    r.add_argument("--out", default="optchain_out")
    r.set_defaults(run=race)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "steps", 1) < 1:
        parser.error("--steps must be >= 1")
    return args.run(args, parser)


if __name__ == "__main__":
    sys.exit(main())
