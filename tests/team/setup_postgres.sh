#!/usr/bin/env bash
# Installs what the team-store tests (tests/team) and tests/bench/team_load.py need: a PostgreSQL
# server's binaries (initdb, pg_ctl). Idempotent and instant when they are there: on PATH or
# under /usr/lib/postgresql/*/bin (Debian's packages put them there, off PATH). The tests start
# their own throwaway server in a temp dir; nothing is configured system-wide.
set -euo pipefail
say() { echo "team setup: $*"; }

found() {
    command -v initdb >/dev/null && command -v pg_ctl >/dev/null && return 0
    compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null && return 0
    return 1
}

if ! found; then
    say "apt-get install postgresql"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "team setup: need root (or sudo) to install postgresql" >&2; exit 1; }
        SUDO=sudo
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq postgresql >/dev/null
    found || { echo "team setup: postgresql installed but initdb/pg_ctl not found" >&2; exit 1; }
fi
# as root the tests run the server as the `postgres` user (initdb refuses root); Debian's
# package makes that user
if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1; then
    say "useradd postgres"
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
