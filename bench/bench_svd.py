"""Benchmark metalsvd.svd against its peers: same process, same inputs, same device.

    python bench/bench_svd.py [--device cuda|cpu] [--suite small|large|truncated|values|all]
                              [--workloads 64x128x128,256x64x64,...] [--dtype float32]
                              [--repeats N] [--out bench/results/] [--quick] [--resume]

For every workload (BxMxN or MxN) every available implementation is timed on the same
input tensors (warm-up, then median / min / IQR over the repeats) and checked against a
float64 LAPACK reference. Results go to <out>/<date>_<device>_<suite>.json (rewritten after
each workload, so an interrupted run keeps what it finished, and --resume continues it) and
to a table on stdout; progress goes to stderr. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bench_accuracy import (REFERENCE, checked_indices, checked_subset, measure,
                            measure_truncated, measure_values, reference_singular_values,
                            truncated_reference)
from bench_env import device_slug, environment, slug
from bench_impls import (Impl, Unavailable, describe_error, discover, discover_truncated,
                         discover_values)
from bench_inputs import (DTYPES, MATRIX_CLASSES, SUITES, TRUNCATED, Workload, make_inputs,
                          parse_workload)
from bench_tables import (fmt_err, fmt_ms, fmt_speedup, metalsvd_row,
                          render_text, short_status, speedup)
from bench_timing import benchmark

SCHEMA_VERSION = 1
HALF_DTYPES = (torch.float16, torch.bfloat16)
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Settings:
    """How hard to time: warm-up calls, timed repeats, seconds allowed per implementation."""

    warmup: int
    repeats: int
    budget_s: float
    seed: int


NORMAL = Settings(warmup=3, repeats=25, budget_s=20.0, seed=0)
QUICK = Settings(warmup=1, repeats=5, budget_s=5.0, seed=0)


@dataclass
class Case:
    """One workload's inputs and float64 reference, shared by all implementations."""

    workload: Workload
    matrix: str
    dtype_name: str
    inputs: list[torch.Tensor]
    indices: list[int]
    s_ref: torch.Tensor
    k: int | None = None  # the truncated suite: top-k only


@dataclass
class Row:
    """One implementation on one workload: a row of the result file."""

    workload: str
    batch: int | None
    m: int
    n: int
    dtype: str
    matrix: str
    implementation: str
    status: str = "ok"
    median_ms: float | None = None
    min_ms: float | None = None
    iqr_ms: float | None = None
    wall_median_ms: float | None = None
    timer: str | None = None
    repeats: int | None = None
    warmup: int | None = None
    input_sets: int | None = None
    sigma_err: float | None = None
    u_orth: float | None = None
    v_orth: float | None = None
    recon: float | None = None
    checked_matrices: int | None = None
    output_dtype: str | None = None
    notes: str = ""


def log(message: str) -> None:
    """Progress on stderr, flushed at once."""
    print(message, file=sys.stderr, flush=True)


