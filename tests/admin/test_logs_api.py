"""GET/DELETE /api/logs and /api/logs/files over HTTP: tails, filters, big files, path attacks."""

from __future__ import annotations

import gc
import json
import os
import random
import tracemalloc
from pathlib import Path

import pytest

from ccr.logs.view import BLOCK, tail

SECRET = "this file is outside the log folder\n"


async def started(admin_server):
    admin = await admin_server({"Providers": [], "Router": {}})
    admin.log_dir.mkdir(exist_ok=True)
    return admin


def write_log(path: Path, lines: list[dict], mtime: float | None = None) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    if mtime is not None:
        os.utime(path, (mtime, mtime))


async def test_files_lists_regular_log_files_newest_first(admin_server, tmp_path):
    admin = await started(admin_server)
    write_log(admin.log_dir / "ccr-20250101000000.log", [{"n": 1}], mtime=1_700_000_000)
    write_log(admin.log_dir / "ccr-20250102000000.log", [{"n": 1}, {"n": 2}], mtime=1_700_000_500)
    write_log(admin.log_dir / "claude-code-router.log", [{"r": 1}], mtime=1_700_000_200)
    (admin.log_dir / "notes.txt").write_text("not a log")
    (admin.log_dir / "folder.log").mkdir()
    outside = tmp_path / "outside.log"
    outside.write_text(SECRET)
    (admin.log_dir / "link.log").symlink_to(outside)
    status, body, _ = await admin.call("GET", "/api/logs/files")
    assert status == 200
    assert [row["name"] for row in body] == ["ccr-20250102000000.log", "claude-code-router.log",
                                             "ccr-20250101000000.log"]
    assert all(set(row) == {"name", "size", "lastModified"} for row in body)
    assert body[0]["size"] == (admin.log_dir / "ccr-20250102000000.log").stat().st_size
    assert body[0]["lastModified"] == "2023-11-14T22:21:40.000Z"
    assert str(admin.home) not in json.dumps(body) and "/" not in "".join(r["name"] for r in body)


async def test_files_is_empty_without_a_log_folder(admin_server):
    admin = await admin_server({"Providers": [], "Router": {}})
    status, body, _ = await admin.call("GET", "/api/logs/files")
    assert status == 200 and body == []
    status, body, _ = await admin.call("GET", "/api/logs")
    assert status == 200 and body == []


async def test_tail_paging_and_filters(admin_server):
    admin = await started(admin_server)
    levels = ["debug", "info", "warning", "error"]
    lines = [{"level": levels[i % 4], "event": f"event {i}", "n": i} for i in range(1000)]
    write_log(admin.log_dir / "ccr-20250101000000.log", lines)
    write_log(admin.log_dir / "claude-code-router.log", [{"n": "routing"}], mtime=1)

    status, body, headers = await admin.call("GET", "/api/logs")  # newest server log, last 500
    assert status == 200 and len(body) == 500
    assert [json.loads(x)["n"] for x in body] == list(range(500, 1000))
    assert headers["x-ccr-has-more"] == "true" and headers["x-ccr-file"] == "ccr-20250101000000.log"

    status, body, headers = await admin.call("GET", "/api/logs?file=ccr-20250101000000.log&lines=10&offset=20")
    assert [json.loads(x)["n"] for x in body] == list(range(970, 980))
    status, body, headers = await admin.call("GET", "/api/logs?file=ccr-20250101000000.log&lines=10&offset=995")
    assert [json.loads(x)["n"] for x in body] == [0, 1, 2, 3, 4] and headers["x-ccr-has-more"] == "false"

    status, body, _ = await admin.call("GET", "/api/logs?file=ccr-20250101000000.log&level=warn&lines=4")
    assert [json.loads(x)["n"] for x in body] == [994, 995, 998, 999]
    status, body, _ = await admin.call("GET", "/api/logs?file=ccr-20250101000000.log&level=error&q=EVENT%2099")
    assert [json.loads(x)["n"] for x in body] == [99, 991, 995, 999]

    status, body, _ = await admin.call("GET", "/api/logs?file=claude-code-router.log")
    assert body == ['{"n": "routing"}']


@pytest.mark.parametrize("query,needle", [
    ("lines=0", "lines"), ("lines=abc", "lines"), ("lines=10001", "lines"), ("offset=-1", "offset"),
    ("level=loud", "level"), ("file=a.log&file=b.log", "one file")])
async def test_bad_parameters_are_400(admin_server, query, needle):
    admin = await started(admin_server)
    write_log(admin.log_dir / "a.log", [{"n": 1}])
    status, body, _ = await admin.call("GET", f"/api/logs?file=a.log&{query}" if "file=" not in query
                                       else f"/api/logs?{query}")
    assert status == 400 and body["type"] == "error" and needle in body["error"]["message"]


async def test_unknown_file_is_404(admin_server):
    admin = await started(admin_server)
    status, body, _ = await admin.call("GET", "/api/logs?file=ccr-nope.log")
    assert status == 404 and body["error"]["type"] == "not_found_error"
    status, body, _ = await admin.call("DELETE", "/api/logs?file=ccr-nope.log")
    assert status == 404


