#!/usr/bin/env bash
# Runs the whole service locally with compose.yaml (two app replicas behind a
# proxy, Postgres, Redis, S3, an SMTP catcher), then prints where to find it.
#
#   scripts/up.sh             create .env if missing, build what is needed, start, wait
#   scripts/up.sh --no-build  the same with the existing app image $BLOG_IMAGE
#   scripts/up.sh check       smoke test of the running stack through the proxy:
#                             register, log in, post, avatar, reset mail in the inbox
#   scripts/up.sh down [-v]   stop and remove the containers (-v: the volumes too)
#   scripts/up.sh ps|logs …   any other docker compose command, with the same settings
#
# Images come from dockerfiles/images.env: the public ones, or on a machine
# that cannot pull them local ones built from Debian's packages first
# (dockerfiles/build-offline-images.sh); POSTGRES_IMAGE=… in the environment
# or in .env picks another. The app image is built by scripts/build-image.sh
# and tagged $BLOG_IMAGE (blog:local).
# COMPOSE_PROJECT_NAME (default blog) and BLOG_UP_TIMEOUT (seconds, default 300)
# can be set.
set -euo pipefail
shopt -s inherit_errexit

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-blog}"

log() { echo "up: $*" >&2; }
die() {
  log "$*"
  exit 1
}

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f compose.yaml "$@"
  elif command -v docker-compose >/dev/null; then
    docker-compose -f compose.yaml "$@"
  else
    die "neither 'docker compose' nor docker-compose is installed"
  fi
}

random_secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# .env from .env.example, with a fresh random value for every empty secret.
ensure_env_file() {
  [[ -f .env ]] && return
  # Postgres keeps the password it was initialised with: a new random one
  # would lock the app out of an existing volume.
  if docker volume inspect "${COMPOSE_PROJECT_NAME}_pgdata" >/dev/null 2>&1; then
    die "volume ${COMPOSE_PROJECT_NAME}_pgdata exists but .env does not: restore .env, or drop the old data with 'scripts/up.sh down -v'"
  fi
  log "creating .env with random local secrets"
  local line key
  umask 077
  while IFS= read -r line; do
    key="${line%%=*}"
    case "$line" in
      POSTGRES_PASSWORD= | S3_SECRET_KEY=) line="${key}=$(random_secret)" ;;
      S3_ACCESS_KEY=) line="${key}=blog-$(random_secret | cut -c1-12)" ;;
    esac
    printf '%s\n' "$line"
  done <.env.example >.env
}

# A value set in the environment or in .env wins over the automatic choice.
configured() {
  [[ -n "${!1:-}" ]] || grep -qE "^$1=." .env
}

choose_images() {
  local line var
  while IFS= read -r line; do
    var="${line#export }"
    var="${var%%=*}"
    configured "$var" || eval "$line"
  done < <(dockerfiles/build-offline-images.sh --env)
}

