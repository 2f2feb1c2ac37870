"""Workflows: steps run in order; `use_context` hands earlier outputs to a step, `critical`
stops the workflow when that step fails.

    workflow:
      - name: code_generation
        prompt: Write a quicksort in Python
        critical: true
      - name: code_analysis
        prompt: Analyse the time complexity of the code above
        use_context: true
        options: {timeout: 120}

The same definition is accepted as JSON (`{"workflow": [...]}`) or YAML (pyyaml's safe
loader); a bare list of steps is accepted too. Errors name the step and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ccr.config.claude_code import ExecSettings
from ccr.errors import RequestError

from .options import RunRequest, parse_options, parse_prompt

__all__ = ["Step", "parse_workflow", "load_yaml", "with_context", "summary"]

_STEP_KEYS = ("name", "prompt", "options", "critical", "use_context")


@dataclass(frozen=True, slots=True)
class Step:
    number: int           # 1-based
    name: str
    run: RunRequest
    critical: bool
    use_context: bool


def load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise RequestError(f"workflow: the YAML is not valid{where}: {problem}") from None
    except RecursionError:  # PyYAML's parser recurses once per level of nesting
        raise RequestError("workflow: the YAML is nested too deeply") from None


def _label(index: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"workflow[{index}]" + (f" ({name})" if isinstance(name, str) and name.strip() else "")


def parse_workflow(data: Any, settings: ExecSettings) -> list[Step]:
    steps_data = data.get("workflow") if isinstance(data, dict) else data
    if isinstance(data, dict):
        extra = sorted(set(data) - {"workflow", "name", "description"})
        if extra:
            raise RequestError(f"workflow: unknown top-level field {extra[0]!r} "
                               "(expected workflow, and optionally name and description)")
    if not isinstance(steps_data, list) or not steps_data:
        raise RequestError("workflow: missing; send a non-empty list of steps, each with name and prompt")
    if len(steps_data) > settings.max_batch:
        raise RequestError(f"workflow: {len(steps_data)} steps exceed ClaudeCode.max_batch ({settings.max_batch})")
    steps: list[Step] = []
    seen: set[str] = set()
    for i, item in enumerate(steps_data):
        at = _label(i, item)
        if not isinstance(item, dict):
            raise RequestError(f"{at}: expected a step object with name and prompt, got {type(item).__name__}")
        for key in item:
            if key not in _STEP_KEYS:
                raise RequestError(f"{at}.{key}: unknown field (a step has {', '.join(_STEP_KEYS)})")
        name = item.get("name", f"step_{i + 1}")
        if not isinstance(name, str) or not name.strip():
            raise RequestError(f"{at}.name: expected a non-empty string")
        name = name.strip()
        if name in seen:
            raise RequestError(f"{at}.name: {name!r} is used by an earlier step; names must be unique")
        seen.add(name)
        flags = {}
        for key in ("critical", "use_context"):
            value = item.get(key, False)
            if not isinstance(value, bool):
                raise RequestError(f"{at}.{key}: expected true or false, got {value!r}")
            flags[key] = value
        prompt = parse_prompt(item.get("prompt"), settings, f"{at}.prompt")
        raw_options = item.get("options") or {}
        options = parse_options(raw_options, settings, f"{at}.options")
        run = RunRequest(prompt, options, dict(raw_options) if isinstance(raw_options, dict) else {})
        steps.append(Step(i + 1, name, run, flags["critical"], flags["use_context"]))
    return steps


def with_context(prompt: str, context: dict[str, str]) -> str:
    """The step's prompt preceded by the outputs of the earlier steps."""
    if not context:
        return prompt
    parts = ["Results of the previous steps of this workflow:"]
    for name, output in context.items():
        parts.append(f"\n### {name}\n{output}")
    parts.append(f"\n### Your task\n{prompt}")
    return "\n".join(parts)


def summary(results: list[dict[str, Any]], total: int, context: dict[str, str],
            stopped_at: str | None) -> dict[str, Any]:
    successful = sum(1 for r in results if r["success"])
    answer: dict[str, Any] = {
        "success": successful == total,
        "total_steps": total,
        "completed_steps": len(results),
        "successful_steps": successful,
        "failed_steps": len(results) - successful,
        "results": results,
        "final_context": context,
    }
    if stopped_at is not None:
        answer["stopped_at"] = stopped_at
    return answer
