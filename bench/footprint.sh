#!/usr/bin/env bash
# Footprint figures (run by hand, not in CI): release-profile variants side by
# side, and the cost and gain of response compression.
#
#   bench/footprint.sh LABEL=BINARY [LABEL=BINARY...]
#   BENCH_DURATION=5s BENCH_REPS=3 BENCH_POSTS=10000 bench/footprint.sh base=target/release/blog thin=/tmp/thin/blog
#
# One set of dependencies (scripts/lib.sh's host stack: the tests' Postgres,
# Redis, S3 and mail containers), BENCH_POSTS posts seeded with bench/seed.sql,
# and every binary serving at once on its own port against them. Then, for
# BENCH_REPS rounds, each binary in turn takes `wrk -c16` on GET /api/posts
# (cached) and GET /healthz, then (Redis stopped: the service bypasses its
# cache) the uncached GET /api/posts; the median of the rounds is printed
# with its ratio to the first binary, measured in the same rounds, so the
# machine's load moves every column alike. Memory: each binary's RSS once
# ready and seeded (idle) and its peak (VmHWM) after the rounds. File sizes:
# the binary as built and as the image ships it (objcopy --strip-debug).
# Postgres is dialled and pooled as in bench/run.sh (its container's address,
# BENCH_POOL connections, default 4).
#
# Compression (first binary only): GET /api/posts?limit=20 with
# Accept-Encoding identity, gzip and br: bytes on the wire, req/s, p99, and
# the service's CPU time per request (utime+stime from /proc over the run).
#
# Needs: docker, wrk (apt-get install wrk), jq, curl, objcopy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${BENCH_DURATION:-5s}"
REPS="${BENCH_REPS:-3}"
POSTS="${BENCH_POSTS:-10000}"
CONNS="${BENCH_CONNECTIONS:-16}"
(($# >= 1)) || {
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
for tool in wrk jq curl docker objcopy; do
  command -v "$tool" >/dev/null || {
    echo "footprint: $tool is required" >&2
    exit 1
  }
done

labels=() bins=()
for arg in "$@"; do
  labels+=("${arg%%=*}")
  bins+=("$(realpath -e "${arg#*=}")")
done

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
export BLOG_BIN="${bins[0]}"
export HOST_STACK_DB_DIRECT=1
host_stack_up blog-footprint BLOG_RATE_LIMIT__ENABLED=false BLOG_LOG__FILTER=error \
  BLOG_DATABASE__POOL_MAX_SIZE="${BENCH_POOL:-4}"
urls=("$BLOG_URL")
pids=("$BLOG_PID")
for ((i = 1; i < ${#bins[@]}; i++)); do
  port="$(host_stack_free_port)"
  BLOG_HTTP__PORT="$port" BLOG_HTTP__PUBLIC_URL="http://127.0.0.1:${port}" \
    BLOG_HTTP__METRICS_PORT="$(host_stack_free_port)" \
    "${bins[i]}" serve >"$HOST_STACK_DIR/serve-${labels[i]}.log" 2>&1 &
  pids+=("$!")
  HOST_STACK_PIDS+=("$!")
  urls+=("http://127.0.0.1:${port}")
  until curl -fs -o /dev/null "${urls[i]}/readyz"; do
    kill -0 "${pids[i]}" 2>/dev/null || {
      echo "footprint: ${labels[i]} exited:" >&2
      tail -5 "$HOST_STACK_DIR/serve-${labels[i]}.log" >&2
      exit 1
    }
    sleep 0.2
  done
done

psql_run() {
  docker exec -i "$HOST_STACK_POSTGRES" psql -U "$BLOG_DATABASE__USER" -d "$BLOG_DATABASE__NAME" \
    -v ON_ERROR_STOP=1 -qAt "$@"
}
curl -fsS -H 'Content-Type: application/json' -X POST "$BLOG_URL/api/users" \
  -d '{"username":"bench0","email":"bench0@example.com","password":"bench-password-not-secret"}' >/dev/null
hash="$(psql_run -c "SELECT password_hash FROM users WHERE username = 'bench0'")"
psql_run -v target="$POSTS" -v hash="$hash" -f - <bench/seed.sql

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# status_kib PID FIELD: VmRSS (now) or VmHWM (peak) in KiB.
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
declare -A idle_kib=()
sleep 2
for ((i = 0; i < ${#bins[@]}; i++)); do idle_kib[$i]="$(status_kib "${pids[i]}" VmRSS)"; done

# rps_p99 URL [wrk args...] -> "rps p99_ms"
rps_p99() {
  local url="$1"
  shift
  wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 30s -s bench/wrk.lua "$@" "$url" |
    awk '/^RESULT/ { print $3, $5 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A list_rps=() health_rps=() list_p99=()
for ((rep = 1; rep <= REPS; rep++)); do
  for ((i = 0; i < ${#bins[@]}; i++)); do
    curl -fs -o /dev/null "${urls[i]}/api/posts" # warm the cache for this binary
    read -r rps p99 <<<"$(rps_p99 "${urls[i]}/api/posts")"
    list_rps[$i]+="$rps "
    list_p99[$i]+="$p99 "
    read -r rps _ <<<"$(rps_p99 "${urls[i]}/healthz")"
    health_rps[$i]+="$rps "
    echo "round $rep ${labels[i]}: list $(awk '{print $NF}' <<<"${list_rps[$i]}") req/s, healthz $rps req/s" >&2
  done
done

declare -A uncached_rps=() uncached_p99=()
docker stop "$HOST_STACK_REDIS" >/dev/null
sleep 2
for ((rep = 1; rep <= REPS; rep++)); do
  for ((i = 0; i < ${#bins[@]}; i++)); do
    read -r rps p99 <<<"$(rps_p99 "${urls[i]}/api/posts")"
    uncached_rps[$i]+="$rps "
    uncached_p99[$i]+="$p99 "
    echo "round $rep ${labels[i]}: uncached list $rps req/s" >&2
  done
done
docker start "$HOST_STACK_REDIS" >/dev/null

echo
echo "## Release-profile variants (GET /api/posts cached and uncached, /healthz; c=${CONNS}, median of ${REPS} × ${DURATION})"
echo
echo "| variant | binary MB | stripped MB (the image's) | list req/s | list / first | list p99 ms | healthz req/s | healthz / first | uncached list req/s | uncached / first | uncached p99 ms | RSS idle / peak MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for ((i = 0; i < ${#bins[@]}; i++)); do
  stripped="$(mktemp)"
  objcopy --strip-debug "${bins[i]}" "$stripped"
  size="$(stat -c %s "${bins[i]}")"
  ssize="$(stat -c %s "$stripped")"
  rm -f "$stripped"
  l="$(tr ' ' '\n' <<<"${list_rps[$i]}" | grep . | median)"
  p="$(tr ' ' '\n' <<<"${list_p99[$i]}" | grep . | median)"
  h="$(tr ' ' '\n' <<<"${health_rps[$i]}" | grep . | median)"
  u="$(tr ' ' '\n' <<<"${uncached_rps[$i]}" | grep . | median)"
  up="$(tr ' ' '\n' <<<"${uncached_p99[$i]}" | grep . | median)"
  [[ $i == 0 ]] && { l0="$l"; h0="$h"; u0="$u"; }
  awk -v n="${labels[i]}" -v s="$size" -v ss="$ssize" -v l="$l" -v l0="$l0" -v p="$p" -v h="$h" -v h0="$h0" \
    -v u="$u" -v u0="$u0" -v up="$up" -v ri="${idle_kib[$i]}" -v rp="$(status_kib "${pids[i]}" VmHWM)" \
    'BEGIN { printf "| %s | %.1f | %.1f | %.0f | %.2f | %s | %.0f | %.2f | %.0f | %.2f | %s | %.1f / %.1f |\n",
             n, s/1e6, ss/1e6, l, l/l0, p, h, h/h0, u, u/u0, up, ri/1024, rp/1024 }'
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
echo
echo "## Compression (GET /api/posts?limit=20, ${labels[0]}, c=${CONNS}, ${DURATION} each)"
echo
echo "| Accept-Encoding | bytes | ratio | req/s | p99 ms | CPU ms per request |"
echo "|---|---|---|---|---|---|"
page="$BLOG_URL/api/posts?limit=20"
identity_bytes="$(curl -fsS "$page" | wc -c)"
hz="$(getconf CLK_TCK)"
for enc in identity gzip br; do
  bytes="$(curl -fsS -H "Accept-Encoding: $enc" "$page" | wc -c)"
  before="$(cpu_ticks "${pids[0]}")"
  out="$(BENCH_ACCEPT_ENCODING="$enc" wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 30s -s bench/wrk.lua "$page" | grep '^RESULT')"
  after="$(cpu_ticks "${pids[0]}")"
  read -r _ requests rps _ p99 _ <<<"$out"
  awk -v e="$enc" -v b="$bytes" -v i="$identity_bytes" -v r="$rps" -v p="$p99" -v t="$((after - before))" -v hz="$hz" -v n="$requests" \
    'BEGIN { printf "| %s | %d | %.3f | %.0f | %s | %.3f |\n", e, b, b/i, r, p, t*1000/hz/n }'
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; wrk -t2 on the same cores."
