#!/usr/bin/env bash
# Start a throwaway PostgreSQL server (Debian's `postgresql` package) for the tests and print its
# URL on stdout. Installs the package when it is missing and we are root. Idempotent: a server
# already running in $FRONTIER_PG_DIR is reused. Everything else goes to stderr.
#   FRONTIER_TEST_POSTGRES=$(bash .ci/postgres.sh)
set -euo pipefail
DIR=${FRONTIER_PG_DIR:-/tmp/frontier-pg}
PORT=${FRONTIER_PG_PORT:-54329}
USER_NAME=frontier
PASSWORD=frontier-test-pw
URL="postgresql://${USER_NAME}:${PASSWORD}@127.0.0.1:${PORT}/frontier"

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [[ -z "$(bin_dir)" ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "postgres.sh: PostgreSQL is not installed and we are not root to apt-get it" >&2
    exit 1
  fi
  echo "postgres.sh: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
BIN=$(bin_dir)

as_owner() {  # initdb and postgres refuse to run as root
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
    mkdir -p "$DIR"
    [[ $(id -u) -eq 0 ]] && chown postgres "$DIR"
    printf '%s\n' "$PASSWORD" > "$DIR/pw"
    [[ $(id -u) -eq 0 ]] && chown postgres "$DIR/pw"
    as_owner "$BIN/initdb" -D "$DIR/data" -U "$USER_NAME" --pwfile="$DIR/pw" \
      --auth-local=scram-sha-256 --auth-host=scram-sha-256 >&2
    rm -f "$DIR/pw"
  fi
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" \
    start >&2
fi
if ! PGPASSWORD=$PASSWORD "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
    "select 1 from pg_database where datname='frontier'" | grep -q 1; then
  PGPASSWORD=$PASSWORD "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" frontier >&2
fi
echo "$URL"
