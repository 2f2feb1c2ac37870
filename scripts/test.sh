#!/usr/bin/env bash
# Install everything the tests need, then run them: a virtualenv with ccr and its test extras,
# the pinned Claude Code CLI (npm, into .cache/), and Debian's Chromium for the UI tests.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k stream`.
set -euo pipefail
cd "$(dirname "$0")/.."

CLAUDE_CODE_VERSION=2.1.330
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,fast]'

claude=.cache/claude-cli/node_modules/.bin/claude
if ! { [ -x "$claude" ] && "$claude" --version 2>/dev/null | grep -q "^$CLAUDE_CODE_VERSION "; }; then
    echo "installing the Claude Code CLI $CLAUDE_CODE_VERSION into .cache/claude-cli" >&2
    npm install --silent --no-audit --no-fund --prefix .cache/claude-cli \
        "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >&2
fi
export CCR_TEST_CLAUDE="$PWD/$claude"

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian's chromium for the UI tests" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
fi
export CCR_TEST_CHROMIUM="$(command -v chromium)"

bash scripts/docs.sh
exec .venv/bin/python -m pytest "$@"