def comma_list(text: str) -> list[str]:
    """Split a comma-separated option value."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None,
                   help="cuda, cuda:N or cpu (default: cuda if available)")
    p.add_argument("--suite", choices=[*SUITES, "all"], default="small")
    p.add_argument("--workloads", help="comma-separated BxMxN or MxN; overrides --suite")
    p.add_argument("--truncated", action="store_true",
                   help="time the truncated suite's methods (top k) on --workloads")
    p.add_argument("--name", help="label for the file name and the report instead of the "
                                  "suite's ('custom' with --workloads)")
    p.add_argument("--dtype", default="float32", help=f"comma-separated, of {', '.join(DTYPES)}")
    p.add_argument("--matrix", default="gaussian",
                   help=f"comma-separated matrix classes, of {', '.join(MATRIX_CLASSES)}")
    p.add_argument("--impls", help="only implementations whose name contains one of these "
                                   "comma-separated strings (metalsvd is always kept)")
    p.add_argument("--repeats", type=int, help=f"timed calls (default {NORMAL.repeats}, "
                                               f"--quick {QUICK.repeats})")
    p.add_argument("--warmup", type=int, help=f"warm-up calls (default {NORMAL.warmup})")
    p.add_argument("--budget", type=float, help="seconds of timed calls per implementation and "
                                                f"workload (default {NORMAL.budget_s:g})")
    p.add_argument("--seed", type=int, default=NORMAL.seed)
    p.add_argument("--quick", action="store_true", help="fewer warm-ups and repeats")
    p.add_argument("--commit", help="metalsvd commit to record when the tree has no .git "
                                    "(default: git rev-parse HEAD)")
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="folder for the JSON file")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run: keep the cases its result file holds "
                        "(same commit, versions, settings, suite and device) and run the rest")
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """Timing settings: --quick or the defaults, overridden by explicit options."""
    base = QUICK if args.quick else NORMAL
    return Settings(
        warmup=base.warmup if args.warmup is None else max(0, args.warmup),
        repeats=base.repeats if args.repeats is None else max(1, args.repeats),
        budget_s=base.budget_s if args.budget is None else args.budget,
        seed=args.seed,
    )


def workloads_from(args: argparse.Namespace) -> tuple[list[Workload], str]:
    """The workloads to run and the suite label used in the file name."""
    if args.workloads:
        names, suite = comma_list(args.workloads), "custom"
    elif args.suite == "all":
        names, suite = SUITES["small"] + SUITES["large"], "all"
    else:
        names, suite = SUITES[args.suite], args.suite
    try:
        return [parse_workload(w) for w in names], args.name or suite
    except ValueError as exc:
        raise SystemExit(f"bench_svd: {exc}") from None


def pick_device(text: str | None) -> torch.device:
    """The device to benchmark on; fails early if CUDA is asked for but absent."""
    device = torch.device(text or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("bench_svd: --device cuda, but torch sees no CUDA device")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise SystemExit(f"bench_svd: unsupported device {device}; use cuda or cpu")
    return device


def selected(impls: list[Impl | Unavailable], only: str | None) -> list[Impl | Unavailable]:
    """Implementations matching --impls; metalsvd stays as the reference for speedups."""
    if not only:
        return impls
    wanted = comma_list(only)
    return [i for i in impls if i.name.startswith("metalsvd") or any(w in i.name for w in wanted)]


def make_case(workload: Workload, matrix: str, dtype_name: str, device: torch.device,
              seed: int, k: int | None = None) -> Case:
    """Generate the inputs of one workload and the reference singular values of set 0."""
    inputs = make_inputs(workload, matrix, DTYPES[dtype_name], device, seed)
    indices = checked_indices(workload.count)
    if k is not None:
        return Case(workload, matrix, dtype_name, inputs, indices,
                    truncated_reference(inputs[0], k), k)
    s_ref = reference_singular_values(checked_subset(inputs[0], indices, 2))
    return Case(workload, matrix, dtype_name, inputs, indices, s_ref)


def empty_row(case: Case, name: str) -> Row:
    """A row that names its workload and implementation, before anything ran."""
    w = case.workload
    return Row(workload=w.label, batch=w.batch, m=w.m, n=w.n, dtype=case.dtype_name,
               matrix=case.matrix, implementation=name, input_sets=len(case.inputs))


def copy_fields(dst: object, src: object, *names: str) -> None:
    """Copy the named attributes from `src` to `dst`."""
    for name in names:
        setattr(dst, name, getattr(src, name))


def time_and_check(impl: Impl, case: Case, settings: Settings, row: Row, notes: list[str]) -> None:
    """Time `impl` on the case's inputs, then check one call's outputs; fills `row`.

    Raises whatever the implementation raises; `row.status` names the stage that was running.
    """
    inputs = case.inputs
    if not impl.takes_half and inputs[0].dtype in HALF_DTYPES:
        inputs = [x.float() for x in inputs]
        notes.append("input cast to float32 before timing (no half-precision SVD)")
    row.status = "error (prepare)"
    native, note = impl.prepare(inputs)
    notes.append(note)
    row.status = "error (timing)"
    timing = benchmark(impl.run, native, impl.timer, settings.warmup, settings.repeats,
                       settings.budget_s)
    copy_fields(row, timing, "median_ms", "min_ms", "iqr_ms", "wall_median_ms", "repeats",
                "warmup")
    row.timer = "cuda-events" if timing.source == "events" else "wall-clock"
    row.status = "error (accuracy)"
    u, s, v = impl.to_usv(impl.run(native[0]))
    row.output_dtype = str(s.dtype).removeprefix("torch.")
    if u is None:
        acc = measure_values(s, case.s_ref, case.indices)
    elif case.k is None:
        acc = measure(case.inputs[0], u, s, v, case.s_ref, case.indices)
    else:
        acc = measure_truncated(case.inputs[0], u, s, v, case.s_ref)
    copy_fields(row, acc, "sigma_err", "u_orth", "v_orth", "recon", "checked_matrices")
    row.status = "ok"


def run_impl(impl: Impl | Unavailable, case: Case, settings: Settings) -> Row:
    """One row; NotImplementedError becomes 'not supported', any other error 'error (stage)'."""
    row = empty_row(case, impl.name)
    if isinstance(impl, Unavailable):
        row.status = f"unavailable: {impl.reason}"
        return row
    notes = [impl.notes]
    try:
        time_and_check(impl, case, settings, row, notes)
    except NotImplementedError as exc:
        row.status = f"not supported: {describe_error(exc)}"
    except Exception as exc:
        row.status = f"{row.status}: {describe_error(exc)}"
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    finally:
        impl.cleanup()
    row.notes = "; ".join(n for n in notes if n)
    return finite_row(row)


def finite_row(row: Row) -> Row:
    """Replace non-finite metrics (not valid JSON) by None, and say so in the notes."""
    bad = [k for k, v in asdict(row).items() if isinstance(v, float) and not math.isfinite(v)]
    for key in bad:
        setattr(row, key, None)
    if bad:
        row.notes = "; ".join(filter(None, [row.notes, f"non-finite {', '.join(bad)}"]))
    return row


def case_table(rows: list[dict]) -> str:
    """Text table of one workload: times, metalsvd's speedup, accuracy; then row messages."""
    reference = metalsvd_row(rows)
    headers = ["implementation", "status", "median ms", "min ms", "IQR ms", "n",
               "metalsvd speedup", "sigma_err", "u_orth", "v_orth", "recon"]
    body = [[r["implementation"], short_status(r["status"]), fmt_ms(r["median_ms"]),
             fmt_ms(r["min_ms"]), fmt_ms(r["iqr_ms"]), r["repeats"] or "-",
             fmt_speedup(speedup(r, reference)), fmt_err(r["sigma_err"]),
             fmt_err(r["u_orth"]), fmt_err(r["v_orth"]), fmt_err(r["recon"])] for r in rows]
    footnotes = [f"  {r['implementation']}: {r['status']}" for r in rows if r["status"] != "ok"]
    footnotes += [f"  {r['implementation']}: {r['notes']}" for r in rows if r["notes"]]
    return "\n".join([render_text(headers, body), *footnotes])


