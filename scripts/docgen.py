"""The parts of the docs that are generated from the code, so they cannot drift.

scripts/docs.sh runs cog over the pages: each block between `<!-- [[[cog ... ]]] -->` and
`<!-- [[[end]]] -->` is the output of one of these functions, and `cog --check` fails when a
page no longer matches the code.

    <!-- [[[cog import docgen; docgen.catalogue()]]] -->
    ...the table...
    <!-- [[[end]]] -->
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from typing import Any

WIDTH = "100"  # argparse wraps to $COLUMNS: a fixed width, whatever the terminal


def _summary(cls: type) -> str:
    """The first sentence of the transformer's module docstring, without its "`name`: " lead."""
    doc = (sys.modules[cls.__module__].__doc__ or "").strip()
    first = doc.split("\n\n", 1)[0].replace("\n", " ")
    first = re.sub(r"^`[\w-]+`:\s*", "", first)
    return first[:1].upper() + first[1:]


def _options(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "—"
    names = list(schema.get("properties", {}))
    required = set(schema.get("required", []))
    shown = [f"`{n}`" + (" (required)" if n in required else "") for n in names]
    if schema.get("additionalProperties") not in (None, False):
        shown.append("any other key")
    return ", ".join(shown) or "—"


def catalogue() -> None:
    """Every built-in transformer: name, kind, options, what it is for."""
    import cog

    from ccr.transformers import builtin_registry

    cog.outl("| Name | Kind | Options | What it is for |")
    cog.outl("|---|---|---|---|")
    for name, entry in builtin_registry().items():
        cls = entry.cls
        kind = "dialect" + (" (default)" if name == "openai" else "") if cls.dialect else "adjuster"
        summary = _summary(cls).replace("|", "\\|")
        cog.outl(f"| `{cls.name}` | {kind} | {_options(cls.options_schema)} | {summary} |")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_help() -> None:
    """`ccr --help` and every command's `--help`, as the installed command prints them."""
    import cog

    from ccr.cli.main import _parser, main

    os.environ["COLUMNS"] = WIDTH
    commands = [""]
    for name, sub in _subcommands(_parser()).items():
        if name != "help":
            commands += [name] + [f"{name} {action}" for action in _subcommands(sub)]
    for command in commands:
        argv = [*command.split(), "--help"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main(argv)
        cog.outl(f"### `ccr {command + ' ' if command else ''}--help`\n")
        cog.outl("```text")
        cog.out(out.getvalue())
        cog.outl("```\n")


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def broken_links(path: str) -> list[str]:
    """Relative links of a Markdown file (outside code blocks) whose file or heading is missing."""
    from pathlib import Path

    page = Path(path)
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s):, mailto: — outside the repository
        file, _, anchor = target.partition("#")
        linked = (page.parent / file) if file else page
        if not linked.exists():
            broken.append(f"{path}: {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{path}: {target}: no heading #{anchor} in {linked}")
    return broken


def _anchors(page: Any) -> set[str]:
    """GitHub's and MkDocs' heading ids: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    found = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


if __name__ == "__main__" and sys.argv[1:2] == ["check-links"]:
    problems = [p for name in sys.argv[2:] for p in broken_links(name)]
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)
