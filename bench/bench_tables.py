"""Formatting of benchmark rows into text and Markdown tables (shared by bench_svd and report).

Rows are the dicts stored in the result files. The speedup of metalsvd over a peer is
peer_median / metalsvd_median, from the same run, the same inputs and the same GPU.
"""

from __future__ import annotations

from typing import Iterable

METALSVD_NAME = "metalsvd.svd"
# The speedup reference of the truncated suite's rows.
METALSVD_TRUNCATED_NAME = "metalsvd.randomized_svd"
# The speedup reference of the values suite's rows (the singular values alone).
METALSVD_VALUES_NAME = "metalsvd.svdvals"


def group_key(row: dict) -> tuple[str, str, str]:
    """Rows timed on the same inputs share a key."""
    return row["workload"], row["dtype"], row.get("matrix", "gaussian")


def grouped(rows: Iterable[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """Rows grouped by workload, dtype and matrix class, in first-seen order."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault(group_key(row), []).append(row)
    return groups


def is_ok(row: dict | None) -> bool:
    """Whether a row has a usable time."""
    return bool(row) and row["status"] == "ok" and row.get("median_ms") is not None


def metalsvd_row(rows: list[dict]) -> dict | None:
    """metalsvd's row of a group, if any."""
    names = (METALSVD_VALUES_NAME, METALSVD_TRUNCATED_NAME, METALSVD_NAME)
    return next((r for r in rows if r["implementation"] in names), None)


def speedup(row: dict, reference: dict | None) -> float | None:
    """metalsvd's speedup over `row` (peer time / metalsvd time), None when either failed."""
    if not (is_ok(row) and is_ok(reference)) or reference["median_ms"] <= 0:
        return None
    return row["median_ms"] / reference["median_ms"]


def short_status(status: str) -> str:
    """The kind of a status without its message: 'ok', 'not supported', 'error (timing)'."""
    return status.split(":", 1)[0]


def fmt_ms(value: float | None) -> str:
    """Milliseconds with about three significant digits."""
    if value is None:
        return "-"
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def fmt_err(value: float | None) -> str:
    """An error metric in scientific notation."""
    return "-" if value is None else f"{value:.1e}"


def fmt_speedup(value: float | None) -> str:
    """A speedup with three significant digits, like '3.21x' or '0.0018x'."""
    return "-" if value is None else f"{value:.3g}x"


def time_cell(row: dict) -> str:
    """The median time, or what went wrong instead."""
    return fmt_ms(row.get("median_ms")) if is_ok(row) else short_status(row["status"])


def render_text(headers: list[str], body: list[list[str]]) -> str:
    """An aligned plain-text table."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *body)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in body]
    return "\n".join(lines)


def render_markdown(headers: list[str], body: list[list[str]], right_from: int = 1) -> str:
    """A GitHub Markdown table; columns from `right_from` on are right-aligned."""
    align = ["---" if i < right_from else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in line) + " |" for line in body]
    return "\n".join(lines)
