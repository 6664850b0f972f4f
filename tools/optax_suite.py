"""Runs optax's own unit tests with optchain standing in for optax: a migration yardstick.

What it measures: how much of optax's test suite passes "as a migrating optax user would
see it", i.e. with every public name that optchain exports served by optchain instead of
optax. The test files are read from the *installed* optax package at run time (nothing of
optax is copied into this repository), copied to a temporary directory and rewritten: after
each import that binds a module through which the tests reach public names (``alias``,
``transform``, ``combine``, ``update``, ``wrappers``, ``_accumulation``, ``_adding``,
``_clipping``, ``_constraining``, ``_inject``, ``_reduce_on_plateau``, ``schedules``,
``transforms``, ``optax``), that name is rebound to a proxy. The proxy's attribute lookup
returns optchain's object when optchain exports the name (``optchain.__all__``; for
``schedules``/``_inject`` also ``optchain.schedules.__all__``), else the optax module's own
attribute. Internal modules (base, numerics, test_utils, utils, optax.tree, losses,
linesearch) are left alone. The names actually served by optchain are collected and printed.

Run (one pytest subprocess per file; ``--baseline`` runs pure optax, no proxying)::

    .venv/bin/python tools/optax_suite.py
    .venv/bin/python tools/optax_suite.py --baseline
    .venv/bin/python tools/optax_suite.py --files _src/alias_test.py -k adam --json out.json

``--fix-version-checks`` makes the tests compare ``jax.__version__`` numerically (optax 0.2.8
compares strings, so on jax >= 0.10 its sharding-in-types tests skip themselves). Names that
optchain exports but re-exports from optax are listed apart: tests of those compare optax with
itself.

This is a measuring tool, not part of the test suite: CI does not run it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

FILES = [
    "_src/alias_test.py",
    "_src/transform_test.py",
    "_src/float64_test.py",
    "transforms/_adding_test.py",
    "transforms/_clipping_test.py",
    "transforms/_accumulation_test.py",
    "_src/sharding_test.py",
    "schedules/_inject_test.py",
    "contrib/_reduce_on_plateau_test.py",
]
PROXIED = {
    "alias", "transform", "combine", "update", "wrappers", "_accumulation", "_adding",
    "_clipping", "_constraining", "_inject", "_reduce_on_plateau", "schedules", "transforms",
    "optax",
}  # fmt: skip
VERSION_CHECK = re.compile(r"jax\.__version__ < '(\d+\.\d+\.\d+)'")
PRELUDE_NAME = "_optax_suite_prelude"
# Written into the temp dir; the rewritten test files call its ``proxy``.
PRELUDE = """
import atexit, os, types
import optchain

_SERVED = set()
_SUBMODULES = {"schedules", "transforms", "contrib"}  # optax.<these> get proxied too


def _namespaces(kind):
    spaces = [optchain]
    if kind in ("schedules", "_inject") and hasattr(optchain.schedules, "__all__"):
        spaces.insert(0, optchain.schedules)
    return [(ns, set(getattr(ns, "__all__", ()))) for ns in spaces]


class _Proxy(types.ModuleType):
    def __init__(self, module, kind):
        super().__init__(module.__name__)
        self.__dict__["_mod"], self.__dict__["_kind"] = module, kind
        self.__dict__["_spaces"] = _namespaces(kind)

    def __getattr__(self, name):
        mod = self.__dict__["_mod"]
        if self.__dict__["_kind"] == "optax" and name in _SUBMODULES:
            return _Proxy(getattr(mod, name), name)
        for ns, exported in self.__dict__["_spaces"]:
            obj = getattr(ns, name, None)
            if name in exported and not isinstance(obj, types.ModuleType):
                # identity, not __module__: a functools.partial (optax's nadamw) has none of its own
                tag = " (optax's own object)" if obj is getattr(mod, name, None) else ""
                _SERVED.add(f"{ns.__name__}.{name}{tag}")
                return obj
        return getattr(mod, name)

    def __dir__(self):
        return dir(self.__dict__["_mod"])


