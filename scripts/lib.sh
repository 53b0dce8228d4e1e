# shellcheck shell=bash
# The helpers the scripts share (sourced, not run): BuildKit, the image list,
# and the host stack of scripts/fuzz.sh and bench/run.sh.

lib_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# --------------------------------------------------------------- BuildKit ---

# Prints the docker client to build with BuildKit. Docker CLI 23+ delegates
# `DOCKER_BUILDKIT=1 docker build` to the buildx plugin and fails without it;
# clients before 23 carry BuildKit support themselves. So: the first `docker` on
# PATH if buildx is installed, otherwise any pre-23 client on PATH (this
# machine has Debian's 20.10 client in /usr/bin next to a newer one).
buildkit_docker() {
  if docker buildx version >/dev/null 2>&1; then
    echo docker
    return
  fi
  local candidate version
  while read -r candidate; do
    version="$("$candidate" version --format '{{.Client.Version}}' 2>/dev/null || true)"
    if [[ "${version%%.*}" =~ ^[0-9]+$ ]] && ((${version%%.*} < 23)); then
      echo "$candidate"
      return
    fi
  done < <(type -ap docker)
  echo "no docker client can build with BuildKit: install the buildx plugin" >&2
  return 1
}

# ------------------------------------------------------------- image list ---

# The one list of third-party images (KEY=value lines; see the file).
images_file="${lib_root}/dockerfiles/images.env"

# image_pin KEY: the value of KEY in the image list.
image_pin() {
  local value
  value="$(sed -n "s/^$1=//p" "$images_file" | tail -n1)"
  if [[ -z "$value" ]]; then
    echo "no $1 in ${images_file}" >&2
    return 1
  fi
  echo "$value"
}

# image_keys: the names of the public images of the list (NAME_IMAGE).
image_keys() { sed -n 's/^\([A-Z0-9_]*_IMAGE\)=.*/\1/p' "$images_file"; }

# ------------------------------------------------------------- host stack ---

# The release binary on the host, against the dependencies the Rust tests use:
# Postgres, Redis, S3 and the mail catcher in containers published on
# 127.0.0.1, started by the same code (integration-tests' `test-stack`, see
# integration-tests/src/bin/test-stack.rs). Quicker to start than the compose
# stack (no app image) and the binary's RSS can be read directly.
#
#   host_stack_up NAME [ENV=VALUE...]   start the dependencies, migrate, serve
#   host_stack_down                     stop it all (also on EXIT)
#
# After host_stack_up: BLOG_URL (http://127.0.0.1:PORT), BLOG_PID,
# HOST_STACK_DIR (logs), and what test-stack exports: the BLOG_* settings of
# the dependencies, HOST_STACK_POSTGRES and HOST_STACK_REDIS (container names),
# HOST_STACK_MAIL_URL (the mail catcher's inbox and API). Binaries: BLOG_BIN
# and TEST_STACK_BIN, else built with cargo (a no-op after scripts/test.sh build).
# HOST_STACK_DB_DIRECT=1: the service dials Postgres at its container's own
# address instead of the published port, so no docker-proxy copies every
# query's bytes in user space (as in a cluster, where the pod network does it
# in the kernel); for the benchmarks.

HOST_STACK_PIDS=()

host_stack_log() { echo "host-stack: $*" >&2; }

# host_stack_binary PACKAGE BIN VAR: $VAR if set, else cargo's release build.
host_stack_binary() {
  local var="$3"
  if [[ -n "${!var:-}" ]]; then
    echo "${!var}"
    return
  fi
  cargo build --release --locked -p "$1" --bin "$2" >&2
  echo "${CARGO_TARGET_DIR:-${lib_root}/target}/release/$2"
}

host_stack_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

host_stack_up() {
  local name="$1"
  shift
  local blog stack
  blog="$(host_stack_binary blog blog BLOG_BIN)"
  stack="$(host_stack_binary integration-tests test-stack TEST_STACK_BIN)"
  HOST_STACK_DIR="$(mktemp -d "/tmp/${name}.XXXXXX")"
  trap host_stack_down EXIT

  # test-stack writes `export` lines and then `# ready` once every dependency
  # answers; it removes its containers when it gets SIGTERM (or when it dies).
  "$stack" "$name" >"$HOST_STACK_DIR/stack.env" 2>"$HOST_STACK_DIR/stack.log" &
  local stack_pid=$!
  HOST_STACK_PIDS+=("$stack_pid")
  until grep -qx '# ready' "$HOST_STACK_DIR/stack.env"; do
    if ! kill -0 "$stack_pid" 2>/dev/null; then
      tail -n 20 "$HOST_STACK_DIR/stack.log" >&2
      host_stack_log "the dependencies did not start"
      return 1
    fi
    sleep 0.2
  done
  # shellcheck disable=SC1091 # generated
  source "$HOST_STACK_DIR/stack.env"
  if [[ "${HOST_STACK_DB_DIRECT:-}" == 1 ]]; then
    BLOG_DATABASE__HOST="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$HOST_STACK_POSTGRES")"
    BLOG_DATABASE__PORT=5432
    export BLOG_DATABASE__HOST BLOG_DATABASE__PORT
  fi

  local app_port
  app_port="$(host_stack_free_port)"
  export BLOG_ENVIRONMENT=production
  export BLOG_LOG__FILTER="${BLOG_LOG__FILTER:-warn}"
  export BLOG_HTTP__HOST=127.0.0.1
  export BLOG_HTTP__PORT="$app_port"
  export BLOG_HTTP__PUBLIC_URL="http://127.0.0.1:${app_port}"
  local kv
  for kv in "$@"; do export "${kv?}"; done

  if ! "$blog" migrate >"$HOST_STACK_DIR/migrate.log" 2>&1; then
    tail -n 20 "$HOST_STACK_DIR/migrate.log" >&2
    host_stack_log "migrations failed"
    return 1
  fi
  "$blog" serve >"$HOST_STACK_DIR/serve.log" 2>&1 &
  BLOG_PID=$!
  HOST_STACK_PIDS+=("$BLOG_PID")
  BLOG_URL="http://127.0.0.1:${app_port}"
  local tries=0
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
  local i pid
  # Newest first: the service, then test-stack, which removes its containers
  # on SIGTERM before it exits.
  for ((i = ${#HOST_STACK_PIDS[@]} - 1; i >= 0; i--)); do
    pid="${HOST_STACK_PIDS[i]}"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  HOST_STACK_PIDS=()
}