# docker-compose 1.29 has no `up --wait`: poll until every long-running
# service is healthy and the one-shot migrate exited 0.
wait_healthy() {
  local deadline=$((SECONDS + ${BLOG_UP_TIMEOUT:-300})) pending id state
  while :; do
    pending=()
    while read -r id; do
      state="$(docker inspect -f '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")"
      case "$state" in
        *migrate*" exited 0 "*) ;;
        *migrate*" exited "*) compose logs migrate >&2 && die "migrate failed: ${state}" ;;
        *" running "*" healthy") ;;
        *) pending+=("${state%% *}") ;;
      esac
    done < <(compose ps -q)
    ((${#pending[@]} == 0)) && return
    ((SECONDS < deadline)) || {
      compose ps >&2
      compose logs --tail=30 >&2
      die "not healthy after ${BLOG_UP_TIMEOUT:-300} s: ${pending[*]}"
    }
    sleep 2
  done
}

up() {
  local build=true
  [[ "${1:-}" == --no-build ]] && build=false
  local started=$SECONDS
  ensure_env_file
  choose_images
  BLOG_IMAGE="$(env_value BLOG_IMAGE blog:local)"
  export BLOG_IMAGE
  if $build; then
    log "building the app image ${BLOG_IMAGE}"
    scripts/build-image.sh --tag "$BLOG_IMAGE" >/dev/null
  else
    docker image inspect "$BLOG_IMAGE" >/dev/null 2>&1 || die "no image ${BLOG_IMAGE}: run without --no-build"
  fi
  local built=$SECONDS
  compose up -d --remove-orphans
  wait_healthy
  local port mail_port
  port="$(env_value BLOG_HTTP_PORT 8080)"
  mail_port="$(env_value MAIL_UI_PORT 8025)"
  curl -fsS -o /dev/null "http://127.0.0.1:${port}/readyz" || die "the proxy does not answer on port ${port}"
  log "stack healthy in $((SECONDS - built)) s (images ready after $((built - started)) s)"
  echo "The blog:   http://localhost:${port}/"
  echo "API docs:   http://localhost:${port}/docs"
  echo "OpenAPI:    http://localhost:${port}/api/openapi.json"
  echo "Mail inbox: http://localhost:${mail_port}/"
  echo "Stop with:  scripts/up.sh down"
}

env_value() {
  local value
  value="$(sed -n "s/^$1=//p" .env 2>/dev/null | tail -n1)"
  echo "${!1:-${value:-$2}}"
}

json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# End to end through nginx, both replicas, Postgres, Redis, S3 and the SMTP catcher.
check() {
  local api mail user token key
  api="http://127.0.0.1:$(env_value BLOG_HTTP_PORT 8080)"
  mail="http://127.0.0.1:$(env_value MAIL_UI_PORT 8025)"
  user="smoke_$(random_secret | cut -c1-8)"
  curl -fsS -o /dev/null "${api}/docs"
  # The site's home page: HTML, with its stylesheet served by the app.
  local home css
  home="$(curl -fsS -H 'accept: text/html' "${api}/")"
  grep -q '<h1>Latest posts</h1>' <<<"$home" || die "the home page is not the blog's"
  css="$(sed -n 's/.*<link rel="stylesheet" href="\([^"]*\)".*/\1/p' <<<"$home" | head -n1)"
  curl -fsS -o /dev/null "${api}${css}"
  curl -fsS -o /dev/null -H 'content-type: application/json' \
    -d "{\"username\":\"${user}\",\"email\":\"${user}@example.test\",\"password\":\"smoke test passphrase\"}" \
    "${api}/api/users"
  token="$(curl -fsS -H 'content-type: application/json' \
    -d "{\"username\":\"${user}\",\"password\":\"smoke test passphrase\"}" \
    "${api}/api/sessions" | json_field token)"
  curl -fsS -o /dev/null -H "authorization: Bearer ${token}" -H 'content-type: application/json' \
    -d '{"title":"Smoke test","content":"Posted by scripts/up.sh check."}' "${api}/api/posts"
  key="$(curl -fsS -X PUT -H "authorization: Bearer ${token}" -F "avatar=@app/assets/default.png;type=image/png" \
    "${api}/api/me/avatar" | json_field avatar_url)"
  key="${key#*/media/}"
  [[ "$key" != avatars/default.png ]] || die "the avatar was not stored"
  curl -fsS -o /dev/null "${api}/media/${key}"
  curl -fsS -o /dev/null -H 'content-type: application/json' \
    -d "{\"email\":\"${user}@example.test\"}" "${api}/api/password-resets"
  local tries=0
  until curl -fsS "${mail}/api/v1/messages" | grep -q "${user}@example.test"; do
    ((++tries < 30)) || die "no reset mail for ${user} in the inbox at ${mail}"
    sleep 1
  done
  curl -fsS -H 'accept: text/html' "${api}/" | grep -q "Smoke test" || die "the new post is not on the home page"
  log "check passed: home page, account, post (on the site too), avatar in S3, reset mail in the inbox (${user})"
}

# Commands other than `up` do not start anything, but compose still resolves
# the file's required variables: the public images of the list (unless .env or
# the environment names others), and placeholders for secrets without .env.
placeholders() {
  local var
  for var in $(image_keys); do
    configured "$var" 2>/dev/null || export "${var}=$(image_pin "$var")"
  done
  [[ -f .env ]] && return
  export POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-unused}" \
    S3_ACCESS_KEY="${S3_ACCESS_KEY:-unused}" S3_SECRET_KEY="${S3_SECRET_KEY:-unused}"
}

case "${1:-up}" in
  up) up "${@:2}" ;;
  --no-build) up --no-build ;;
  check) check ;;
  down)
    shift
    placeholders
    compose down --remove-orphans "$@"
    ;;
  -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
  *)
    placeholders
    compose "$@"
    ;;
esac
