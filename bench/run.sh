#!/usr/bin/env bash
# GoFly benchmark: fresh MariaDB database + Redis db, one daphne server, the scenarios of bench/README.md.
#
#   bench/run.sh                 # all scenarios, 60 s each (about 15 minutes)
#   DURATION=15 bench/run.sh a c # shorter runs, only scenarios a and c
#   SERVER=uvicorn bench/run.sh c  # the same against uvicorn instead of daphne
#   SERVER=uvicorn-workers UVICORN_WORKERS=2 bench/run.sh c   # two server processes (CPU/RSS summed)
#
# Results: bench/results/<stamp>/<scenario>.json and summary.md (a table of every run).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
PORT=${PORT:-8090}
DURATION=${DURATION:-60}
SERVER=${SERVER:-daphne}  # daphne, uvicorn (both through manage.py server), uvicorn-workers
RATES_C=${RATES_C:-"100 200 300 400 500 600 700 800"}
VISITORS=${VISITORS:-1000}
VISITORS_D=${VISITORS_D:-5000}
# Logins/handshakes in flight. Each in-flight HTTP request holds its own MariaDB connection (one thread
# per request under ASGI), and MariaDB's default max_connections is 151: beyond ~100 logins land on 500s.
CONCURRENCY=${CONCURRENCY:-50}
CONCURRENCY_D=${CONCURRENCY_D:-$CONCURRENCY}
LOAD_EXTRA=${LOAD_EXTRA:-}   # more load.py options for every run, e.g. "--phase-file /tmp/phase" for profile.sh
SCENARIOS=${*:-a b c d}
DB=gofly_bench
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$ROOT/bench/results/$STAMP-$SERVER}
mkdir -p "$OUT"

# Many sockets on both sides: as high as the hard limit lets us (containers often cap it below 65536).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open files limit: $(ulimit -n); commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' || echo '+changes'); server: $SERVER${UVICORN_WORKERS:+ x$UVICORN_WORKERS}" | tee "$OUT/env.txt"

export DATABASE_URL="mysql://root@127.0.0.1:3306/$DB"
export REDIS_URL="redis://127.0.0.1:6379/5"
export GOFLY_REDIS_PREFIX=goflybench
export GOFLY_VAR_DIR="$ROOT/bench/.var"      # credentials, pid file, secret key: not the app's var/
export GOFLY_AGENT_PASSWORD=${GOFLY_AGENT_PASSWORD:-bench-Secret-2024}
export GOFLY_LOGIN_RATE=${GOFLY_LOGIN_RATE:-1000000}   # all visitors log in from 127.0.0.1
export GOFLY_SOCKETS_PER_IP=${GOFLY_SOCKETS_PER_IP:-1000000}   # ... and connect from it
# One agent sends 200 msg/s in scenario b; the default (60 per 10 s) would refuse 97 % of them.
export GOFLY_RATE_AGENT=${GOFLY_RATE_AGENT:-1000000/10}
export LOG_LEVEL=${LOG_LEVEL:-WARNING}
export DEBUG=0

echo "== fresh database $DB and Redis db 5"
mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
redis-cli -n 5 flushdb >/dev/null
INSTALL_LOG=$("$PY" manage.py install --noinput --force)
echo "$INSTALL_LOG" | sed 's/ \/ .*(/ \/ ***   (/' | tee -a "$OUT/env.txt"
ENT_ID=$(echo "$INSTALL_LOG" | sed -n 's/.*ent_id=\([0-9]*\).*/\1/p' | head -1)
[ -n "$ENT_ID" ] || { echo "could not find ent_id in the install output" >&2; exit 1; }
echo "enterprise id: $ENT_ID"

SERVER_PID=""
start_server() {
    case $SERVER in
    daphne) "$PY" manage.py server -p "$PORT" >"$OUT/server.log" 2>&1 & ;;
    uvicorn)
        if "$PY" manage.py server --help | grep -q -- "--server"; then   # the product's own uvicorn launcher
            GOFLY_ASGI_SERVER=uvicorn "$PY" manage.py server -p "$PORT" >"$OUT/server.log" 2>&1 &
        else
            "$ROOT/.venv/bin/uvicorn" gofly_site.asgi:application --host 127.0.0.1 --port "$PORT" --ws websockets \
                --log-level warning --no-access-log >"$OUT/server.log" 2>&1 &
        fi ;;
    uvicorn-workers)
        "$ROOT/.venv/bin/uvicorn" gofly_site.asgi:application --host 127.0.0.1 --port "$PORT" --ws websockets \
            --workers "${UVICORN_WORKERS:-1}" --log-level warning --no-access-log >"$OUT/server.log" 2>&1 & ;;
    *) echo "unknown SERVER $SERVER" >&2; exit 1 ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" 2>/dev/null || true)
        if [ -n "$code" ] && [ "$code" != 000 ]; then
            echo "server ($SERVER) pid $SERVER_PID on port $PORT"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "server died:"; tail -20 "$OUT/server.log"; exit 1; }
        sleep 0.2
    done
    echo "server did not come up" >&2
    exit 1
}
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"   # background jobs of a script ignore SIGINT
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID"
    fi
    SERVER_PID=""
}
trap stop_server EXIT

load() {  # load NAME [load.py options...]
    local name=$1
    shift
    echo
    echo "== $name: $*"
    "$PY" bench/load.py --url "http://127.0.0.1:$PORT" --ent-id "$ENT_ID" --agent kefu2 \
        --password "$GOFLY_AGENT_PASSWORD" --server-pid "$SERVER_PID" --concurrency "$CONCURRENCY" --json "$@" $LOAD_EXTRA \
        >"$OUT/$name.json" 2> >(tee "$OUT/$name.txt" >&2) || echo "(load.py failed for $name)"
    sleep 3   # let the server close the previous run's sockets before the next one
}

passes() {  # passes FILE P99_MS: p99 below the bound, nothing lost, nothing duplicated, nearly all acked
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
m = r.get("messages") or {}
p99 = (m.get("latency_ms") or {}).get("p99")
ok = (p99 is not None and p99 < float(sys.argv[2]) and m.get("lost") == 0 and m.get("duplicated") == 0
      and m.get("acked") == m.get("sent") and m.get("sent", 0) > 0)
sys.exit(0 if ok else 1)
EOF
}

start_server
sleep 1

for s in $SCENARIOS; do
    case $s in
    a) load a-v2a-200 --visitors "$VISITORS" --agents 1 --rate 200 --duration "$DURATION" --direction visitor-to-agent ;;
    b) load b-a2v-200 --visitors "$VISITORS" --agents 1 --rate 200 --duration "$DURATION" --direction agent-to-visitor ;;
    c) for rate in $RATES_C; do
           load "c-v2a-$rate" --visitors "$VISITORS" --agents 1 --rate "$rate" --duration "$DURATION" --direction visitor-to-agent
           passes "$OUT/c-v2a-$rate.json" 200 || { echo "rate $rate failed the c criteria; stopping the ramp"; break; }
       done ;;
    d) load d-connect-5000 --visitors "$VISITORS_D" --agents 1 --connect-only --hold 10 --concurrency "$CONCURRENCY_D"
       # The same visitors holding tokens already (a reconnect storm after a restart): sockets only.
       load d-reconnect-5000 --visitors "$VISITORS_D" --agents 1 --connect-only --hold 10 --login-first \
           --concurrency "$CONCURRENCY_D" ;;
    *) echo "unknown scenario $s" ;;
    esac
done

stop_server
"$PY" bench/summarize.py "$OUT" | tee "$OUT/summary.md"
echo "results in $OUT"
