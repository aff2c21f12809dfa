#!/usr/bin/env bash
# Installs semgrep for the export tests (tests/export) and tests/bench/export.py in a virtual
# environment of its own, .venv-tools/semgrep, where memory/export/check.py finds it
# (KENETIC_SEMGREP still overrides). Not in .venv: semgrep pins mcp 1.x (kenetic's `agent` extra
# and `kenetic mcp` need mcp 2) and older click, jsonschema and OpenTelemetry, so it would
# downgrade them there. Idempotent and instant when done: a stamp names the pinned version.
set -euo pipefail

SEMGREP_VERSION=1.187.0
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$REPO/.venv-tools/semgrep"
STAMP="$TOOLS/.installed-semgrep-$SEMGREP_VERSION"
PY="${PY:-python3}"
say() { echo "export setup: $*"; }

if [ -f "$STAMP" ] && [ -x "$TOOLS/bin/semgrep" ]; then
    exit 0
fi

say "semgrep==$SEMGREP_VERSION into .venv-tools/semgrep"
# a half-made environment (an interrupted install) or another version: start from nothing
rm -rf "$TOOLS"
"$PY" -m venv "$TOOLS"
"$TOOLS/bin/pip" install -q --disable-pip-version-check "semgrep==$SEMGREP_VERSION"
# the same switches the tests use: no metrics, no version check, so this does not go online either
got="$(SEMGREP_SEND_METRICS=off SEMGREP_ENABLE_VERSION_CHECK=0 "$TOOLS/bin/semgrep" --version)"
if [ "$got" != "$SEMGREP_VERSION" ]; then
    echo "export setup: .venv-tools/semgrep/bin/semgrep says '$got', not $SEMGREP_VERSION" >&2
    exit 1
fi
touch "$STAMP"
say "ready"
