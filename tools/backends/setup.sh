#!/usr/bin/env bash
# Create .venv-backends at the repo root with phiml + torch (CPU) + jax (CPU)
# pinned in tools/backends/requirements.txt. Idempotent: a stamp file holding
# the hash of the requirements skips the install when nothing changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv-backends"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

die() { echo "setup.sh: ERROR: $*" >&2; exit 1; }

[ -f "$req" ] || die "missing $req"
hash="$(sha256sum "$req" | cut -d' ' -f1)"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
    echo "setup.sh: $venv already satisfies $req (stamp matches); nothing to do"
    exit 0
fi

command -v "$python" >/dev/null 2>&1 || die "'$python' not found; install Python >= 3.10"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup.sh: creating $venv"
    "$python" -m venv "$venv" || die "could not create venv at $venv (is the python3-venv module available?)"
fi

# Guard against an accidental CUDA download: torch must be pinned exactly.
grep -Eq '^torch==2\.13\.0([[:space:]]|$)' "$req" \
    || die "torch is not pinned to ==2.13.0 in $req; refusing (another version downloads a multi-GB CUDA build)"

echo "setup.sh: installing $req into $venv (this can take a few minutes)"
rm -f "$stamp"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check -r "$req"; then
    die "pip could not install $req into $venv; see the pip output above"
fi
# Sanity check: every backend imports and torch is the CPU build.
if ! "$venv/bin/python" - <<'PY'
import importlib.metadata as md
import jax
import phiml
import torch

assert torch.__version__.startswith("2.13.0"), torch.__version__
print("setup.sh: phiml", md.version("phiml"), "| torch", torch.__version__, "| jax", jax.__version__,
      "| jax devices", [d.platform for d in jax.devices()])
PY
then
    die "the backends installed but do not import; see the traceback above"
fi
echo "$hash" > "$stamp"
echo "setup.sh: done"
