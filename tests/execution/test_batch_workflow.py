"""Batch and workflow runs with the real CLI, workflows as YAML, and `ccr workflow run`."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap

import pytest

from tests.execution.conftest import APIKEY, exec_config

pytestmark = pytest.mark.claude_cli

WORKFLOW_YAML = textwrap.dedent("""\
    name: two steps
    workflow:
      - name: generate
        prompt: Write something for MARK-first
        critical: true
      - name: review
        prompt: Review it, MARK-second
        use_context: true
        options:
          timeout: 60
""")


async def test_batch_keeps_order_and_a_failure_does_not_stop_the_others(model, ccr_server, http):
    _scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code/batch", json={
            "tasks": [{"prompt": "MARK-b1"}, {"prompt": "@@BADREQUEST@@"},
                      {"prompt": "MARK-b3", "options": {"format": "json"}}],
            "timeout": 60, "max_retries": 2}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["success"] is False
    assert (body["total_tasks"], body["successful_tasks"], body["failed_tasks"]) == (3, 2, 1)
    first, bad, third = body["results"]
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert first["output"] == "OUT-b1" and third["output"] == "OUT-b3" and "json" in third
    assert bad["success"] is False and bad["status"] == "error" and bad["api_error_status"] == 400
    assert "not acceptable" in bad["error"]
    assert bad["attempts"] == 1  # a bad request is not retried, even with max_retries 2
    async with http.get(f"{ccr.url}/api/tasks") as response:
        listed = await response.json()
    assert listed["total"] == 3 and {t["kind"] for t in listed["tasks"]} == {"batch"}


async def test_batch_validation_names_the_task(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code/batch", json={
            "tasks": [{"prompt": "MARK-ok"}, {"prompt": "x", "options": {"format": "yaml"}}]}) as response:
        assert response.status == 400
        assert "tasks[1].options.format" in (await response.json())["error"]["message"]
    async with http.post(f"{ccr.url}/api/claude-code/batch", json={"tasks": []}) as response:
        assert response.status == 400
    assert scripted.texts == []


async def test_workflow_passes_context_and_reports_final_context(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code/workflow", json={"workflow": [
            {"name": "code_generation", "prompt": "Write MARK-gen", "critical": True},
            {"name": "code_analysis", "prompt": "Analyse MARK-ana", "use_context": True}]}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["success"] is True and body["request_id"]
    counts = (body["total_steps"], body["completed_steps"], body["successful_steps"], body["failed_steps"])
    assert counts == (2, 2, 2, 0)
    assert [(r["step_name"], r["step_number"], r["success"]) for r in body["results"]] == [
        ("code_generation", 1, True), ("code_analysis", 2, True)]
    assert body["final_context"] == {"code_generation": "OUT-gen", "code_analysis": "OUT-ana"}
    # The second step's prompt, as it reached the model, carries the first step's output.
    second = scripted.texts[-1]
    assert "OUT-gen" in second and "Analyse MARK-ana" in second
    assert "OUT-gen" not in scripted.texts[0]


async def test_critical_failure_stops_the_workflow(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    async with http.post(f"{ccr.url}/api/claude-code/workflow", json={"workflow": [
            {"name": "first", "prompt": "@@BADREQUEST@@", "critical": True, "options": {"max_retries": 0}},
            {"name": "never", "prompt": "MARK-never"}]}) as response:
        body = await response.json()
    assert body["success"] is False and body["stopped_at"] == "first"
    assert (body["completed_steps"], body["failed_steps"]) == (1, 1)
    assert body["final_context"] == {}
    assert not any("MARK-never" in t for t in scripted.texts)


async def test_yaml_workflow_and_its_errors(model, ccr_server, http):
    scripted, url = model
    ccr = await ccr_server(exec_config(url))
    yaml_headers = {"Content-Type": "application/yaml"}
    async with http.post(f"{ccr.url}/api/claude-code/workflow", data=WORKFLOW_YAML.encode(),
                         headers=yaml_headers) as response:
        body = await response.json()
    assert body["success"] is True
    assert body["final_context"] == {"generate": "OUT-first", "review": "OUT-second"}

    bad_cases = {
        "workflow:\n  - name: a\n    prompt: MARK-a\n  - name: b\n    promt: typo\n":
            "workflow[1] (b).promt: unknown field",
        "workflow:\n  - name: a\n    prompt: MARK-a\n  - name: b\n":
            "workflow[1] (b).prompt: missing",
        "workflow:\n  - name: a\n    prompt: x\n    critical: maybe\n":
            "workflow[0] (a).critical: expected true or false",
        "workflow:\n  - name: a\n    prompt: x\n    options: {format: xml}\n":
            "workflow[0] (a).options.format",
        "workflow: [\n": "the YAML is not valid at line",
        "workflow:\n  - name: a\n    prompt: x\n  - name: a\n    prompt: y\n":
            "workflow[1] (a).name: 'a' is used by an earlier step",
    }
    runs_before = len(scripted.texts)
    for text, message in bad_cases.items():
        async with http.post(f"{ccr.url}/api/claude-code/workflow", data=text.encode(),
                             headers=yaml_headers) as response:
            assert response.status == 400, text
            assert message in (await response.json())["error"]["message"], text
    assert len(scripted.texts) == runs_before


async def _ccr_cli(*args: str, home: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccr", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "CCR_HOME": home, "HOME": home})
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_ccr_workflow_run_prints_each_step(model, ccr_server, tmp_path):
    _, url = model
    ccr = await ccr_server(exec_config(url))
    config = tmp_path / "client-config.json"
    config.write_text(json.dumps({"APIKEY": APIKEY}))
    flow = tmp_path / "flow.yaml"
    flow.write_text(WORKFLOW_YAML)
    home = str(tmp_path / "client-home")
    code, out, err = await _ccr_cli("workflow", "run", str(flow), "--url", ccr.url, "--config", str(config),
                                    home=home)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("[1/2] generate  ok")
    assert lines[1].strip() == "OUT-first"
    assert lines[2].startswith("[2/2] review  ok") and lines[3].strip() == "OUT-second"
    assert lines[-1] == "workflow: 2 of 2 steps succeeded"

    flow.write_text("workflow:\n  - name: only\n    prompt: x\n    options: {colour: red}\n")
    code, out, err = await _ccr_cli("workflow", "run", str(flow), "--url", ccr.url, "--config", str(config),
                                    home=home)
    assert code == 2 and out == ""
    assert "workflow[0] (only).options.colour: unknown option" in err

    code, _, err = await _ccr_cli("workflow", "run", str(flow), "--url", ccr.url, home=home)
    assert code == 1 and "needs the admin key" in err