def result_path(out: Path, env: dict, device: torch.device, suite: str) -> Path:
    """<out>/<YYYY-MM-DD>_<device-slug>_<suite>.json"""
    return out / f"{env['date'][:10]}_{device_slug(device)}_{slug(suite)}.json"


def write_results(path: Path, header: dict, rows: list[dict], complete: bool) -> None:
    """Write the result file (atomically, so a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**header, "complete": complete, "rows": rows}, indent=2,
                              allow_nan=False) + "\n")
    tmp.replace(path)


def resumed(path: Path, header: dict) -> tuple[dict, list[dict]]:
    """The header and rows to continue from: those of the result file at `path` when it holds
    the same run (commit, versions, settings, suite, device); the run keeps its start date and
    lists when it was resumed."""
    if not path.exists():
        return header, []
    old = json.loads(path.read_text())
    same = ("device_name", "versions", "torch_settings", "metalsvd", "suite", "settings")
    differ = [key for key in same if old.get(key) != header.get(key)]
    if differ:
        raise SystemExit(f"bench_svd: --resume: {path} is another run ({', '.join(differ)} "
                         "differ)")
    return {**header, "date": old["date"],
            "resumed": old.get("resumed", []) + [header["date"]]}, old["rows"]


def repository_relative(path: str | None) -> str | None:
    """Where the measured metalsvd was imported from: relative to this repository when it is
    this checkout (the usual case), so a result file names no machine's folders."""
    if path is None:
        return None
    root = Path(__file__).resolve().parent.parent
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return path


