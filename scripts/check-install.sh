#!/usr/bin/env bash
# A plain `pip install` (no extras) into a fresh venv must give a `safecity` whose every command starts:
# each subcommand's --help imports its module, so a runtime import listed only in an extra fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
WORK=$(mktemp -d)
VENV=$WORK/venv
trap 'rm -rf "$WORK"' EXIT
# Built from a copy of the project's files, so the build leaves nothing (build/, *.egg-info) in the tree.
mkdir "$WORK/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$WORK/src"
"$PYTHON" -m venv "$VENV"
LOG="$WORK/pip.log"
if ! { "$VENV/bin/python" -m pip install -q --upgrade pip && "$VENV/bin/python" -m pip install -q "$WORK/src"; } \
    > "$LOG" 2>&1; then
    cat "$LOG"
    echo "scripts/check-install.sh: pip install . failed"
    exit 1
fi
cd "$WORK"  # away from the source tree: the installed package must stand on its own
"$VENV/bin/safecity" --help > /dev/null
# Every subcommand's --help, in one process (48 processes each importing the models' libraries took a
# minute of CI): a missing import fails it the same way, and the modules are imported one by one below.
count=$("$VENV/bin/python" - <<'PY'
import argparse
import contextlib
import io
import sys

from safecity_cli.main import build_parser

parser = build_parser()
commands = []
for action in parser._actions:
    if isinstance(action, argparse._SubParsersAction):
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
            commands += [[name, child] for child in nested[0].choices] if nested else [[name]]
for command in commands:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args([*command, "--help"])
        except SystemExit as exc:
            if exc.code not in (0, None):
                sys.exit(f"safecity {' '.join(command)} --help exited {exc.code}")
print(len(commands))
PY
)
# --help stops before a command's own imports: import every module of the installed packages too.
modules=$("$VENV/bin/python" - <<'PY'
import importlib
import pkgutil

count = 0
for package in ("pipeline", "watchlist", "workers", "command_center", "camera_sim", "safecity_cli"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)
        count += 1
print(count)
PY
)
echo "scripts/check-install.sh: a plain install runs safecity --help, $count subcommands' --help and imports $modules modules"
