"""The report relates ccr's (and the peer's) CPU to the bare converter's in the same case:
`× bare` columns in the table and the bare figure beside each CPU target."""

from __future__ import annotations

from bench import report
from bench.loadgen import CaseRun, Sample

# CPU seconds per target for 10 requests of each case; streams carry 100 events a request
_CPU = {"upstream": {"json": 0.0004, "stream": 0.0006},
        "bare": {"json": 0.005, "stream": 0.025},                 # 0.5 ms, 2.5 ms: 20 µs/event
        "ccr": {"json": 0.010, "stream": 0.070},                  # 1.0 ms, 7.0 ms: 60 µs/event
        "claude-code-router": {"json": 0.040, "stream": 0.140}}   # 4.0 ms, 14 ms: 100 µs/event


def _runs(targets: tuple[str, ...]) -> list[CaseRun]:
    runs = []
    for target in targets:
        for mode, cpu in _CPU[target].items():
            events = 100 if mode == "stream" else 0
            samples = [Sample(0.002, 0.001, 0.001, events, None) for _ in range(10)]
            runs.append(CaseRun(target, "claude-code", mode, 1, wall=0.5, cpu=cpu, rss_mb=50.0,
                                samples=samples))
    return runs


def _by_target(rows: list[report.Row], mode: str) -> dict[str, report.Row]:
    return {r.target: r for r in rows if r.mode == mode}


def test_cpu_as_a_multiple_of_the_bare_converter() -> None:
    rows = report.aggregate(_runs(("upstream", "bare", "ccr", "claude-code-router")))
    json_rows, stream_rows = _by_target(rows, "json"), _by_target(rows, "stream")
    assert round(json_rows["ccr"].cpu_req_x_bare, 6) == 2.0
    assert round(stream_rows["ccr"].cpu_req_x_bare, 6) == 2.8
    assert round(stream_rows["bare"].cpu_per_event_us, 6) == 20.0
    assert round(stream_rows["ccr"].cpu_event_x_bare, 6) == 3.0
    assert round(json_rows["claude-code-router"].cpu_req_x_bare, 6) == 8.0
    assert round(stream_rows["claude-code-router"].cpu_event_x_bare, 6) == 5.0
    for name in ("upstream", "bare"):  # the baselines are not related to the bare converter
        assert stream_rows[name].cpu_req_x_bare is None and stream_rows[name].cpu_event_x_bare is None
    assert json_rows["ccr"].cpu_event_x_bare is None  # no events in a JSON reply


def test_the_table_orders_targets_and_shows_the_multiples() -> None:
    rows = report.aggregate(_runs(("claude-code-router", "ccr", "bare", "upstream")))
    lines = report.table(rows).splitlines()
    assert lines[0].count("× bare") == 2
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    stream = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]
              if "| stream |" in line]
    assert [r[head.index("target")] for r in stream] == ["upstream", "bare", "ccr", "claude-code-router"]
    per_req, per_event = head.index("cpu/req ms"), head.index("cpu/ev µs")
    assert head[per_req + 1] == head[per_event + 1] == "× bare"
    bare, ccr = ([r[per_req], r[per_req + 1], r[per_event], r[per_event + 1]] for r in stream[1:3])
    assert ccr == ["7.00", "2.80", "60.0", "3.00"]
    assert bare == ["2.50", "-", "20.0", "-"]


def test_targets_show_the_bare_figure_beside_each_cpu_target() -> None:
    rows = report.aggregate(_runs(("upstream", "bare", "ccr")))
    checks = {c.what: c for c in report.targets(rows, {"idle": 60.0, "peak": 90.0}, None)}
    cc_json = checks["CPU per Claude Code-sized JSON request"]
    assert cc_json.ok is True and cc_json.bare == "0.50 ms (ccr 2.00×)"
    per_event = checks["CPU per streamed event (marginal, 200-chunk)"]
    assert per_event.ok is False and per_event.measured.startswith("worst 60.00 µs")
    assert per_event.bare == "20.00 µs (ccr 3.00×)"
    assert checks["CPU per small JSON request"].bare is None  # not measured: no small rows
    assert checks["RSS idle"].bare is None
    table = report.targets_table(list(checks.values()))
    assert table.splitlines()[0].endswith("| bare converter, same case |")
    assert "| 0.50 ms (ccr 2.00×) |" in table


def test_without_the_bare_converter_the_report_is_as_before() -> None:
    rows = report.aggregate(_runs(("upstream", "ccr")))
    assert all(r.cpu_req_x_bare is None and r.cpu_event_x_bare is None for r in rows)
    head = report.table(rows).splitlines()[0]
    assert "× bare" not in head and "| cpu/req ms | cpu/ev µs | RSS MB |" in head
    checks = report.targets(rows, {}, None)
    assert all(c.bare is None for c in checks)
    assert report.targets_table(checks).splitlines()[0] == "| target | limit | measured | met |"


def test_no_multiple_of_a_marginal_cost_at_or_below_zero() -> None:
    runs = _runs(("bare", "ccr"))
    for run in runs:
        if run.target == "bare" and run.mode == "stream":
            run.cpu = 0.004  # less than its JSON requests: noise, the marginal cost comes out < 0
    rows = report.aggregate(runs)
    stream = _by_target(rows, "stream")
    assert stream["bare"].cpu_per_event_us < 0
    assert stream["ccr"].cpu_event_x_bare is None
    assert stream["ccr"].cpu_req_x_bare is not None


def test_latency_targets_show_the_bare_converter_beside_them_too() -> None:
    """Added latency and first text at concurrency 1 are mostly the machine's wake-ups: the bare
    converter's figure in the same case says how much."""
    latency = {"upstream": 0.010, "bare": 0.011, "ccr": 0.013}  # p50: bare +1 ms, ccr +3 ms
    runs = []
    for target, seconds in latency.items():
        for mode in ("json", "stream"):
            samples = [Sample(seconds, seconds, seconds, 100 if mode == "stream" else 0, None)
                       for _ in range(10)]
            runs.append(CaseRun(target, "claude-code", mode, 1, wall=0.5, cpu=0.01, rss_mb=50.0,
                                samples=samples))
    checks = {c.what: c for c in report.targets(report.aggregate(runs), {}, None)}
    added = checks["added p50 latency at concurrency 1"]
    assert added.ok is False and added.measured.startswith("worst 3.00 ms")
    assert added.bare == "1.00 ms (ccr 3.00×)"
    assert checks["first text behind the upstream (conc 1, p50)"].bare == "1.00 ms (ccr 3.00×)"
