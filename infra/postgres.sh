#!/usr/bin/env bash
# The departments' exchange database (前置库) on loopback: a PostgreSQL server from Debian's package.
#   infra/postgres.sh start     installs the server if missing, creates the cluster the first time,
#                               starts it (127.0.0.1 only, unix socket in the cluster folder), makes
#                               sure role and database exist, prints the exports that point citylake
#                               at it (eval "$(infra/postgres.sh start)"); when already running it only
#                               checks role and database and prints the exports
#   infra/postgres.sh stop      pg_ctl stop -m fast
#   infra/postgres.sh env       prints the exports only
#   infra/postgres.sh install   installs Debian's postgresql package if no server is found (setup.sh)
# Port, names and folders: CITYLAKE_DEPARTMENTS_DB_PORT (5433), CITYLAKE_DEPARTMENTS_DB_NAME
# (departments), CITYLAKE_DEPARTMENTS_DB_USER (citylake), CITYLAKE_DEPARTMENTS_DB_PASSWORD
# (citylake), CITYLAKE_DATA_DIR (data/).
#
# The cluster lives in $CITYLAKE_DATA_DIR/postgres, owned by the `postgres` OS user (PostgreSQL
# refuses to run as root; as root the server runs through `runuser -u postgres`). When that user
# cannot reach the folder (a parent such as /root or pytest's temporary folders is 0700), or its
# socket path would pass the 107-byte limit of unix sockets, the cluster goes to
# ~postgres/citylake/<hash of the folder> instead and $CITYLAKE_DATA_DIR/postgres is a symlink to
# it: the same data folder always finds the same cluster, and no permission is loosened.
# Messages go to stderr, exports to stdout.
set -euo pipefail
CALLER=$(pwd)
cd "$(dirname "$0")/.."
DATA=${CITYLAKE_DATA_DIR:-$(pwd)/data}
case "$DATA" in /*) ;; *) DATA="$CALLER/$DATA" ;; esac  # relative to the caller, as in settings.py
PORT=${CITYLAKE_DEPARTMENTS_DB_PORT:-5433}
DB=${CITYLAKE_DEPARTMENTS_DB_NAME:-departments}
DB_USER=${CITYLAKE_DEPARTMENTS_DB_USER:-citylake}
DB_PASSWORD=${CITYLAKE_DEPARTMENTS_DB_PASSWORD:-citylake}
LINK="$DATA/postgres"

say() { echo "postgres: $*" >&2; }

exports() {
  cat <<EOT
export CITYLAKE_DEPARTMENTS_DB_HOST=127.0.0.1
export CITYLAKE_DEPARTMENTS_DB_PORT=$PORT
export CITYLAKE_DEPARTMENTS_DB_NAME=$DB
export CITYLAKE_DEPARTMENTS_DB_USER=$DB_USER
export CITYLAKE_DEPARTMENTS_DB_PASSWORD=$DB_PASSWORD
EOT
}

if [ "$(id -u)" = 0 ]; then
  SERVER_USER=postgres
  # from / so that the postgres user never needs the caller's working directory
  as_server() { (cd / && runuser -u postgres -- "$@"); }
else
  SERVER_USER=$(id -un)
  as_server() { "$@"; }
fi

# The newest installed server, or the version the cluster was made with.
server_bin() {
  local cluster=${1:-} version
  if [ -n "$cluster" ] && [ -f "$cluster/PG_VERSION" ]; then
    version=$(cat "$cluster/PG_VERSION")
    [ -x "/usr/lib/postgresql/$version/bin/postgres" ] \
      || { say "the cluster in $cluster is PostgreSQL $version, whose server is not installed"; exit 1; }
    echo "/usr/lib/postgresql/$version/bin"; return
  fi
  # shellcheck disable=SC2012
  { ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null || true; } | sort -V | tail -1 | xargs -r dirname
}

install_server() {
  [ -n "$(server_bin)" ] && return 0
  [ "$(id -u)" = 0 ] || { say "no PostgreSQL server in /usr/lib/postgresql; install Debian's postgresql package"; exit 1; }
  say "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q postgresql >&2; then
    apt-get update -q >&2
    apt-get install -y -q postgresql >&2
  fi
  [ -n "$(server_bin)" ] || { say "postgresql installed but no /usr/lib/postgresql/*/bin/initdb"; exit 1; }
}