async def test_a_50_mb_file_is_tailed_without_reading_it_into_memory(admin_server):
    admin = await started(admin_server)
    path = admin.log_dir / "ccr-20250101000000.log"
    line = json.dumps({"level": "info", "event": "request", "pad": "z" * 400})
    with path.open("w") as out:
        block = "\n".join(line for _ in range(100)) + "\n"
        while out.tell() < 50 * 1024 * 1024:
            out.write(block)
        out.write(json.dumps({"level": "error", "event": "the last one"}) + "\n")
    size = path.stat().st_size
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        status, body, headers = await admin.call("GET", "/api/logs?file=ccr-20250101000000.log&lines=200")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200 and len(body) == 200 and json.loads(body[-1])["event"] == "the last one"
    scanned = int(headers["x-ccr-scanned-bytes"])
    assert scanned <= 200 * (len(line) + 1) + 2 * BLOCK  # only the tail was read
    assert peak - before < 8 * 1024 * 1024, f"peak grew by {peak - before} bytes for a {size} byte file"
    # a filter that matches only the first line has to scan everything, still in bounded memory
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        status, body, headers = await admin.call("GET", "/api/logs?file=ccr-20250101000000.log&q=the%20last")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200 and len(body) == 1
    assert int(headers["x-ccr-scanned-bytes"]) == size
    assert peak - before < 8 * 1024 * 1024


def test_tail_matches_a_plain_reading_across_block_boundaries(tmp_path):
    rng = random.Random(7)
    lines = []
    for i in range(3000):
        size = rng.choice([0, 1, 50, 300, BLOCK - 3, BLOCK + 5, 2 * BLOCK])
        lines.append(f"{i}:" + "x" * size if size else "")
    path = tmp_path / "a.log"
    path.write_text("\n".join(lines) + rng.choice(["", "\n"]))
    expected = [line for line in path.read_text().split("\n") if line.strip()]
    fd = os.open(path, os.O_RDONLY)
    try:
        for want, offset in [(1, 0), (7, 0), (100, 13), (5000, 0), (3, len(expected) - 2), (10, 5000)]:
            result = tail(fd, want, offset)
            end = len(expected) - offset
            assert result.lines == expected[max(0, end - want): max(0, end)], (want, offset)
            assert result.has_more == (end - want > 0)
    finally:
        os.close(fd)


async def test_delete_clears_one_file_or_all(admin_server):
    admin = await started(admin_server)
    for name in ("ccr-1.log", "ccr-2.log", "claude-code-router.log"):
        write_log(admin.log_dir / name, [{"n": name}])
    (admin.log_dir / "keep.txt").write_text("not a log")
    status, body, _ = await admin.call("DELETE", "/api/logs?file=ccr-1.log")
    assert status == 200 and body["success"] is True and body["message"] == "Logs cleared successfully"
    assert (admin.log_dir / "ccr-1.log").read_text() == ""
    assert (admin.log_dir / "ccr-2.log").read_text() != ""
    status, body, _ = await admin.call("DELETE", "/api/logs")
    assert status == 200 and body["message"] == "Logs cleared successfully"
    assert all((admin.log_dir / n).read_text() == "" for n in ("ccr-2.log", "claude-code-router.log"))
    assert (admin.log_dir / "keep.txt").read_text() == "not a log"


ATTACKS = [
    "..", "../config.json", "..%2Fconfig.json", "%2e%2e%2fconfig.json", "%252e%252e%252fconfig.json",
    "/etc/passwd", "%2Fetc%2Fpasswd", "logs/../config.json", "..%5Cconfig.json", "a%00.log",
    "ccr-1.log%00", ".hidden.log", "sub.log", "link-out.log", "link-in.log", "%2e%2e", "",
]


@pytest.mark.parametrize("name", ATTACKS)
async def test_names_outside_the_log_folder_are_refused(admin_server, tmp_path, name):
    admin = await started(admin_server)
    write_log(admin.log_dir / "ccr-1.log", [{"n": 1}])
    (admin.log_dir / ".hidden.log").write_text("hidden\n")
    (admin.log_dir / "sub.log").mkdir()
    outside = tmp_path / "outside.log"
    outside.write_text(SECRET)
    (admin.log_dir / "link-out.log").symlink_to(outside)
    (admin.log_dir / "link-in.log").symlink_to(admin.log_dir / "ccr-1.log")
    config_before = admin.path.read_bytes()
    for method in ("GET", "DELETE"):
        status, body, _ = await admin.call(method, f"/api/logs?file={name}", encoded=True)
        assert status == 400, (method, name, body)
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        assert SECRET.strip() not in json.dumps(body)
    assert outside.read_text() == SECRET
    assert admin.path.read_bytes() == config_before
    assert (admin.log_dir / "ccr-1.log").read_text() != ""
    assert (admin.log_dir / ".hidden.log").read_text() == "hidden\n"
