#!/usr/bin/env python
"""Run the llmchat-tui performance benchmarks and print one table.

    python benchmarks/run.py                 # everything (~4 min on 2 cores)
    python benchmarks/run.py --only B1,B3    # some of them
    python benchmarks/run.py --quick         # smaller sizes, one repetition (smoke run)
    python benchmarks/run.py --only B1 --profile   # + hot spots (results/profile-*.txt)

Each benchmark runs in its own child process (and the loopback server in another),
so figures do not leak into each other. Every figure comes with a baseline measured
in the same run; the table shows both and their ratio. Results go to
``benchmarks/results/latest.json`` (git-ignored); profiles to
``benchmarks/results/profile-*.txt``. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import RESULTS, setup_env  # noqa: E402

ORDER = [
    "B1",
    "B1T",
    "B2",
    "B3",
    "B4",
    "B5",
    "B5B",
    "B6",
    "B7",
    "B7B",
    "B8",
    "B9",
    "B10",
    "B11",
    "B12",
    "B13",
]
#: Benchmarks whose app runs in processes of their own (nothing to profile in the child).
OWN_PROCESSES = {"B4", "B11"}


# --------------------------------------------------------------------------- child side


def child_main(args: argparse.Namespace) -> int:
    import asyncio

    tmp = Path(tempfile.mkdtemp(prefix=f"llmchat-bench-{args.child}-"))
    try:
        setup_env(tmp, ansi=not args.no_ansi)
        from common import install_display_hook

        install_display_hook()
        if args.profile and args.child not in OWN_PROCESSES:
            from common import enable_profiling

            enable_profiling(args.profile)
        import compare_suite
        import suites
        import suites_load

        all_suites = {**suites.SUITES, **suites_load.SUITES, **compare_suite.SUITES}
        cfg = suites.Config(quick=args.quick, tmp=tmp, ansi=not args.no_ansi)
        if args.child == "B4start":
            rows: list[dict[str, Any]] = [
                asyncio.run(suites.b4_start(Path(args.data), args.expect))
            ]
        elif args.child == "B4":
            rows = asyncio.run(suites.b4(cfg, profile=args.profile or ""))
        else:
            rows = asyncio.run(all_suites[args.child](cfg))
        Path(args.out).write_text(json.dumps(rows, default=str))
        if args.profile and args.child not in OWN_PROCESSES:
            write_profile(args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def write_profile(args: argparse.Namespace) -> None:
    from common import profile_stacks, pyinstrument_session
    from profiling import report, save_stacks

    stacks = profile_stacks()
    if not stacks:
        return
    name = args.child
    if args.label:
        name += "-" + args.label
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = report(stacks, f"{name}: profiled blocks ({args.profile})")
    (RESULTS / f"profile-{name}.txt").write_text(text)
    save_stacks(stacks, RESULTS / f"profile-{name}.stacks.json.gz")
    session = pyinstrument_session()
    if session is not None:
        from pyinstrument.renderers import ConsoleRenderer

        tree = ConsoleRenderer(unicode=False, color=False, time="percent_of_total")
        (RESULTS / f"profile-{name}-tree.txt").write_text(tree.render(session))
    print(text, file=sys.stderr)


# --------------------------------------------------------------------------- parent side


def machine_info() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    from importlib import metadata

    for dist in ("textual", "rich", "openai", "tiktoken", "llmchat-tui", "markdown-it-py"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "?"
    try:
        load = os.getloadavg()
    except OSError:
        load = (math.nan,) * 3
    commit = ""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if dirty:
            commit += " (src modified)"
    except OSError:
        pass
    digest = hashlib.sha1()
    for path in sorted((HERE.parent / "src").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".tcss"):
            digest.update(path.read_bytes())
    return {
        "src_sha1": digest.hexdigest()[:12],
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "loadavg_at_start": load,
        "commit": commit,
    }


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    magnitude = abs(value)
    if magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None or math.isnan(ratio) or math.isinf(ratio):
        return "–"
    if ratio >= 100:
        return f"{ratio:,.0f}×"
    if ratio >= 10:
        return f"{ratio:.1f}×"
    return f"{ratio:.2f}×"


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| Benchmark | Figure | Baseline (same run) | Ratio | Target | Result |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        result = {True: "PASS", False: "**MISS**", None: "info"}[r.get("pass")]
        baseline = fmt(r.get("baseline"), r["unit"])
        if r.get("baseline_label"):
            baseline += f" ({r['baseline_label']})"
        out.append(
            f"| {r['bench']} {r['name']} | {fmt(r['figure'], r['unit'])} | {baseline} | "
            f"{fmt_ratio(r.get('ratio'))} | {r.get('target') or '–'} | {result} |"
        )
    return "\n".join(out)


def run_child(name: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], float, str]:
    out = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".json")[1])
    cmd = [sys.executable, str(HERE / "run.py"), "--child", name, "--out", str(out)]
    if args.quick:
        cmd.append("--quick")
    if args.no_ansi:
        cmd.append("--no-ansi")
    if args.gc_freeze:
        os.environ["LLMCHAT_BENCH_GC_FREEZE"] = "1"
    if args.profile:
        cmd += ["--profile", args.profile]
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False)
    elapsed = time.perf_counter() - start
    try:
        if proc.returncode != 0:
            return [], elapsed, f"exit code {proc.returncode}"
        return json.loads(out.read_text()), elapsed, ""
    except (OSError, ValueError) as error:
        return [], elapsed, str(error)
    finally:
        out.unlink(missing_ok=True)


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def parent_main(args: argparse.Namespace) -> int:
    selected = ORDER if not args.only else [b.strip().upper() for b in args.only.split(",")]
    unknown = [b for b in selected if b not in ORDER]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(ORDER)}")
        return 2
    info = machine_info()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    all_rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    timings: dict[str, float] = {}
    total = time.perf_counter()
    for name in selected:
        print(f"== {name} ...", file=sys.stderr, flush=True)
        rows, elapsed, error = run_child(name, args)
        timings[name] = elapsed
        print(f"== {name} done in {elapsed:.1f} s {error}", file=sys.stderr, flush=True)
        if error:
            errors[name] = error
        all_rows += rows
    total = time.perf_counter() - total

    header = [
        "## llmchat-tui benchmarks" + (" (quick)" if args.quick else ""),
        "",
        f"- Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"Textual {info['versions']['textual']}, Rich {info['versions']['rich']}, "
        f"openai {info['versions']['openai']} ({info['platform']})",
        f"- Commit {info['commit']}, src digest {info['src_sha1']}, {started}, "
        "load average at start "
        + ", ".join(f"{x:.2f}" for x in info["loadavg_at_start"])
        + f"; total {total:.0f} s",
    ]
    if args.profile:
        header.append(f"- PROFILED RUN ({args.profile}): timings are not comparable")
    if args.gc_freeze:
        header.append("- WHAT-IF RUN: gc.freeze() before each measured reply (not the app)")
    print("\n".join(header) + "\n")
    print(table(all_rows))
    for name, error in errors.items():
        print(f"\n{name} FAILED: {error}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "started": started,
        "quick": args.quick,
        "profiled": args.profile,
        "ansi_frames": not args.no_ansi,
        "gc_freeze_what_if": args.gc_freeze,
        "machine": info,
        "seconds": timings,
        "errors": errors,
        "results": all_rows,
    }
    path = Path(args.json) if args.json else RESULTS / "latest.json"
    path.write_text(json.dumps(finite(payload), indent=1, default=str) + "\n")
    print(f"\nwrote {path}")
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated list, e.g. B1,B3")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repetition")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="sampler",
        choices=["sampler", "pyinstrument"],
        help="profile the measured blocks of the app (default: a low-overhead stack "
        "sampler; or pyinstrument, which must be installed) and write "
        "results/profile-*.txt; timings of a profiled run are not comparable",
    )
    parser.add_argument(
        "--no-ansi",
        action="store_true",
        help="do not encode frames to escape sequences (pure headless, as run_test does)",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="what-if experiment, not the app's behaviour: gc.freeze() the heap before "
        "each measured reply, to see how much of the time is full garbage collections",
    )
    parser.add_argument("--json", help="write the JSON here instead of results/latest.json")
    # internal: the per-benchmark child processes
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--label", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args)
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