# Where the cluster is: the folder itself, or the fallback its symlink points to (see the header).
cluster_dir() {
  if [ -L "$LINK" ]; then readlink "$LINK"; return; fi
  if [ -e "$LINK" ]; then echo "$LINK"; return; fi
  local socket="$LINK/.s.PGSQL.$PORT"
  if [ ${#socket} -le 100 ] && as_server test -x "$DATA" 2>/dev/null; then
    echo "$LINK"; return
  fi
  [ "$(id -u)" = 0 ] || { echo "$LINK"; return; }
  local home
  home=$(getent passwd postgres | cut -d: -f6)
  echo "${home:-/var/lib/postgresql}/citylake/$(printf '%s' "$DATA" | sha256sum | cut -c1-16)"
}

running() { [ -f "$1/postmaster.pid" ] && as_server "$2/pg_ctl" status -D "$1" >/dev/null 2>&1; }

# psql as the server's superuser over the unix socket in the cluster folder (peer authentication).
admin_sql() {
  as_server "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$CLUSTER" -p "$PORT" -U "$SERVER_USER" \
    -d postgres -v user="$DB_USER" -v password="$DB_PASSWORD" -v db="$DB" "$@"
}

case "${1:-}" in
  install)
    install_server
    say "server present in $(server_bin)" ;;
  start)
    install_server
    mkdir -p "$DATA"
    CLUSTER=$(cluster_dir)
    if [ "$CLUSTER" != "$LINK" ] && [ ! -L "$LINK" ]; then
      say "$LINK is not reachable by the postgres user (or its socket path is too long): cluster in $CLUSTER"
      ln -s "$CLUSTER" "$LINK"
    fi
    if [ ! -f "$CLUSTER/PG_VERSION" ]; then
      BIN=$(server_bin)
      mkdir -p "$CLUSTER"
      [ -z "$(ls -A "$CLUSTER")" ] || { say "$CLUSTER is not empty and holds no cluster"; exit 1; }
      chown "$SERVER_USER:" "$CLUSTER"; chmod 700 "$CLUSTER"
      say "creating the cluster in $CLUSTER"
      as_server "$BIN/initdb" -D "$CLUSTER" -U "$SERVER_USER" --encoding=UTF8 --no-locale \
        --auth-local=peer --auth-host=scram-sha-256 >/dev/null
      echo "include_if_exists = 'citylake.conf'" >> "$CLUSTER/postgresql.conf"
    fi
    BIN=$(server_bin "$CLUSTER")
    if running "$CLUSTER" "$BIN"; then
      serving=$(sed -n 4p "$CLUSTER/postmaster.pid")
      [ "$serving" = "$PORT" ] || { say "already running on port $serving (not $PORT): exporting $serving"; PORT=$serving; }
      say "already running on 127.0.0.1:$PORT (cluster $CLUSTER)"
    else
      # rewritten on every start, so a changed port takes effect
      cat > "$CLUSTER/citylake.conf" <<EOT
# written by citylake's infra/postgres.sh on every start
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$CLUSTER'
password_encryption = 'scram-sha-256'
# no DETAIL/CONTEXT lines in the server log: they quote rows' values (duplicate keys, bad input)
log_error_verbosity = terse
EOT
      chown "$SERVER_USER:" "$CLUSTER/citylake.conf"
      as_server "$BIN/pg_ctl" start -D "$CLUSTER" -l "$CLUSTER/server.log" -w -t 60 >/dev/null \
        || { tail -20 "$CLUSTER/server.log" >&2; say "did not start, see $CLUSTER/server.log"; exit 1; }
      say "serving 127.0.0.1:$PORT, database $DB (cluster $CLUSTER)"
    fi
    # role and database, every time (cheap): a start interrupted before this point heals itself
    admin_sql <<'EOSQL'
SELECT format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" LOGIN PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' TEMPLATE template0', :'db', :'user')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
EOSQL
    exports ;;
  stop)
    CLUSTER=$(cluster_dir)
    if [ -f "$CLUSTER/PG_VERSION" ] && BIN=$(server_bin "$CLUSTER") && running "$CLUSTER" "$BIN"; then
      as_server "$BIN/pg_ctl" stop -D "$CLUSTER" -m fast -w >/dev/null
      say "stopped"
    else
      say "not running"
    fi ;;
  env) exports ;;
  *) echo "usage: $0 start|stop|env|install" >&2; exit 2 ;;
esac
