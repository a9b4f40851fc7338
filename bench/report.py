"""Render recorded benchmark results as Markdown, for the README's performance section.

    python bench/report.py [FILE_OR_FOLDER ...] [--latest] [--layout long|wide]

Reads every *.json in bench/results/ (or the files and folders given) as written by
bench_svd.py and prints, per file: date, device, versions, and per workload metalsvd's time,
each peer's time, metalsvd's speedup over each (peer / metalsvd, from the same run) and the
accuracy of each. Everything printed comes from the files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench_tables import (METALSVD_NAME, fmt_err, fmt_speedup, grouped, is_ok,
                          metalsvd_row, render_markdown, speedup, time_cell)

DEFAULT_RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_RESULTS],
                   help="result files or folders of them (default: bench/results/)")
    p.add_argument("--latest", action="store_true",
                   help="only the newest file per device and suite")
    p.add_argument("--layout", choices=["long", "wide"], default="long",
                   help="long: a row per implementation; wide: a column per implementation")
    return p.parse_args(argv)


def result_files(paths: list[Path]) -> list[Path]:
    """The JSON files among `paths`, folders expanded (not recursively)."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.json")) if path.is_dir() else [path]
    return files


def display_path(file: Path) -> str:
    """The file's path relative to the repository when inside it."""
    try:
        return str(file.resolve().relative_to(DEFAULT_RESULTS.parent.parent))
    except ValueError:
        return str(file)


def load(files: list[Path]) -> list[dict]:
    """Parsed result files; unreadable ones are reported on stderr and skipped."""
    results = []
    for file in files:
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            print(f"report: skipping {file}: {exc}", file=sys.stderr)
            continue
        if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
            print(f"report: skipping {file}: not a bench_svd result file", file=sys.stderr)
            continue
        data["_source"] = display_path(file)
        results.append(data)
    return results


def newest_only(results: list[dict]) -> list[dict]:
    """The newest result per (device name, suite)."""
    newest: dict[tuple[str, str], dict] = {}
    for res in results:
        key = (res.get("device_name", "?"), res.get("suite", "?"))
        if key not in newest or res.get("date", "") > newest[key].get("date", ""):
            newest[key] = res
    return list(newest.values())


def versions_line(res: dict) -> str:
    """torch / CUDA / peers / metalsvd versions of one run."""
    v = res.get("versions", {})
    parts = [f"torch {v.get('torch', '?')}"]
    if v.get("cuda") and res.get("device") == "cuda":
        parts.append(f"CUDA {v['cuda']}")
    parts += [f"{label} {v[key]}" for key, label in (("cupy", "CuPy"), ("jax", "JAX"))
              if v.get(key)]
    ms = res.get("metalsvd", {})
    commit = str(ms.get("git_commit", "unknown"))[:10]
    dirty = ", uncommitted changes" if ms.get("git_dirty") else ""
    parts.append(f"metalsvd {ms.get('version', 'unknown')} ({commit}{dirty})")
    parts.append(f"Python {v.get('python', '?')}")
    return " · ".join(parts)


def settings_line(res: dict) -> str:
    """How the run timed and checked."""
    s = res.get("settings", {})
    partial = " **Incomplete run.**" if res.get("complete") is False else ""
    resumed = res.get("resumed") or []
    resumed_note = (f" Resumed ({', '.join(resumed)}): the workloads not done before ran in a "
                    "later process on the same machine." if resumed else "")
    warmup = s.get("warmup", "?")
    return (f"Median of up to {s.get('repeats', '?')} timed calls after {warmup} "
            f"warm-up call{'' if warmup == 1 else 's'}; speedup = peer time / metalsvd time in the same run. "
            f"Accuracy vs {s.get('accuracy_reference', 'a float64 reference')}.{partial}"
            f"{resumed_note}")


def workload_label(rows: list[dict], show_matrix: bool) -> str:
    """'64x128x128 float32' (with the matrix class when a file has several)."""
    first = rows[0]
    label = f"{first['workload']} {first['dtype']}"
    return f"{label} {first.get('matrix', '')}".strip() if show_matrix else label


def orth_error(row: dict) -> float | None:
    """The worse of the U and V orthogonality errors."""
    values = [row[k] for k in ("u_orth", "v_orth") if row.get(k) is not None]
    return max(values) if values else None


def long_table(rows: list[dict], show_matrix: bool) -> str:
    """A row per implementation, grouped by workload."""
    headers = ["Workload", "Implementation", "Median ms", "metalsvd speedup", "σ error",
               "‖QᵀQ−I‖max", "‖A−UΣVᵀ‖/‖A‖"]
    body = []
    for group in grouped(rows).values():
        reference = metalsvd_row(group)
        for i, row in enumerate(group):
            body.append([workload_label(group, show_matrix) if i == 0 else "",
                         f"`{row['implementation']}`", time_cell(row),
                         "—" if row is reference else fmt_speedup(speedup(row, reference)),
                         fmt_err(row.get("sigma_err")), fmt_err(orth_error(row)),
                         fmt_err(row.get("recon"))])
    return render_markdown(headers, body, right_from=2)


def wide_tables(rows: list[dict], show_matrix: bool) -> str:
    """A column per implementation: times with speedups, then σ errors."""
    names = list(dict.fromkeys(r["implementation"] for r in rows))
    # The suite's reference first (metalsvd.svd, or svdvals / randomized_svd in their suites).
    first = metalsvd_row(rows)
    lead = first["implementation"] if first else METALSVD_NAME
    names = [lead] + [n for n in names if n != lead]
    timing_body, error_body = [], []
    for group in grouped(rows).values():
        by_name = {r["implementation"]: r for r in group}
        reference = by_name.get(lead)
        timing, errors = [workload_label(group, show_matrix)], [workload_label(group, show_matrix)]
        for name in names:
            row = by_name.get(name)
            if row is None:
                timing.append("")
                errors.append("")
                continue
            ratio = speedup(row, reference)
            cell = time_cell(row)
            timing.append(cell if name == lead or ratio is None
                          else f"{cell} ({fmt_speedup(ratio)})")
            errors.append(fmt_err(row.get("sigma_err")) if is_ok(row) else "-")
        timing_body.append(timing)
        error_body.append(errors)
    headers = ["Workload"] + [f"`{n}`" for n in names]
    return ("Median ms (metalsvd's speedup over each peer):\n\n"
            + render_markdown(headers, timing_body) + "\n\nσ error, max|σ−σ_ref|/σ_max:\n\n"
            + render_markdown(headers, error_body))


def section(res: dict, layout: str) -> str:
    """The Markdown section of one result file."""
    rows = res["rows"]
    title = (f"### {res.get('device_name', '?')} · {res.get('date', '?')[:10]} · "
             f"suite `{res.get('suite', '?')}`")
    show_matrix = len({r.get("matrix") for r in rows}) > 1
    if not rows:
        table = "_No rows recorded._"
    elif layout == "wide":
        table = wide_tables(rows, show_matrix)
    else:
        table = long_table(rows, show_matrix)
    return "\n\n".join([title, versions_line(res), settings_line(res), table,
                        f"<sub>Source: `{res['_source']}`</sub>"])


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown report; exit status 1 when no result file was found."""
    args = parse_args(argv)
    results = load(result_files(args.paths))
    if args.latest:
        results = newest_only(results)
    if not results:
        print("report: no result files found", file=sys.stderr)
        return 1
    results.sort(key=lambda r: (r.get("date", ""), r.get("device_name", "")), reverse=True)
    print("\n\n".join(section(res, args.layout) for res in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
