#!/usr/bin/env bash
# Install the e2e harness (code-server + playwright-core) reproducibly from package-lock.json.
#
# code-server's postinstall runs a nested `npm install` inside lib/vscode whose @vscode/ripgrep
# wants to download `rg` from GitHub (unreachable here). @vscode/ripgrep first looks in a cache
# under $TMPDIR, so we seed that cache with Debian's ripgrep (apt-get install ripgrep).
# System packages needed: ripgrep, libkrb5-dev (kerberos native module), a C/C++ toolchain.
set -euo pipefail
cd "$(dirname "$0")"

# @vscode/ripgrep version pinned by code-server 4.100.3's lib/vscode/npm-shrinkwrap.json,
# and the asset name its lib/postinstall.js asks for on linux-x64.
RIPGREP_PKG_VERSION=1.15.11
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

rg_bin="$(command -v rg || true)"
if [ -z "$rg_bin" ]; then
  echo "install.sh: ripgrep not found on PATH; run: apt-get install -y ripgrep" >&2
  exit 1
fi
if ! [ -e /usr/include/krb5.h ] && ! [ -e /usr/include/gssapi/gssapi.h ]; then
  echo "install.sh: Kerberos headers missing; run: apt-get install -y libkrb5-dev" >&2
  exit 1
fi

work_tmp="$(mktemp -d)"
trap 'rm -rf "$work_tmp"' EXIT
mkdir -p "$work_tmp/stage" "$work_tmp/vscode-ripgrep-cache-$RIPGREP_PKG_VERSION"
cp "$rg_bin" "$work_tmp/stage/rg"
tar czf "$work_tmp/vscode-ripgrep-cache-$RIPGREP_PKG_VERSION/$RIPGREP_ASSET" -C "$work_tmp/stage" rg

# unsafe_perm: code-server's postinstall refuses to run as root without it.
# yes: node-pty's build calls npx, which must not prompt.
TMPDIR="$work_tmp" npm_config_unsafe_perm=true npm_config_yes=true npm ci --no-audit --no-fund

rg_installed=node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg
if ! [ -x "$rg_installed" ]; then
  echo "install.sh: $rg_installed is missing after install" >&2
  exit 1
fi
echo "install.sh: code-server $(node -p "require('./node_modules/code-server/package.json').version") ready"
