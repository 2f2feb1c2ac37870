"""The task header: a task's id and settings, written by the runner, read by any router node."""

from __future__ import annotations

import pytest

from ccr.proxy.records import TaskSettings, read_task_header, task_header


@pytest.mark.parametrize("settings", [TaskSettings(), TaskSettings(0.2), TaskSettings(None, "openai,gpt-4.1"),
                                      TaskSettings(0.0, "vertex,publishers/x@001:y-z.1")])
def test_what_the_runner_writes_a_node_reads_back(settings: TaskSettings) -> None:
    value = task_header("task_0a1b", settings)
    assert read_task_header(value) == ("task_0a1b", settings if settings != TaskSettings() else None)


@pytest.mark.parametrize("value,expected", [
    (None, (None, None)),
    ("", (None, None)),
    ("task_1", ("task_1", None)),
    ("task_1; temperature=high", ("task_1", None)),           # not a number
    ("task_1; temperature=1.5", ("task_1", None)),            # out of 0..1
    ("task_1; temperature=nan", ("task_1", None)),
    ("task_1; route=sonnet", ("task_1", None)),               # an alias: left to the CLI
    ("task_1; colour=blue; temperature=0.5", ("task_1", TaskSettings(0.5))),
    (" ; temperature=0.5", (None, TaskSettings(0.5))),
])
def test_what_is_not_understood_is_left_out(value: str | None, expected: tuple[object, object]) -> None:
    assert read_task_header(value) == expected
