#!/usr/bin/env bash
# Builds bundled/libs: the phiml-lint server and all of its dependencies, for every supported
# CPython on linux-x64, so the extension runs with any Python >= 3.10 without installing anything.
#
# Pure-Python packages are identical for every version; compiled modules (libcst's `native`,
# PyYAML's `_yaml`) carry the CPython tag in their file name (native.cpython-311-x86_64-linux-gnu.so),
# so wheels for several versions merge into one tree and Python picks its own. Packages needed only
# by some versions (tomli and exceptiongroup for 3.10, pyyaml-ft for 3.13) are simply present for all.
#
# Usage (from anywhere): scripts/bundle-server.sh
#   PYTHON=python3                          interpreter that builds the wheel (needs PyPI for hatchling, uv, deps)
#   PHIML_LINT_BUNDLE_PYTHONS="3.10 3.11"   CPython versions to bundle (default 3.10 … 3.14)
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

ext_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo_dir="$(cd "$ext_dir/.." && pwd)"
python="${PYTHON:-python3}"
versions="${PHIML_LINT_BUNDLE_PYTHONS:-3.10 3.11 3.12 3.13 3.14}"
out="$ext_dir/bundled/libs"
UV_VERSION=0.13.9

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "bundle-server: building the phiml-lint wheel from $repo_dir"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheel" "$repo_dir"
wheel="$(ls "$work"/wheel/phiml_lint-*.whl)"

# pip evaluates environment markers (tomli; python_version < '3.11') for the Python running it,
# even with --python-version; uv resolves for the requested version, so uv does the per-version
# installs. It comes from PyPI as a wheel, pinned here; UV=/path/to/uv uses another one.
uv="${UV:-}"
if [ -z "$uv" ]; then
  echo "bundle-server: fetching uv $UV_VERSION"
  "$python" -m pip install --quiet --target "$work/uv" "uv==$UV_VERSION"
  uv="$work/uv/bin/uv"
fi

for version in $versions; do
  echo "bundle-server: resolving dependencies for CPython $version"
  "$uv" pip install --quiet --python "$python" --target "$work/py$version" \
    --python-version "$version" --python-platform x86_64-manylinux_2_28 --only-binary :all: \
    "$wheel"
done

echo "bundle-server: merging into bundled/libs"
"$python" - "$work/merged" $(for v in $versions; do printf '%s ' "$work/py$v"; done) <<'PY'
import filecmp, os, shutil, sys

dest, sources = sys.argv[1], sys.argv[2:]
conflicts = []
for src in sources:
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        # Console scripts carry the build machine's interpreter path; the extension never uses them.
        if rel == "bin" or rel.startswith("bin" + os.sep) or "__pycache__" in rel.split(os.sep):
            dirs[:] = []
            continue
        os.makedirs(os.path.join(dest, rel), exist_ok=True)
        for name in files:
            s, d = os.path.join(root, name), os.path.join(dest, rel, name)
            if rel == "." and name.startswith("."):
                continue  # the installer's lock file
            if rel.endswith(".dist-info") and name == "direct_url.json":
                continue  # records the temporary wheel path of this build machine
            if not os.path.exists(d):
                shutil.copy2(s, d)
            elif rel.endswith(".dist-info") and name in ("WHEEL", "RECORD"):
                continue  # per-wheel tags and hashes; the installed files themselves are compared
            elif not filecmp.cmp(s, d, shallow=False):
                conflicts.append(os.path.join(rel, name))
# The same distribution resolved to different versions for different Pythons cannot be merged.
dists = {}
for name in os.listdir(dest):
    if name.endswith(".dist-info"):
        dist = name[: -len(".dist-info")].rsplit("-", 1)[0].lower().replace("_", "-")
        dists.setdefault(dist, []).append(name)
clashes = {d: v for d, v in dists.items() if len(v) > 1}
if conflicts or clashes:
    print("bundle-server: cannot merge the per-version trees:", file=sys.stderr)
    for path in sorted(set(conflicts))[:50]:
        print(f"  differs between versions: {path}", file=sys.stderr)
    for dist, names in sorted(clashes.items()):
        print(f"  several versions of {dist}: {', '.join(sorted(names))}", file=sys.stderr)
    sys.exit(1)
PY

rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$work/merged" "$out"

# Every requested CPython must have its compiled libcst core.
for version in $versions; do
  if ! ls "$out"/libcst/native.cpython-"${version/./}"-*.so >/dev/null 2>&1; then
    echo "bundle-server: libcst has no compiled module for CPython $version" >&2
    exit 1
  fi
done
echo "bundle-server: $(du -sh "$out" | cut -f1) in bundled/libs ($(ls "$out" | grep -c dist-info) distributions; CPython $versions)"
