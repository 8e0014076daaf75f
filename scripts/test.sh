#!/usr/bin/env bash
# The full check: lint, formatting, types, migrations, translations, then the test suite twice:
# on MariaDB + Redis (as deployed, 2 xdist workers) and on the embedded default (SQLite, in-memory).
#
#   scripts/test.sh                 everything (run scripts/setup-test-env.sh first, or `make test`)
#   scripts/test.sh -k consumers    extra arguments go to both pytest runs
#
# Every step runs even when an earlier one failed; the exit code is non-zero if any failed.
# Logs, JUnit XML and whatever the tests save (screenshots, server logs) land in test-artifacts/.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
PY="$ROOT/.venv/bin/python"
ART="$ROOT/test-artifacts"
# The test-only user and database of scripts/setup-test-env.sh, never a deployment's.
DB_USER="${GOFLY_TEST_DB_USER:-gofly_test_runner}"
DB_PASSWORD="${GOFLY_TEST_DB_PASSWORD:-gofly_test_runner}"
DB_NAME="${GOFLY_TEST_DB_NAME:-gofly_test}"
MARIADB_URL="${GOFLY_TEST_DATABASE_URL:-mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:3306/$DB_NAME}"
TEST_REDIS_URL="${GOFLY_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
WORKERS="${GOFLY_TEST_WORKERS:-2}"
PYTEST_TIMEOUT="${GOFLY_TEST_TIMEOUT:-2400}"   # seconds per pytest run; CI allows 90 minutes in all

[ -x "$PY" ] || { echo "no .venv: run scripts/setup-test-env.sh (or make test)"; exit 1; }
rm -rf "$ART"
mkdir -p "$ART"
export PYTHONUNBUFFERED=1
# This script decides which database and Redis each run uses.
unset DATABASE_URL REDIS_URL GOFLY_TEST_REDIS_DB_PER_WORKER
if [ -f config/mysql.json ]; then
  echo "warning: config/mysql.json exists, so the 'embedded' run below uses that MySQL database, not SQLite"
fi

declare -a SUMMARY=()
FAILED=0

# step NAME LOGFILE CMD...: run CMD, show and keep its output, record the outcome.
step() {
  local name="$1" log="$ART/$2.log"; shift 2
  printf '\n======== %s ========\n' "$name"
  local start=$SECONDS
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local took=$((SECONDS - start))
  if [ "$rc" = 0 ]; then
    SUMMARY+=("$(printf 'PASS  %-44s %4ss' "$name" "$took")")
  else
    SUMMARY+=("$(printf 'FAIL  %-44s %4ss  (exit %s, log %s)' "$name" "$took" "$rc" "${log#"$ROOT"/}")")
    FAILED=1
  fi
  return 0
}

# shellcheck disable=SC2317  # called through step
run_pytest() {  # run_pytest LABEL [env assignments...] -- [pytest args...]
  local label="$1"; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  mkdir -p "$ART/$label/var"
  # GOFLY_VAR_DIR keeps test databases, pid files and keys out of the developer's var/.
  env -u DATABASE_URL -u REDIS_URL "${envs[@]}" GOFLY_VAR_DIR="$ART/$label/var" \
    timeout --signal=INT --kill-after=60 "$PYTEST_TIMEOUT" \
    "$PY" -m pytest -n "$WORKERS" -ra --durations=15 \
      --junitxml="$ART/junit-$label.xml" -o junit_family=xunit2 -o junit_suite_name="$label" \
      "$@"
}

step "ruff check" ruff "$PY" -m ruff check .
step "ruff format --check" ruff-format "$PY" -m ruff format --check .
step "mypy" mypy "$PY" -m mypy .
step "makemigrations --check" makemigrations \
  env GOFLY_VAR_DIR="$ART/makemigrations-var" "$PY" manage.py makemigrations --check --dry-run
step "translations (scripts/i18n.sh check)" translations bash scripts/i18n.sh check
step "pytest on MariaDB + Redis" pytest-mariadb \
  run_pytest mariadb DATABASE_URL="$MARIADB_URL" REDIS_URL="$TEST_REDIS_URL" GOFLY_TEST_REDIS_DB_PER_WORKER=1 -- "$@"
step "pytest on the embedded default (SQLite)" pytest-embedded \
  run_pytest embedded -- "$@"

# The fault tests' figures (tests/faults), one line per scenario, where they ran (MariaDB + Redis).
if compgen -G "$ART/faults/*.txt" >/dev/null; then
  printf '\n======== fault tests: created / stored / lost / doubled / missing / recovery ========\n'
  for report in "$ART"/faults/*.txt; do head -n 1 "$report"; done
fi

printf '\n======== summary ========\n'
printf '%s\n' "${SUMMARY[@]}"
echo "artifacts: ${ART#"$ROOT"/}/"
if [ "$FAILED" = 0 ]; then echo "ALL CHECKS PASSED"; else echo "SOME CHECKS FAILED"; fi
# The closing line CI reads: the tests of both pytest runs, counted from their JUnit reports.
"$PY" - "$ART"/junit-*.xml <<'PYEOF'
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        continue
    for suite in [root] if root.tag == "testsuite" else root.iter("testsuite"):
        tests, fails = int(suite.get("tests", 0)), int(suite.get("failures", 0))
        errors, skips = int(suite.get("errors", 0)), int(suite.get("skipped", 0))
        passed += tests - fails - errors - skips
        failed += fails + errors
        skipped += skips
print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
PYEOF
exit "$FAILED"
