#!/usr/bin/env bash
# Static checks, each of which fails the run: ruff (lint), mypy --strict (types) and import-linter
# (the layer contracts in .importlinter). scripts/test.sh runs this before pytest, so CI does too.
# Alone: `bash scripts/checks.sh` once scripts/test.sh has built .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin

# In the repository transformers/ and ui/ are installed as ccr.transformers and ccr.ui (setup.cfg
# package_dir), a layout mypy and import-linter cannot see from the source tree. They read a view
# laid out as installed: hard links (a copy where links are impossible), rebuilt on every run.
view=.cache/view
mkdir -p .cache
exec 9>.cache/checks.lock && flock 9   # two runs at once would rebuild the view under each other
rm -rf "$view" && mkdir -p "$view"
cp -al ccr "$view/ccr" 2>/dev/null || cp -rp ccr "$view/ccr"
cp -al transformers "$view/ccr/transformers" 2>/dev/null || cp -rp transformers "$view/ccr/transformers"
cp -al ui "$view/ccr/ui" 2>/dev/null || cp -rp ui "$view/ccr/ui"

status=0
echo "== ruff"
"$bin/ruff" check --quiet --output-format concise . || status=1

echo "== mypy --strict -p ccr"
# error lines name the view's paths; print the repository's instead
MYPYPATH="$view" "$bin/mypy" --no-error-summary -p ccr \
    | sed -e "s#^$view/ccr/transformers/#transformers/#" -e "s#^$view/ccr/ui/#ui/#" -e "s#^$view/ccr/#ccr/#" \
    || status=1

echo "== import contracts"
# run from inside the view: import-linter puts the working directory first on sys.path
(cd "$view" && ../../"$bin/lint-imports" --no-logo --cache-dir ../import-linter ../../.importlinter \
    > ../import-linter.out 2>&1) || { cat .cache/import-linter.out; status=1; }

[ "$status" -eq 0 ] && echo "checks: ruff, mypy, import contracts all pass"
exit "$status"
