"""Rounds -> one row per (case, target) -> the table, the targets, and the JSON results.

Rounds of the same case are pooled: requests, events, wall time and CPU are summed, latencies
merged before taking percentiles. Proxy figures are also given relative to the upstream alone
measured in the same run (`% up`: requests/s as a share of the upstream's; `+p50`: added median
latency in ms). CPU figures of ccr and the peer are also given as a multiple of the bare
aiohttp converter's (bench/bare.py) in the same case and run (`× bare`): this machine's speed
varies up to 2x over an hour, so only figures measured side by side compare.

CPU per event is the marginal cost: (CPU per stream - CPU per JSON request of the same size
and concurrency) / events per stream, so it does not charge the request's fixed cost to its
events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .counting import CountingResult
from .loadgen import CaseRun

__all__ = ["OLD", "Row", "aggregate", "old_new_table", "old_new_targets", "table", "targets", "to_json"]

OLD = "ccr-old"  # the target name of an older build run beside this one (--baseline-tree)


@dataclass
class Row:
    target: str
    size: str
    mode: str
    concurrency: int
    requests: int
    errors: int
    first_error: str | None
    rps: float
    p50_ms: float
    p99_ms: float
    ttfb_ms: float
    first_text_ms: float
    events_per_s: float
    events_per_req: float
    cpu_per_req_ms: float | None
    cpu_per_event_us: float | None
    rss_mb: float | None
    pct_upstream: float | None = None
    added_p50_ms: float | None = None
    added_first_text_ms: float | None = None
    cpu_req_x_bare: float | None = None     # cpu_per_req_ms / the bare converter's, same case
    cpu_event_x_bare: float | None = None   # cpu_per_event_us / the bare converter's, same case
    loop_cpu_per_req_ms: float | None = None  # the event loop's thread alone

    @property
    def case(self) -> tuple[str, str, int]:
        return self.size, self.mode, self.concurrency


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def aggregate(runs: list[CaseRun]) -> list[Row]:
    groups: dict[tuple[str, str, str, int], list[CaseRun]] = {}
    for run in runs:
        groups.setdefault((run.target, run.size, run.mode, run.concurrency), []).append(run)
    rows = []
    for (target, size, mode, concurrency), group in groups.items():
        samples = [s for r in group for s in r.samples]
        errors = [e for r in group for e in r.errors]
        ok = [s for s in samples if not s.problem]
        wall = sum(r.wall for r in group) or float("nan")
        events = sum(s.events for s in ok)
        cpu = None if any(r.cpu is None for r in group) else sum(r.cpu or 0 for r in group)
        loop_cpu = None if any(r.loop_cpu is None for r in group) else sum(r.loop_cpu or 0 for r in group)
        rss = [r.rss_mb for r in group if r.rss_mb is not None]
        rows.append(Row(
            target, size, mode, concurrency, len(samples), len(errors), errors[0] if errors else None,
            rps=len(ok) / wall, p50_ms=_pct([s.latency for s in ok], 0.5) * 1000,
            p99_ms=_pct([s.latency for s in ok], 0.99) * 1000,
            ttfb_ms=_pct([s.ttfb for s in ok], 0.5) * 1000,
            first_text_ms=_pct([s.first_text for s in ok], 0.5) * 1000,
            events_per_s=events / wall, events_per_req=events / len(ok) if ok else 0.0,
            cpu_per_req_ms=cpu / len(samples) * 1000 if cpu is not None and samples else None,
            cpu_per_event_us=None, rss_mb=max(rss) if rss else None,
            loop_cpu_per_req_ms=loop_cpu / len(samples) * 1000 if loop_cpu is not None and samples else None))
    _relate(rows)
    return rows


def _relate(rows: list[Row]) -> None:
    by_key = {(r.target, *r.case): r for r in rows}
    for row in rows:
        if row.target == "upstream":
            continue
        up = by_key.get(("upstream", *row.case))
        if up is not None and up.rps:
            row.pct_upstream = 100 * row.rps / up.rps
            row.added_p50_ms = row.p50_ms - up.p50_ms
            row.added_first_text_ms = row.first_text_ms - up.first_text_ms
        plain = by_key.get((row.target, row.size, "json", row.concurrency))
        if (row.mode != "json" and plain is not None and row.cpu_per_req_ms is not None
                and plain.cpu_per_req_ms is not None and row.events_per_req):
            row.cpu_per_event_us = (row.cpu_per_req_ms - plain.cpu_per_req_ms) / row.events_per_req * 1000
    for row in rows:  # a second pass: every row's CPU per event is known now
        bare = by_key.get(("bare", *row.case))
        if row.target in ("upstream", "bare") or bare is None:
            continue
        row.cpu_req_x_bare = _ratio(row.cpu_per_req_ms, bare.cpu_per_req_ms)
        row.cpu_event_x_bare = _ratio(row.cpu_per_event_us, bare.cpu_per_event_us)


def _ratio(value: float | None, base: float | None) -> float | None:
    """value / base; None when either is missing or the base is not positive (a marginal cost
    per event can come out at or below zero in noise, and a ratio to it means nothing)."""
    if value is None or base is None or not base > 0:
        return None
    return value / base


def _f(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


_HEAD = ("size", "mode", "conc", "target", "req/s", "% up", "p50 ms", "+p50", "p99 ms", "ttfb",
         "1st text", "+text", "events/s", "cpu/req ms", "× bare", "cpu/ev µs", "× bare", "RSS MB",
         "errors")
_X_BARE = (14, 16)  # the `× bare` columns, left out of a run without the bare converter


def table(rows: list[Row]) -> str:
    """A markdown table, one line per (case, target): upstream, bare, ccr, then the peer."""
    order = {"upstream": 0, "bare": 1, OLD: 2, "ccr": 3}
    rows = sorted(rows, key=lambda r: (r.size != "small", ["json", "stream", "paced"].index(r.mode)
                                       if r.mode in ("json", "stream", "paced") else 9,
                                       r.concurrency, order.get(r.target, 4)))
    keep = [i for i in range(len(_HEAD))
            if i not in _X_BARE or any(r.target == "bare" for r in rows)]
    head = [_HEAD[i] for i in keep]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        cells = (r.size, r.mode, str(r.concurrency), r.target, _f(r.rps, 0), _f(r.pct_upstream, 0),
                 _f(r.p50_ms, 2), _f(r.added_p50_ms, 2), _f(r.p99_ms, 2), _f(r.ttfb_ms, 2),
                 _f(r.first_text_ms, 2), _f(r.added_first_text_ms, 2), _f(r.events_per_s, 0),
                 _f(r.cpu_per_req_ms, 2), _f(r.cpu_req_x_bare, 2), _f(r.cpu_per_event_us, 1),
                 _f(r.cpu_event_x_bare, 2), _f(r.rss_mb, 0),
                 str(r.errors) if not r.first_error else f"{r.errors}: {r.first_error[:60]}")
        lines.append("| " + " | ".join(cells[i] for i in keep) + " |")
    return "\n".join(lines)


def _case_order(row: Row) -> tuple[bool, int, int]:
    modes = ["json", "stream", "paced"]
    return row.size != "small", modes.index(row.mode) if row.mode in modes else 9, row.concurrency


def old_new_table(rows: list[Row], new: str = "ccr") -> str:
    """Per case: CPU per request (the whole process, then its event-loop thread alone) and per
    streamed event of the old build and this one, the ratio old/new (above 1: this build is
    cheaper), and the bare converter's figure beside."""
    by_key = {(r.target, *r.case): r for r in rows}
    head = ("size", "mode", "conc", "cpu/req old ms", "new ms", "old/new", "bare ms",
            "loop cpu/req old ms", "new ms", "old/new",
            "cpu/ev old µs", "new µs", "old/new", "bare µs")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in sorted((r for r in rows if r.target == new), key=_case_order):
        old, bare = by_key.get((OLD, *r.case)), by_key.get(("bare", *r.case))
        if old is None:
            continue
        cells = (r.size, r.mode, str(r.concurrency),
                 _f(old.cpu_per_req_ms, 2), _f(r.cpu_per_req_ms, 2),
                 _f(_ratio(old.cpu_per_req_ms, r.cpu_per_req_ms), 2),
                 _f(bare.cpu_per_req_ms if bare else None, 2),
                 _f(old.loop_cpu_per_req_ms, 2), _f(r.loop_cpu_per_req_ms, 2),
                 _f(_ratio(old.loop_cpu_per_req_ms, r.loop_cpu_per_req_ms), 2),
                 _f(old.cpu_per_event_us, 2), _f(r.cpu_per_event_us, 2),
                 _f(_ratio(old.cpu_per_event_us, r.cpu_per_event_us), 2),
                 _f(bare.cpu_per_event_us if bare else None, 2))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class Check:
    what: str
    target: str
    measured: str
    ok: bool | None  # None: not measured in this run
    bare: str | None = None  # the bare converter's figure in the same case and run, where it has one


