"""The registry keeps its promises: each built-in's options schema says what its constructor
takes, every built-in has a test that uses it, and the documented plugin example runs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from ccr.transformers import BUILTIN, Transformer

from .util import chat, create_message, replying, setup

ROOT = Path(__file__).resolve().parents[2]


def keyword_options(cls: type[Transformer]) -> tuple[dict[str, object], bool]:
    """(keyword-only options with their defaults, does it take any other keyword too)."""
    if cls.__init__ is object.__init__:
        return {}, False
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    for parameter in parameters:
        assert parameter.kind in (parameter.KEYWORD_ONLY, parameter.VAR_KEYWORD), (
            f"{cls.name}: option {parameter.name!r} must be keyword-only (config options are keywords)")
    named = {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY}
    return named, any(p.kind is p.VAR_KEYWORD for p in parameters)


@pytest.mark.parametrize("cls", BUILTIN, ids=[cls.name for cls in BUILTIN])
def test_options_schema_matches_the_constructor(cls: type[Transformer]):
    named, open_ended = keyword_options(cls)
    schema = cls.options_schema
    if not named and not open_ended:
        assert schema is None, f"{cls.name} takes no options, so it declares no schema"
        return
    assert schema is not None and schema.get("type") == "object", f"{cls.name}: options need a schema"
    properties = schema.get("properties") or {}
    if open_ended:
        assert schema.get("additionalProperties") is True, f"{cls.name} takes any key: say so in the schema"
        assert set(named) <= set(properties)
    else:
        assert set(properties) == set(named), f"{cls.name}: schema {sorted(properties)} vs __init__ {sorted(named)}"
        assert schema.get("additionalProperties") in (None, False)
    for name, default in named.items():
        if "default" in properties.get(name, {}):
            assert properties[name]["default"] == default, f"{cls.name}.{name}: schema default differs"


def test_names_are_unique_and_each_builtin_is_used_by_a_test():
    names = [cls.name.lower() for cls in BUILTIN]
    assert len(names) == len(set(names)) and all(names)
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    untested = [name for name in names if not re.search(rf"""["']{re.escape(name)}["']""", tests)]
    assert not untested, f"built-in transformers no test names: {untested}"


def readme_plugin() -> str:
    page = (ROOT / "docs" / "transformers.md").read_text()
    found = re.search(r"```python\n# ~/.claude-code-router/plugins/shout\.py\n(.*?)```", page, re.S)
    assert found, "docs/transformers.md: the custom transformer example (plugins/shout.py) is missing"
    return found.group(1)


async def test_the_readme_plugin_example_runs(fake_upstream, ccr_server, tmp_path: Path):
    path = tmp_path / "shout.py"
    path.write_text(readme_plugin())
    pair = await setup(fake_upstream, ccr_server, replying(chat("Hello")), use=[["shout", {"suffix": "!!"}]],
                       transformers=[{"path": str(path), "options": {"suffix": "!"}}])
    message = await create_message(pair, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "Hello!!"
    assert pair.sent["temperature"] == 0.2
    assert pair.up.recorder.headers[-1]["X-Client"] == "ccr"
