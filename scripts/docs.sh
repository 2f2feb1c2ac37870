#!/usr/bin/env bash
# Check the docs: the generated parts match the code (cog), the README's links point at files
# that exist, and the MkDocs site builds with no warning (a broken link or anchor fails).
# `bash scripts/docs.sh --fix` regenerates the generated parts instead of checking them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export NO_MKDOCS_2_WARNING=1 PYTHONPATH="scripts${PYTHONPATH:+:$PYTHONPATH}"
pages=(docs/transformers.md docs/cli.md)

if [ "${1:-}" = "--fix" ]; then
    "$PY" -m cogapp -r "${pages[@]}"
    exit 0
fi
if ! "$PY" -m cogapp --check --diff "${pages[@]}"; then
    echo "docs: generated parts are out of date; run: bash scripts/docs.sh --fix" >&2
    exit 1
fi
"$PY" scripts/docgen.py check-links README.md
"$PY" -m mkdocs build --strict --quiet