def _worst(rows: list[Row], attr: str, **match: Any) -> tuple[float, Row, float, Row] | None:
    """The worst and the best value over the matching rows (usually: over concurrency)."""
    found = [(getattr(r, attr), r) for r in rows
             if all(getattr(r, k) == v for k, v in match.items()) and getattr(r, attr) is not None]
    if not found:
        return None
    worst, best = max(found, key=lambda x: x[0]), min(found, key=lambda x: x[0])
    return worst[0], worst[1], best[0], best[1]


def _where(row: Row) -> str:
    return f"{row.size} {row.mode} c={row.concurrency}"


def targets(rows: list[Row], memory: dict[str, float], counting: CountingResult | None,
            target: str = "ccr") -> list[Check]:
    """Issue 3's targets against what this run measured (worst case over concurrency)."""
    ccr = [r for r in rows if r.target == target]
    bare = {r.case: r for r in rows if r.target == "bare"}
    out: list[Check] = []

    def limit(what: str, bound: float, unit: str, found: tuple[float, Row, float, Row] | None,
              attr: str | None = None) -> None:
        """`attr`: the Row attribute measured, to set the bare converter's figure beside it."""
        if found is None:
            out.append(Check(what, f"≤ {bound} {unit}", "not measured", None))
            return
        value, row, best, best_row = found
        spread = "" if row is best_row else f"; best {best:.2f} ({_where(best_row)})"
        out.append(Check(what, f"≤ {bound} {unit}", f"worst {value:.2f} {unit} ({_where(row)}){spread}",
                         value <= bound, _beside(bare.get(row.case), attr, value, unit, target)))

    limit("CPU per Claude Code-sized JSON request", 1.5, "ms",
          _worst(ccr, "cpu_per_req_ms", size="claude-code", mode="json"), "cpu_per_req_ms")
    limit("CPU per Claude Code-sized 200-chunk stream", 3.5, "ms",
          _worst(ccr, "cpu_per_req_ms", size="claude-code", mode="stream"), "cpu_per_req_ms")
    limit("CPU per small JSON request", 0.6, "ms", _worst(ccr, "cpu_per_req_ms", size="small", mode="json"),
          "cpu_per_req_ms")
    limit("CPU per streamed event (marginal, 200-chunk)", 10, "µs",
          _worst(ccr, "cpu_per_event_us", mode="stream"), "cpu_per_event_us")
    limit("CPU per paced 100-event stream", 8, "ms", _worst(ccr, "cpu_per_req_ms", mode="paced"),
          "cpu_per_req_ms")
    limit("added p50 latency at concurrency 1", 2, "ms", _worst(ccr, "added_p50_ms", concurrency=1),
          "added_p50_ms")
    limit("first text behind the upstream (conc 1, p50)", 1, "ms",
          _worst([r for r in ccr if r.mode != "json"], "added_first_text_ms", concurrency=1),
          "added_first_text_ms")
    paced = [r for r in ccr if r.mode == "paced" and r.concurrency == 64]
    if paced and paced[0].pct_upstream is not None:
        slowest = min(paced, key=lambda r: r.pct_upstream or 0)
        pct = slowest.pct_upstream or 0
        floor = bare.get(slowest.case)
        out.append(Check("64 paced streams at the upstream's rate", "≥ 95 % of upstream req/s",
                         f"{pct:.1f} % ({_where(slowest)})", pct >= 95,
                         None if floor is None or floor.pct_upstream is None
                         else f"{floor.pct_upstream:.1f} %"))
    else:
        out.append(Check("64 paced streams at the upstream's rate", "≥ 95 % of upstream req/s",
                         "not measured", None))
    for key, bound, what in (("idle", 80, "RSS idle"), ("peak", 150, "RSS peak (VmHWM, up to conc 256)")):
        value = memory.get(key)
        out.append(Check(what, f"≤ {bound} MB", f"{value:.0f} MB" if value else "not measured",
                         None if value is None else value <= bound))
    errors = sum(r.errors for r in ccr)
    out.append(Check("errors and wrong bytes", "0", str(errors), errors == 0))
    if counting is not None:
        out.append(Check("routing per request (longContext on, CC body)", "≤ 0.5 ms",
                         f"{counting.route_ms:.3f} ms", counting.route_ms <= 0.5))
        out.append(Check("a new turn of a 100k-token conversation", "< 2 ms",
                         f"{counting.new_turn_ms:.2f} ms", counting.new_turn_ms < 2))
    return out


