"""torch.optim Adam (fused and foreach) on the benchmark trees; run by step_time.py under an
interpreter that has torch. Reads the trees' shapes as JSON on stdin, prints one JSON line."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    trees = json.loads(sys.stdin.read())
    rows = []
    for tree, shapes in trees.items():
        for variant in ("fused", "foreach"):
            torch.manual_seed(0)
            params = [torch.nn.Parameter(0.02 * torch.randn(*s)) for s in shapes.values()]
            for p in params:
                p.grad = 0.02 * torch.randn_like(p)
            opt = torch.optim.Adam(params, lr=1e-3, **{variant: True})
            for _ in range(3):
                opt.step()
            times = []
            for _ in range(args.steps):
                start = time.perf_counter()
                opt.step()
                times.append(time.perf_counter() - start)
            rows.append(
                {
                    "tree": tree,
                    "optimizer": f"Adam({variant}=True)",
                    "torch_ms": 1e3 * statistics.median(times),
                    "threads": torch.get_num_threads(),
                }
            )
            del opt, params
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
