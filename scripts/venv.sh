#!/usr/bin/env bash
# Makes ./.venv hold what the given requirements files pin (default: requirements.txt).
# Safe to run from many processes at once, and quick when nothing changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
[ $# -gt 0 ] || set -- requirements.txt

# Test binaries run in parallel and may all find the venv missing: one installs, the rest wait.
exec 9>"$root/.venv.lock"
flock 9
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
for file in "$@"; do
  stamp="$venv/.$(basename "$file").sha256"
  want=$(sha256sum "$root/$file" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    continue
  fi
  echo "installing the Python tools of $file into .venv ..." >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/$file"
  echo "$want" > "$stamp"
done
