#!/usr/bin/env bash
# Prepare this machine for scripts/test.sh: Debian packages, .venv, MariaDB (with a test-only user) and Redis.
#
# Idempotent and quick when everything is already there. Meant for Debian 12 as root (CI runs it so);
# as another user it uses sudo for apt-get when it can and otherwise only checks.
#
# The tests connect to MariaDB as gofly_test_runner over TCP 127.0.0.1:3306, never as root: a fresh Debian
# mariadb-server lets root in only through the unix socket (unix_socket auth), so this script logs in
# as root over the socket once and creates that user with rights on `gofly_test`, `gofly_test_*` and
# `test_gofly_test*` (pytest-django's test databases) only. The user and database names are the tests'
# own: a deployment on this machine (user `gofly`, database `gofly`) is never touched, its password
# never reset.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
DB_NAME="${GOFLY_TEST_DB_NAME:-gofly_test}"
DB_USER="${GOFLY_TEST_DB_USER:-gofly_test_runner}"
DB_PASSWORD="${GOFLY_TEST_DB_PASSWORD:-gofly_test_runner}"
PACKAGES=(python3 python3-venv python3-dev build-essential pkg-config libmariadb-dev mariadb-server mariadb-client
          redis-server chromium fonts-wqy-microhei fonts-noto-color-emoji gettext tzdata make curl nginx-light)
# `setup-test-env.sh run` (used by `make run`): only what building the runtime requirements needs.
MODE="${1:-test}"
if [ "$MODE" = run ]; then
  PACKAGES=(python3 python3-venv python3-dev build-essential pkg-config libmariadb-dev)
fi

log() { printf '==> %s\n' "$*"; }
die() { printf 'setup-test-env: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else SUDO=(none); fi
fi
as_root() {
  if [ "${SUDO[0]:-}" = none ]; then die "needs root for: $*"; fi
  "${SUDO[@]}" "$@"
}

# --- Debian packages ----------------------------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for pkg in "${PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    log "Debian packages present"
  fi
else
  log "not a Debian system: install the equivalents of ${PACKAGES[*]} yourself"
fi

[ "$MODE" = run ] && exit 0

# --- Python virtualenv ---------------------------------------------------------------------------------
python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' >/dev/null 2>&1; }
if ! { [ -x .venv/bin/python ] && python_ok .venv/bin/python; }; then
  PYTHON=""
  for candidate in "${PYTHON:-}" python3.11 python3 /usr/bin/python3; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
      PYTHON="$candidate"; break
    fi
  done
  [ -n "$PYTHON" ] || die "no Python >= 3.11 found (Debian 12: apt-get install python3 python3-venv)"
  log "creating .venv with $PYTHON ($("$PYTHON" --version 2>&1))"
  rm -rf .venv
  "$PYTHON" -m venv .venv
fi
# Reinstall only when a requirements file changed since the last successful install.
stamp=.venv/.gofly-requirements
want="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  log "pip install -r requirements-dev.txt"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
else
  log ".venv up to date"
fi

# --- Redis ----------------------------------------------------------------------------------------------
redis_ok() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null || true)" = PONG ]; }
if ! redis_ok; then
  log "starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 100); do redis_ok && break; sleep 0.1; done
  redis_ok || die "Redis did not answer on 127.0.0.1:6379"
fi
log "Redis up"

# --- MariaDB --------------------------------------------------------------------------------------------
# Admin statements go through the unix socket as root: that works both with Debian's default
# unix_socket auth for root and with an empty root password.
admin_sql() { as_root mariadb --protocol=socket -uroot "$@"; }
if ! admin_sql -e 'select 1' >/dev/null 2>&1; then
  if ! pgrep -x mariadbd >/dev/null 2>&1; then
    log "starting MariaDB"
    as_root install -d -o mysql -g mysql -m 0755 /run/mysqld
    if [ ! -d /var/lib/mysql/mysql ]; then
      as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    fi
    # Debian's own config does not name the user to run as (systemd does); say it, or mariadbd refuses root.
    as_root start-stop-daemon --start --oknodo --background --output /tmp/gofly-mariadbd.log \
      --exec /usr/sbin/mariadbd -- --user=mysql
  fi
  for _ in $(seq 1 120); do admin_sql -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
  admin_sql -e 'select 1' >/dev/null 2>&1 \
    || die "cannot log in to MariaDB as root over the socket (see /tmp/gofly-mariadbd.log)"
fi
log "MariaDB up"

# Time zone tables: Django's time zone-aware date functions on MySQL/MariaDB (TruncDate, __date) need them.
if [ "$(admin_sql -N -e 'select count(*) from mysql.time_zone_name')" = 0 ]; then
  log "loading MariaDB time zone tables"
  mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | admin_sql mysql
fi

# In GRANT patterns `_` matches any character: escaped, the grants cover the test databases and no others.
DB_PATTERN="${DB_NAME//_/\\_}"
# The user exists for the tests alone, so resetting its password (ALTER USER) harms nobody.
admin_sql <<SQL
CREATE DATABASE IF NOT EXISTS \`${DB_NAME}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${DB_USER}'@'127.0.0.1' IDENTIFIED BY '${DB_PASSWORD}';
CREATE USER IF NOT EXISTS '${DB_USER}'@'localhost' IDENTIFIED BY '${DB_PASSWORD}';
ALTER USER '${DB_USER}'@'127.0.0.1' IDENTIFIED BY '${DB_PASSWORD}';
ALTER USER '${DB_USER}'@'localhost' IDENTIFIED BY '${DB_PASSWORD}';
GRANT ALL PRIVILEGES ON \`${DB_NAME}\`.* TO '${DB_USER}'@'127.0.0.1', '${DB_USER}'@'localhost';
GRANT ALL PRIVILEGES ON \`test\\_${DB_PATTERN}%\`.* TO '${DB_USER}'@'127.0.0.1', '${DB_USER}'@'localhost';
GRANT ALL PRIVILEGES ON \`${DB_PATTERN}\\_%\`.* TO '${DB_USER}'@'127.0.0.1', '${DB_USER}'@'localhost';
SQL
mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u"$DB_USER" -p"$DB_PASSWORD" -e 'select 1' "$DB_NAME" >/dev/null \
  || die "user $DB_USER cannot log in over TCP 127.0.0.1:3306"
log "MariaDB user $DB_USER ready: mysql://$DB_USER:***@127.0.0.1:3306/$DB_NAME"
