#!/usr/bin/env bash
# Profile the server while bench/load.py is in a given phase (default: send).
#   bench/profile.sh SERVER_PID PHASE_FILE OUT_PREFIX [SECONDS] [PHASE]
# Writes OUT_PREFIX.gil.txt (only the thread holding the GIL: where the server's Python CPU goes) and
# OUT_PREFIX.wall.txt (every thread, idle excluded: where a request waits). Both in py-spy's raw format;
# bench/pyspy_top.py turns them into tables.
set -euo pipefail
PID=$1 PHASE_FILE=$2 OUT=$3 SECS=${4:-10} PHASE=${5:-send}
PYSPY=${PYSPY:-$(dirname "$0")/../.venv/bin/py-spy}
for _ in $(seq 1 1200); do
    [ "$(cat "$PHASE_FILE" 2>/dev/null)" = "$PHASE" ] && break
    sleep 0.1
done
sleep 1
"$PYSPY" record --pid "$PID" --duration "$SECS" --rate 100 --format raw --gil --nonblocking -o "$OUT.gil.txt" >/dev/null 2>&1
"$PYSPY" record --pid "$PID" --duration "$SECS" --rate 100 --format raw --threads --nonblocking -o "$OUT.wall.txt" >/dev/null 2>&1
echo "profiles: $OUT.gil.txt $OUT.wall.txt"