def run_header(env: dict, settings: Settings, suite: str, versions: dict,
               metalsvd_path: str | None) -> dict:
    """Everything in the result file except the rows."""
    return {
        "schema": SCHEMA_VERSION,
        **env,
        "suite": suite,
        "versions": {**env["versions"], **{k: v for k, v in versions.items() if k != "metalsvd"}},
        "metalsvd": {**env["metalsvd"], "version": versions.get("metalsvd", "unknown"),
                     "path": repository_relative(metalsvd_path)},
        "settings": {**asdict(settings), "accuracy_reference": REFERENCE,
                     "speedup": "peer median_ms / metalsvd median_ms"},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the process exit status."""
    args = parse_args(argv)
    settings = settings_from(args)
    workloads, suite = workloads_from(args)
    dtypes, matrices = comma_list(args.dtype), comma_list(args.matrix)
    for name, known in ((dtypes, DTYPES), (matrices, MATRIX_CLASSES)):
        unknown = [x for x in name if x not in known]
        if unknown:
            raise SystemExit(f"bench_svd: unknown {unknown}; known: {', '.join(known)}")
    device = pick_device(args.device)
    env = environment(device, args.commit)
    log(f"bench_svd: {env['device_name']} ({device}), suite {suite}, settings {settings}")
    truncated = suite == "truncated" or args.truncated
    if truncated:
        found = discover_truncated(device, **TRUNCATED)
    elif args.suite == "values":  # also with --workloads
        found = discover_values(device, [DTYPES[d] for d in dtypes])
    else:
        found = discover(device, [DTYPES[d] for d in dtypes])
    impls = selected(found.impls, args.impls)
    header = run_header(env, settings, suite, found.versions, found.metalsvd_path)
    path = result_path(args.out, env, device, suite)
    rows: list[dict] = []
    if args.resume:
        header, rows = resumed(path, header)
    elif path.exists():
        log(f"bench_svd: {path} exists and will be replaced (use --name to keep both)")
    done = {(row["workload"], row["dtype"], row["matrix"]) for row in rows}
    cases = [(w, m, d) for m in matrices for d in dtypes for w in workloads]
    for number, (workload, matrix, dtype_name) in enumerate(cases, 1):
        title = f"{workload.label} {dtype_name} {matrix}"
        if (workload.label, dtype_name, matrix) in done:
            log(f"[{number}/{len(cases)}] {title}: in {path.name} already")
            continue
        log(f"[{number}/{len(cases)}] {title}: generating inputs and reference")
        case = make_case(workload, matrix, dtype_name, device, settings.seed,
                         TRUNCATED["k"] if truncated else None)
        case_rows = []
        for impl in impls:
            log(f"[{number}/{len(cases)}] {title}: {impl.name}")
            row = asdict(run_impl(impl, case, settings))
            log(f"    {row['status']}" + (f", {fmt_ms(row['median_ms'])} ms"
                                          if row["median_ms"] is not None else ""))
            case_rows.append(row)
        rows += case_rows
        write_results(path, header, rows, complete=number == len(cases))
        print(f"\n== {title} on {env['device_name']} ==\n{case_table(case_rows)}", flush=True)
        del case
    write_results(path, header, rows, complete=True)
    print(f"\nresults: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