def old_new_targets(rows: list[Row], new: str = "ccr") -> list[Check]:
    """The one-pipeline issue's targets, old and new build measured in the same run: CPU per
    request no worse than 5 % on any case, at most 5 µs per streamed event and 2.5 ms per
    Claude Code-sized stream (200 chunks, c=64); and the ledger issue's: the hot path (the event
    loop's thread) within 5 %."""
    by_key = {(r.target, *r.case): r for r in rows}
    out: list[Check] = []
    for what, attr in (("CPU per request against the old build, any case", "cpu_per_req_ms"),
                       ("Event-loop CPU per request against the old build, any case", "loop_cpu_per_req_ms")):
        pairs = [(getattr(r, attr), getattr(by_key[(OLD, *r.case)], attr), r) for r in rows
                 if r.target == new and (OLD, *r.case) in by_key
                 and getattr(r, attr) is not None and getattr(by_key[(OLD, *r.case)], attr)]
        if not pairs:
            out.append(Check(what, "≤ +5 %", "not measured", None))
            continue
        value, before, row = max(pairs, key=lambda p: p[0] / p[1])
        worse = value / before - 1
        out.append(Check(what, "≤ +5 %", f"worst {worse * 100:+.1f} % ({_where(row)}: {before:.2f} -> "
                         f"{value:.2f} ms)", worse <= 0.05))
    bare = {r.case: r for r in rows if r.target == "bare"}
    found = _worst([r for r in rows if r.target == new], "cpu_per_event_us", mode="stream", concurrency=64)
    if found is None:
        out.append(Check(PER_EVENT, "≤ 5 µs", "not measured", None))
    else:
        value, row, _, _ = found
        before = by_key.get((OLD, *row.case))
        was = (f"; old build {before.cpu_per_event_us:.2f} µs"
               if before is not None and before.cpu_per_event_us is not None else "")
        out.append(Check(PER_EVENT, "≤ 5 µs", f"worst {value:.2f} µs ({_where(row)}){was}", value <= 5,
                         _beside(bare.get(row.case), "cpu_per_event_us", value, "µs", new)))
    found = _worst([r for r in rows if r.target == new], "cpu_per_req_ms", size="claude-code", mode="stream",
                   concurrency=64)
    if found is None:
        out.append(Check(PER_STREAM, "≤ 2.5 ms", "not measured", None))
    else:
        value, row, _, _ = found
        out.append(Check(PER_STREAM, "≤ 2.5 ms", f"{value:.2f} ms ({_where(row)})", value <= 2.5,
                         _beside(bare.get(row.case), "cpu_per_req_ms", value, "ms", new)))
    return out