def proxy(module, kind):
    return _Proxy(module, kind)


@atexit.register
def _dump():
    with open(os.environ["OPTAX_SUITE_SERVED"], "a") as f:
        f.writelines(n + "\\n" for n in sorted(_SERVED))
"""
# Also written there: absl's parameter repr of each test, into the junit xml.
CONFTEST = """
def pytest_collection_modifyitems(items):
    for item in items:
        params = getattr(getattr(item, "obj", None), "__x_params_repr__", None)
        if params:
            item.user_properties.append(("params", params))
"""


def rewrite(source: str) -> str:
    """Inserts ``name = proxy(name)`` after every import statement binding a PROXIED name."""
    lines = source.splitlines(keepends=True)
    inserts: dict[int, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            bound = [(a.asname or a.name.split(".")[0], a.name.split(".")[0]) for a in node.names]
            bound = [(b, n) for b, n in bound if n == "optax"]  # ``import optax[.tree]``
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("optax"):
            bound = [(a.asname or a.name, a.name) for a in node.names if a.name in PROXIED]
        else:
            continue
        indent = " " * node.col_offset
        inserts.setdefault(node.end_lineno, []).extend(
            f"{indent}{b} = __import__({PRELUDE_NAME!r}).proxy({b}, {n!r})\n" for b, n in bound
        )
    out = []
    for i, line in enumerate(lines, 1):
        out.append(line if line.endswith("\n") else line + "\n")
        out.extend(inserts.get(i, []))
    return "".join(out)


def fix_version_checks(source: str) -> str:
    """``jax.__version__ < '0.7.2'`` compares strings ('0.10' < '0.7'): compare as versions."""
    return VERSION_CHECK.sub(
        lambda m: (
            f"tuple(map(int, jax.__version__.split('.')[:3])) < {tuple(map(int, m[1].split('.')))}"
        ),
        source,
    )


def run_file(optax_dir, rel, tmp, baseline, kexpr, fix_versions):
    """Runs one (rewritten) test file in a pytest subprocess; returns (cases, collect_error)."""
    src = (optax_dir / rel).read_text()
    src = fix_version_checks(src) if fix_versions else src
    dst = tmp / pathlib.Path(rel).name
    dst.write_text(src if baseline else rewrite(src))
    xml = tmp / (dst.stem + ".xml")
    env = dict(os.environ, OPTAX_SUITE_SERVED=str(tmp / "served.txt"))
    if "sharding" in rel:  # the file sets this itself at import, too late if jax is up
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(dst)]
    cmd += ["--rootdir", str(tmp), "-c", os.devnull, f"--junitxml={xml}", "-o", "addopts="]
    cmd += ["-k", kexpr] if kexpr else []
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
    if not xml.exists():
        return [], f"pytest exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    cases = []
    for tc in ET.parse(xml).iter("testcase"):
        outcome, reason = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                reason = one_line(el)
                break
        test_id = f"{rel}::{tc.get('classname', '').split('.')[-1]}::{tc.get('name')}"
        params = tc.find("properties/property[@name='params']")
        params = "" if params is None else params.get("value", "")
        cases.append({"id": test_id, "params": params, "outcome": outcome, "reason": reason})
    return cases, None


def one_line(el) -> str:
    """Exception type + first line of the message, from a junit failure/error/skipped element."""
    msg = [ln.strip() for ln in (el.get("message") or "").splitlines() if ln.strip()]
    reason = msg[0] if msg else ""
    if reason.rstrip(":").isidentifier() and len(msg) > 1:  # "AssertionError:" + lines
        reason = f"{reason} {' '.join(msg[1:])}"
    if not reason or reason.rstrip(":").isidentifier():  # no message: show the failing line
        src = [ln[1:].strip() for ln in (el.text or "").splitlines() if ln.startswith(">")]
        reason = f"{reason.rstrip(':')}: at `{src[-1]}`" if src else reason
    return reason[:200]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--optax-dir", type=pathlib.Path, help="optax package dir (default: installed)")
    ap.add_argument("--files", nargs="+", default=FILES, help="test files, relative to optax/")
    ap.add_argument("-k", dest="kexpr", help="pytest -k expression, passed through")
    ap.add_argument("--baseline", action="store_true", help="pure optax, no proxying")
    ap.add_argument("--json", type=pathlib.Path, help="write the results here")
    ap.add_argument(
        "--fix-version-checks",
        action="store_true",
        help="compare jax.__version__ numerically in the tests (optax 0.2.8 compares strings, "
        "so its sharding-in-types tests skip on jax >= 0.10)",
    )
    ap.add_argument("--keep", action="store_true", help="keep (and print) the temp dir")
    args = ap.parse_args(argv)
    if args.optax_dir is None:
        import optax

        args.optax_dir = pathlib.Path(optax.__file__).parent
    names = [pathlib.Path(f).name for f in args.files]
    if len(set(names)) != len(names):
        ap.error("test files must have distinct base names")

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="optax_suite_"))
    (tmp / f"{PRELUDE_NAME}.py").write_text(PRELUDE)
    (tmp / "conftest.py").write_text(CONFTEST)
    results, rows = {}, []
    for rel in args.files:
        cases, err = run_file(
            args.optax_dir, rel, tmp, args.baseline, args.kexpr, args.fix_version_checks
        )
        count = {k: sum(c["outcome"] == k for c in cases) for k in ("passed", "failed", "error")}
        count["skipped"] = sum(c["outcome"] == "skipped" for c in cases)
        results[rel] = {"cases": cases, "collect_error": err, **count}
        rows.append((rel, len(cases), *count.values(), err))
        print(f"  ran {rel}: {len(cases)} tests", file=sys.stderr, flush=True)

    served_file = tmp / "served.txt"
    served = sorted(set(served_file.read_text().splitlines())) if served_file.exists() else []
    mode = "pure optax (baseline)" if args.baseline else "optchain for every name it exports"
    print(f"\noptax {args.optax_dir} -- {mode}\n")
    print(f"{'file':40} {'tests':>6} {'passed':>6} {'failed':>6} {'errors':>6} {'skipped':>7}")
    for rel, n, p, f, e, s, err in rows:
        print(f"{rel:40} {n:6} {p:6} {f:6} {e:6} {s:7}" + (f"  !! {err}" if err else ""))
    tot = [sum(r[i] for r in rows) for i in range(1, 6)]
    print(f"{'TOTAL':40} {tot[0]:6} {tot[1]:6} {tot[2]:6} {tot[3]:6} {tot[4]:7}")
    if not args.baseline:
        tag = " (optax's own object)"
        for label, group in (
            ("served by optchain", [n for n in served if not n.endswith(tag)]),
            ("served by optchain but optax's own objects", [n for n in served if n.endswith(tag)]),
        ):
            print(f"\nnames {label} in this run ({len(group)}):")
            print("  " + ", ".join(n.removeprefix("optchain.").removesuffix(tag) for n in group))
    bad = [c for r in results.values() for c in r["cases"] if c["outcome"] in ("failed", "error")]
    if bad:
        print(f"\nfailing ({len(bad)}):")
        for c in bad:
            params = f" {c['params'][:90]}" if c["params"] else ""
            print(f"  {c['id']}{params}\n      {c['reason']}")
    if args.json:
        summary = dict(zip(("tests", "passed", "failed", "errors", "skipped"), tot))
        payload = {"mode": mode, "total": summary, "served": served, "files": results}
        args.json.write_text(json.dumps(payload, indent=1))
    if args.keep:
        print(f"\ntemp dir: {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not bad and not any(r[-1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
