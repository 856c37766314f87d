#!/usr/bin/env bash
# Makes ./.venv hold exactly what requirements.txt pins; safe to run from many processes at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$root/requirements.txt" | cut -d' ' -f1)

# Test binaries run in parallel and may all find the venv missing: one installs, the rest wait.
exec 9>"$root/.venv.lock"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements.txt"
echo "$want" > "$stamp"