#: the one-pipeline issue's stream targets, both at concurrency 64
PER_EVENT = "CPU per streamed event (200-chunk streams, c=64)"
PER_STREAM = "CPU per 200-chunk Claude Code-sized stream (c=64)"


def _beside(bare: Row | None, attr: str | None, value: float, unit: str, target: str) -> str | None:
    """The bare converter's figure in the case of the worst value, and the target's multiple of it."""
    if attr is None or bare is None:  # not a CPU target, or a run without the bare converter
        return None
    base = getattr(bare, attr)
    if base is None:
        return "not measured"
    ratio = _ratio(value, base)
    return f"{base:.2f} {unit}" + (f" ({target} {ratio:.2f}×)" if ratio is not None else "")


def targets_table(checks: list[Check]) -> str:
    """The targets; a last column with the bare converter's figures when the run measured it."""
    with_bare = any(c.bare for c in checks)
    head = "| target | limit | measured | met |" + (" bare converter, same case |" if with_bare else "")
    lines = [head, "|---|---|---|---|" + ("---|" if with_bare else "")]
    for c in checks:
        met = "n/a" if c.ok is None else ("yes" if c.ok else "**no**")
        beside = f" {c.bare or '-'} |" if with_bare else ""
        lines.append(f"| {c.what} | {c.target} | {c.measured} | {met} |{beside}")
    return "\n".join(lines)


def to_json(rows: list[Row], checks: list[Check], meta: dict[str, Any],
            counting: CountingResult | None) -> dict[str, Any]:
    return {"meta": meta, "rows": [asdict(r) for r in rows], "targets": [asdict(c) for c in checks],
            "counting": asdict(counting) if counting else None}
