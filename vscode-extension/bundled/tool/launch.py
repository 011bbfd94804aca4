"""Start the phiml-lint language server that ships inside the VS Code extension.

Usage: ``<python> bundled/tool/launch.py [server options]``. Puts ``bundled/libs`` (the server
and all its dependencies, built by ``scripts/bundle-server.sh``) first on ``sys.path`` so that
whatever is installed in the interpreter's own environment cannot shadow them, then runs
``phiml_lint.cli.main(["server", ...])``, which speaks LSP over stdin/stdout.
"""

import os
import sys

MIN_PYTHON = (3, 10)
TOOL_DIR = os.path.dirname(os.path.abspath(__file__))
LIBS_DIR = os.path.join(os.path.dirname(TOOL_DIR), "libs")


def _fail(message: str) -> int:
    # stdout belongs to the LSP stream: errors go to stderr (shown in the "PhiML Lint" output).
    sys.stderr.write(f"phiml-lint (bundled): {message}\n")
    sys.stderr.flush()
    return 1


def _native_tags() -> list:
    """CPython versions the bundled libcst has a compiled ``native`` module for."""
    libcst_dir = os.path.join(LIBS_DIR, "libcst")
    try:
        names = os.listdir(libcst_dir)
    except OSError:
        return []
    return sorted(n.split(".")[1] for n in names if n.startswith("native.") and n.endswith(".so"))


def main() -> int:
    version = ".".join(str(part) for part in sys.version_info[:3])
    if sys.version_info[:2] < MIN_PYTHON:
        return _fail(
            f"Python {version} at {sys.executable} is too old; phiml-lint needs Python >= "
            f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]}. Set phimlLint.interpreter or pick another interpreter."
        )
    if not os.path.isdir(os.path.join(LIBS_DIR, "phiml_lint")):
        return _fail(f"the bundled server is missing from {LIBS_DIR}; build it with `npm run bundle-server`")
    # The tool directory itself need not be importable; the bundle must win over site-packages.
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == TOOL_DIR:
        del sys.path[0]
    sys.path.insert(0, LIBS_DIR)
    try:
        from phiml_lint.cli import main as cli_main
    except ImportError as error:
        tags = _native_tags()
        hint = f" (the bundle has compiled modules for: {', '.join(tags)})" if tags else ""
        return _fail(f"cannot import the bundled server with Python {version} at {sys.executable}: {error}{hint}")
    return cli_main(["server", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
