#!/usr/bin/env bash
# Install everything the tests need, then run them: a virtualenv with ccr and its test extras,
# the pinned Claude Code CLI (npm, into .cache/), and Debian's Chromium for the UI tests.
# scripts/checks.sh (ruff, mypy, import contracts) runs before pytest. Extra arguments go to
# pytest, e.g. `bash scripts/test.sh -k stream`.
set -euo pipefail
cd "$(dirname "$0")/.."

CLAUDE_CODE_VERSION=2.1.330
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,fast]'

# lint, types and import contracts first: a new violation fails the run like a failing test.
# CCR_SKIP_CHECKS=1 leaves them out of a quick targeted run (never in CI).
[ -n "${CCR_SKIP_CHECKS:-}" ] || bash scripts/checks.sh

claude=.cache/claude-cli/node_modules/.bin/claude
if ! { [ -x "$claude" ] && "$claude" --version 2>/dev/null | grep -q "^$CLAUDE_CODE_VERSION "; }; then
    echo "installing the Claude Code CLI $CLAUDE_CODE_VERSION into .cache/claude-cli" >&2
    npm install --silent --no-audit --no-fund --prefix .cache/claude-cli \
        "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >&2
fi
export CCR_TEST_CLAUDE="$PWD/$claude"

# Debian packages the tests start themselves: Chromium (UI), PostgreSQL (shared database),
# nginx (the load balancer in front of two nodes). Their services are not started on install.
apt_install() {
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing Debian's $* for the tests" >&2
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
    $sudo rm -f /usr/sbin/policy-rc.d
}
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
export CCR_TEST_CHROMIUM="$(command -v chromium)"

bash scripts/docs.sh
exec .venv/bin/python -m pytest "$@"
