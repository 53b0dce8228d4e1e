#!/bin/bash
# Entrypoint of the local Postgres stand-in (dockerfiles/images.env): a small
# subset of the official image's docker-entrypoint.sh (same variables, same
# first-start behaviour). Like upstream it also runs as a non-root UID
# (a Kubernetes runAsUser: the directories must then be writable, as the
# chart's fsGroup makes them), reads the password from POSTGRES_PASSWORD_FILE,
# and gives the server's options to the init-time server too.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
if [[ -n "${POSTGRES_PASSWORD_FILE:-}" ]]; then
  POSTGRES_PASSWORD="$(<"$POSTGRES_PASSWORD_FILE")"
  export POSTGRES_PASSWORD
fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
export PGDATA

# `docker run IMAGE -c max_connections=200` passes server options, as upstream.
if [[ "${1:-}" == -* ]]; then
  set -- postgres "$@"
fi
if [[ "${1:-}" != postgres ]]; then
  exec "$@"
fi

# Root prepares the directories, then the script re-runs itself as postgres.
if [[ "$(id -u)" == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

init_cluster() {
  if [[ -z "${POSTGRES_PASSWORD:-}" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
    echo "       (or set POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password)" >&2
    exit 1
  fi
  local pwfile
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 \
    --locale=C.UTF-8 --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  {
    echo "listen_addresses = '*'"
    echo "password_encryption = scram-sha-256"
  } >>"$PGDATA/postgresql.conf"
  echo "host all all all $POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  # A socket-only server for setup, so nothing can connect before it is
  # done; with the server's own options (`-c hba_file=…`, TLS), as upstream.
  local options=""
  if (($# > 1)); then
    options="$(printf '%q ' "${@:2}")"
  fi
  pg_ctl -D "$PGDATA" -o "${options}-c listen_addresses=''" -w start >/dev/null
  local psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres)
  if [[ "$POSTGRES_DB" != postgres ]]; then
    "${psql[@]}" --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";' >/dev/null
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        echo "running $f"
        # shellcheck disable=SC1090 # user-provided init scripts, as upstream
        . "$f"
        ;;
      *.sql) echo "running $f" && "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
}

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  init_cluster "$@"
fi
# exec: postgres is PID 1 and gets the stop signal itself.
exec "$@"
