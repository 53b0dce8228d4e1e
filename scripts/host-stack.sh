# shellcheck shell=bash
# Sourced by scripts/fuzz.sh and bench/run.sh: runs the release binary on the
# host against throw-away Postgres, Redis and S3 containers published on
# 127.0.0.1 only, plus a local SMTP sink. Quicker to start than the compose
# stack (no image build) and the binary's RSS can be read directly.
#
#   host_stack_up NAME [ENV=VALUE...]   start everything, migrate, serve
#   host_stack_down                     remove it all (also on EXIT)
#
# After host_stack_up: BLOG_URL (http://127.0.0.1:PORT), BLOG_PID,
# HOST_STACK_PG and HOST_STACK_REDIS (container names), HOST_STACK_DIR (logs, sink output).
#
# Images: BLOG_TEST_POSTGRES_IMAGE, BLOG_TEST_REDIS_IMAGE, BLOG_TEST_S3_IMAGE
# (public defaults; `dockerfiles/build-offline-images.sh --env` exports the
# local ones). Binary: BLOG_BIN, else target/release/blog built with cargo.

HOST_STACK_CONTAINERS=()
HOST_STACK_PIDS=()

host_stack_log() { echo "host-stack: $*" >&2; }

host_stack_images() {
  # Without a registry, fall back on the local images when the public ones
  # are not there and nobody chose.
  if [[ -z "${BLOG_TEST_POSTGRES_IMAGE:-}" ]] && ! docker image inspect postgres:16-alpine >/dev/null 2>&1 &&
    [[ -x dockerfiles/build-offline-images.sh ]]; then
    eval "$(dockerfiles/build-offline-images.sh --env)"
  fi
  PG_IMAGE="${BLOG_TEST_POSTGRES_IMAGE:-postgres:16-alpine}"
  REDIS_IMAGE="${BLOG_TEST_REDIS_IMAGE:-redis:7-alpine}"
  S3_IMAGE="${BLOG_TEST_S3_IMAGE:-chrislusf/seaweedfs:4.48}"
}

host_stack_binary() {
  if [[ -n "${BLOG_BIN:-}" ]]; then
    echo "$BLOG_BIN"
    return
  fi
  local target="${CARGO_TARGET_DIR:-$PWD/target}"
  # A no-op when CI's release build already ran.
  cargo build --release --locked -p blog --bin blog >&2
  echo "$target/release/blog"
}

host_stack_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

host_stack_published_port() {
  docker port "$1" "$2" | head -n1 | sed 's/.*://'
}

host_stack_up() {
  local name="$1"
  shift
  host_stack_images
  local bin
  bin="$(host_stack_binary)"
  HOST_STACK_DIR="$(mktemp -d "/tmp/${name}.XXXXXX")"
  trap host_stack_down EXIT
  local id="${name}-$$"
  local db_password
  db_password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

  HOST_STACK_PG="${id}-postgres"
  docker run -d --name "$HOST_STACK_PG" -p 127.0.0.1::5432 \
    -e POSTGRES_USER=blog -e POSTGRES_DB=blog -e POSTGRES_PASSWORD="$db_password" \
    "$PG_IMAGE" >/dev/null
  HOST_STACK_CONTAINERS+=("$HOST_STACK_PG")
  # A fixed host port: Redis may be stopped and started again (bench/run.sh),
  # and a random published port would change on restart.
  HOST_STACK_REDIS="${id}-redis"
  local redis_port
  redis_port="$(host_stack_free_port)"
  docker run -d --name "$HOST_STACK_REDIS" -p "127.0.0.1:${redis_port}:6379" "$REDIS_IMAGE" >/dev/null
  HOST_STACK_CONTAINERS+=("$HOST_STACK_REDIS")
  # `weed mini`: master, volume, filer and S3 in one process (the local
  # image's default; the upstream image's entrypoint passes it to weed).
  docker run -d --name "${id}-s3" -p 127.0.0.1::8333 \
    -e AWS_ACCESS_KEY_ID=host-stack -e AWS_SECRET_ACCESS_KEY=host-stack-secret "$S3_IMAGE" \
    mini -dir=/data -ip=127.0.0.1 -ip.bind=0.0.0.0 -master.telemetry=false -admin.ui=false >/dev/null
  HOST_STACK_CONTAINERS+=("${id}-s3")

  local smtp_port app_port
  smtp_port="$(host_stack_free_port)"
  app_port="$(host_stack_free_port)"
  # Mail goes nowhere but is accepted (Python 3.11's smtpd, enough for a sink).
  python3 -W ignore -m smtpd -n -c DebuggingServer "127.0.0.1:${smtp_port}" \
    >"$HOST_STACK_DIR/smtp.log" 2>&1 &
  HOST_STACK_PIDS+=("$!")

  export BLOG_ENVIRONMENT=production
  export BLOG_LOG__FILTER="${BLOG_LOG__FILTER:-warn}"
  export BLOG_HTTP__HOST=127.0.0.1
  export BLOG_HTTP__PORT="$app_port"
  export BLOG_HTTP__PUBLIC_URL="http://127.0.0.1:${app_port}"
  export BLOG_DATABASE__HOST=127.0.0.1
  BLOG_DATABASE__PORT="$(host_stack_published_port "$HOST_STACK_PG" 5432)"
  export BLOG_DATABASE__PORT
  export BLOG_DATABASE__PASSWORD="$db_password"
  export BLOG_DATABASE__SSL_MODE=disable
  export BLOG_REDIS__URL="redis://127.0.0.1:${redis_port}"
  BLOG_S3__ENDPOINT="http://127.0.0.1:$(host_stack_published_port "${id}-s3" 8333)"
  export BLOG_S3__ENDPOINT
  export BLOG_S3__ACCESS_KEY=host-stack BLOG_S3__SECRET_KEY=host-stack-secret
  export BLOG_SMTP__HOST=127.0.0.1 BLOG_SMTP__PORT="$smtp_port" BLOG_SMTP__TLS=none
  local kv
  for kv in "$@"; do export "${kv?}"; done

  # Postgres and S3 take a few seconds to accept work: retry the migration.
  local tries=0
  until "$bin" migrate >>"$HOST_STACK_DIR/migrate.log" 2>&1; do
    tries=$((tries + 1))
    if ((tries > 60)); then
      tail -n 20 "$HOST_STACK_DIR/migrate.log" >&2
      host_stack_log "migrations never succeeded"
      return 1
    fi
    sleep 1
  done

  "$bin" serve >"$HOST_STACK_DIR/serve.log" 2>&1 &
  BLOG_PID=$!
  HOST_STACK_PIDS+=("$BLOG_PID")
  BLOG_URL="http://127.0.0.1:${app_port}"
  tries=0
  until curl -fs -o /dev/null "$BLOG_URL/readyz"; do
    tries=$((tries + 1))
    if ((tries > 100)) || ! kill -0 "$BLOG_PID" 2>/dev/null; then
      tail -n 20 "$HOST_STACK_DIR/serve.log" >&2
      host_stack_log "the service never became ready"
      return 1
    fi
    sleep 0.2
  done
  host_stack_log "service ready at $BLOG_URL (pid $BLOG_PID; logs in $HOST_STACK_DIR)"
}

host_stack_down() {
  local pid
  for pid in "${HOST_STACK_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${HOST_STACK_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  HOST_STACK_PIDS=()
  if ((${#HOST_STACK_CONTAINERS[@]})); then
    docker rm -f -v "${HOST_STACK_CONTAINERS[@]}" >/dev/null 2>&1 || true
  fi
  HOST_STACK_CONTAINERS=()
}
