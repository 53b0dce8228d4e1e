#!/usr/bin/env bash
# Load figures for the service (run by hand, not in CI):
#
#   bench/run.sh                       1k, 100k and 1M posts, 16 and 64 connections
#   BENCH_DURATION=5s BENCH_SIZES="1000 100000" bench/run.sh
#   BENCH_REPS=1 bench/run.sh          one run per point (default 3: median)
#   BENCH_ONLY='healthz|search' bench/run.sh   only the points whose label matches
#
# Starts the release binary against the Postgres/Redis/S3/mail containers of
# the Rust tests (host_stack_up in scripts/lib.sh), seeds 100 users and the posts with SQL
# (bench/seed.sql: generate_series, not the API), and measures with wrk
# (bench/wrk.lua) req/s, p50 and p99 for: the first page of the post list,
# the 1000th page (cursor found by walking the pages), a post's detail, an
# author's list, a two-word full-text search, one tag's list, the tag list
# with counts, a tag page, the blog's and a tag's Atom feed, writing a post,
# logging in, the website's home page (HTML, 5 posts; what a reader's
# browser gets), a post page with 50 comments and those 50 comments through
# the API — and GET /healthz on the same
# server as the ceiling. Every figure is printed absolute and as a ratio to
# the ceiling at the same connection count. Then the same list pages with
# the Redis cache out of the way (Redis stopped: the service bypasses it), and
# EXPLAIN ANALYZE of the first and deep page queries: the cost of a page must
# not grow with its depth or the table size.
#
# Logging in is slow on purpose (PBKDF2-HMAC-SHA256, 600 000 iterations): its
# figure is what one server can take, not something to tune away.
# wrk runs on the same 2 cores as the service, Postgres and Redis: compare
# ratios, not absolute numbers, across machines.
#
# Needs: docker, wrk (apt-get install wrk), jq, curl, cargo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${BENCH_DURATION:-8s}"
SIZES="${BENCH_SIZES:-1000 100000 1000000}"
CONNECTIONS="${BENCH_CONNECTIONS:-16 64}"
THREADS="${BENCH_THREADS:-2}"
# Each point runs this many times; the row is the median run by req/s.
REPS="${BENCH_REPS:-3}"
DEEP_PAGE=1000
PASSWORD="bench-password-not-secret"

for tool in wrk jq curl docker; do
  command -v "$tool" >/dev/null || {
    echo "bench: $tool is required (wrk: apt-get install wrk)" >&2
    exit 1
  }
done

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# No rate limits (logins at 64 connections), quiet logs, otherwise defaults
# but two, both about Postgres sharing the 2 cores:
# - Postgres is dialled at its container's address: through the published
#   port, docker-proxy copied every query's bytes in user space and took 12 %
#   of the machine's CPU on uncached pages (a cluster's pod network does not);
# - a pool of 4 connections (BENCH_POOL): 16 Postgres backends busy at once on
#   2 cores only queue in the kernel's scheduler: 5.7k req/s with a p99 of
#   100–150 ms against 5.2k req/s and 11–15 ms with 4 (RESULTS.md). Size the
#   pool to the database's cores (about twice as many), not to the clients.
export HOST_STACK_DB_DIRECT=1
host_stack_up blog-bench BLOG_RATE_LIMIT__ENABLED=false BLOG_LOG__FILTER=error \
  BLOG_DATABASE__POOL_MAX_SIZE="${BENCH_POOL:-4}"

psql_run() {
  docker exec -i "$HOST_STACK_POSTGRES" psql -U "$BLOG_DATABASE__USER" -d "$BLOG_DATABASE__NAME" \
    -v ON_ERROR_STOP=1 -qAt "$@"
}
api() { curl -fsS -H 'Content-Type: application/json' "$@"; }
rss_kib() { ps -o rss= -p "$BLOG_PID" | tr -d ' '; }

# The machine must be otherwise idle: wait (up to 3 minutes) for the 1-minute
# load average to fall to 1.5 or below, and refuse to measure if it does not.
load1() { cut -d' ' -f1 /proc/loadavg; }
waited=0
until awk -v l="$(load1)" 'BEGIN { exit !(l <= 1.5) }'; do
  if ((waited >= 180)); then
    echo "bench: load average $(load1) > 1.5 after 3 minutes; refusing to measure on a busy machine" >&2
    exit 1
  fi
  sleep 10
  waited=$((waited + 10))
done
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# One user through the API, for a password hash the service accepts.
api -X POST "$BLOG_URL/api/users" \
  -d "{\"username\":\"bench0\",\"email\":\"bench0@example.com\",\"password\":\"$PASSWORD\"}" >/dev/null
hash="$(psql_run -c "SELECT password_hash FROM users WHERE username = 'bench0'")"
login_body="{\"username\":\"bench7\",\"password\":\"$PASSWORD\"}"

sleep 2
idle_rss="$(rss_kib)"
peak_rss="$idle_rss"

# wrk_point LABEL PATH CONNECTIONS [ENV=VALUE...] → appends a row to $rows:
# the median of $REPS runs by req/s (with that run's latencies); `requests`
# is the sum over the runs (what the view-count check compares with).
rows=()
last_requests=0
declare -A ceiling=()
wrk_point() {
  local label="$1" path="$2" conns="$3"
  shift 3
  # BENCH_ONLY: an extended regex of the labels to measure (all by default).
  if [[ -n "${BENCH_ONLY:-}" ]] && ! grep -Eq "$BENCH_ONLY" <<<"$label"; then return; fi
  local out sampler rss_file
  rss_file="$(mktemp)"
  (while sleep 0.5; do rss_kib >>"$rss_file" || true; done) &
  sampler=$!
  # An absolute URL (the nginx ceiling) is used as it is.
  local url="$BLOG_URL$path"
  [[ "$path" == http* ]] && url="$path"
  local runs=() rep threads=$((THREADS < conns ? THREADS : conns))
  for ((rep = 0; rep < REPS; rep++)); do
    runs+=("$(env "$@" wrk -t"$threads" -c"$conns" -d"$DURATION" --timeout 30s \
      -s bench/wrk.lua "$url" | grep '^RESULT')")
  done
  out="$(printf '%s\n' "${runs[@]}" | sort -k3,3n | sed -n "$(((REPS + 1) / 2))p")"
  local all_requests all_rps
  all_requests="$(printf '%s\n' "${runs[@]}" | awk '{ s += $2 } END { print s }')"
  all_rps="$(printf '%s\n' "${runs[@]}" | awk '{ printf "%s%s", sep, $3; sep = "/" }')"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  local max_rss
  max_rss="$(sort -n "$rss_file" | tail -n1)"
  rm -f "$rss_file"
  if ((max_rss > peak_rss)); then peak_rss="$max_rss"; fi
  # RESULT requests rps p50 p99 max non2xx socket_errors
  read -r _ _ rps p50 p99 max non2xx errors <<<"$out"
  local requests="$all_requests"
  last_requests="$all_requests"
  if [[ "$label" == "healthz (ceiling)" ]]; then ceiling[$conns]="$rps"; fi
  local ratio
  ratio="$(awk -v a="$rps" -v b="${ceiling[$conns]:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')"
  rows+=("| $size_label | $label | $conns | $rps | $p50 | $p99 | $max | $ratio | $requests | $non2xx | $errors |")
  printf '%-28s c=%-3s %9s req/s  p50 %8s ms  p99 %8s ms  ratio %s  (runs %s; non-2xx %s, socket errors %s)\n' \
    "$label" "$conns" "$rps" "$p50" "$p99" "$ratio" "$all_rps" "$non2xx" "$errors" >&2
}

# Cursor of page $1 of the post list (limit 5), by walking next_cursor.
cursor_of_page() {
  local want="$1" page=1 cursor=""
  while ((page < want)); do
    local next
    next="$(api "$BLOG_URL/api/posts?limit=5${cursor:+&cursor=$cursor}" | jq -r '.next_cursor // empty')"
    [[ -z "$next" ]] && break
    cursor="$next"
    page=$((page + 1))
  done
  echo "$page $cursor"
}

explain() {
  local label="$1" where="$2"
  local ms
  ms="$(psql_run -c "EXPLAIN (ANALYZE, FORMAT JSON)
      SELECT p.id, p.title, p.content, p.published_at, p.updated_at, u.id, u.username, u.avatar_key
      FROM posts p JOIN users u ON u.id = p.author_id WHERE p.published_at <= now() $where
      ORDER BY p.published_at DESC, p.id DESC LIMIT 5" | jq '.[0]["Execution Time"]')"
  explains+=("| $size_label | $label | $ms |")
}

# Two words of bench/seed.sql's vocabulary: one common, one less so (about
# 1 % of the posts have both).
SEARCH_QUERY="kaban%20locor"

# nginx (the compose proxy's image) for the static ceiling.
static_dir="$(mktemp -d)"
chmod 755 "$static_dir"
# On the host's network, as the service is: a published port would put
# docker-proxy in front of nginx (it measured ~10k req/s, a ceiling of the
# proxy rather than of nginx).
nginx_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# Tuned as a static server in production would be: without open_file_cache
# nginx opens, stats and closes the file on every request, and served these
# 3 kB at 27k req/s here instead of 81k (RESULTS.md); Debian's default
# keepalive_requests (1000) would make wrk reconnect.
cat >"$static_dir/bench.conf" <<NGINX
server {
    listen 127.0.0.1:$nginx_port;
    access_log off;
    root /bench;
    default_type application/json;
    open_file_cache max=16 inactive=600s;
    open_file_cache_valid 600s;
    keepalive_requests 1000000;
}
NGINX
nginx_name="blog-bench-nginx-$$"
# The public image when Docker has it, else the offline stand-in.
proxy_image="${PROXY_IMAGE:-$(image_pin PROXY_IMAGE)}"
docker image inspect "$proxy_image" >/dev/null 2>&1 || proxy_image="$(image_pin PROXY_IMAGE_LOCAL)"
docker run -d --rm --name "$nginx_name" --network host \
  -v "$static_dir:/bench:ro" -v "$static_dir/bench.conf:/etc/nginx/conf.d/default.conf:ro" \
  "$proxy_image" >/dev/null
# Stopped with the rest of the stack (host_stack_down runs on EXIT).
trap 'docker rm -f "$nginx_name" >/dev/null 2>&1 || true; host_stack_down' EXIT
NGINX_URL="http://127.0.0.1:$nginx_port"

# The view counter of post $1 as Redis holds it (the service counts in
# memory and adds in batches every 200 ms).
redis_db="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).path.strip("/") or 0)' "$BLOG_REDIS__URL")"
views_in_redis() {
  local n
  n="$(docker exec "$HOST_STACK_REDIS" redis-cli -n "$redis_db" GET "post:$1:views" | tr -d '\r')"
  echo "${n:-0}"
}

explains=()
uncached=()
view_checks=()
for size in $SIZES; do
  echo "==> seeding up to $size posts" >&2
  t0=$SECONDS
  psql_run -v target="$size" -v hash="$hash" -f - <bench/seed.sql
  total="$(psql_run -c 'SELECT count(*) FROM posts')"
  size_label="$total posts"
  echo "    $total posts after $((SECONDS - t0)) s" >&2

  read -r deep_page deep_cursor <<<"$(cursor_of_page "$DEEP_PAGE")"
  deep_label="page $deep_page"
  [[ "$deep_page" != "$DEEP_PAGE" ]] && deep_label="page $deep_page (last)"
  post_id="$(psql_run -c 'SELECT id FROM posts ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM posts)')"
  # The page's canonical URL (/post/<id>-<slug>/): /post/<id>/ redirects to it.
  post_page="$(curl -fsS -o /dev/null -w '%{redirect_url}' "$BLOG_URL/post/$post_id/")"
  post_page="${post_page#"$BLOG_URL"}"
  token="$(api -X POST "$BLOG_URL/api/sessions" -d "$login_body" | jq -r .token)"
  # The benchmarked post carries 50 comments (its page shows them all, the
  # API lists them in one page); topped up to 50, so a re-run adds none.
  psql_run -c "INSERT INTO comments (post_id, author_id, content, content_html, created_at, updated_at)
    SELECT $post_id, (SELECT id FROM users WHERE username = 'bench' || (1 + g % 100)),
           'Comment ' || g || ' with *some* text, as readers write.',
           '<p>Comment ' || g || ' with <em>some</em> text, as readers write.</p>',
           timestamptz '2026-01-01' + g * interval '1 minute', timestamptz '2026-01-01' + g * interval '1 minute'
    FROM generate_series(1, 50 - (SELECT count(*) FROM comments WHERE post_id = $post_id)) AS g" >/dev/null

  # The ceiling for cached reads: nginx serving the same bytes as the first
  # page and the post (static files, no logging), on the same machine.
  api "$BLOG_URL/api/posts" >"$static_dir/page.json"
  api "$BLOG_URL/api/posts/$post_id" >"$static_dir/post.json"

  # Keyset condition of the deep page, decoded from its cursor (v1:µs:id).
  IFS=: read -r _ micros last_id <<<"$(python3 -c 'import base64, sys; c = sys.argv[1]; print(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)).decode())' "$deep_cursor")"
  explain "first page" ""
  explain "$deep_label" "AND (p.published_at, p.id) < (to_timestamp($micros / 1e6), $last_id)"

  for c in $CONNECTIONS; do
    wrk_point "healthz (ceiling)" /healthz "$c"
    wrk_point "nginx static: first page's bytes" "$NGINX_URL/page.json" "$c"
    wrk_point "nginx static: post's bytes" "$NGINX_URL/post.json" "$c"
    wrk_point "list: first page" "/api/posts" "$c"
    wrk_point "list: $deep_label" "/api/posts?cursor=$deep_cursor" "$c"
    views_before="$(views_in_redis "$post_id")"
    last_requests=""
    wrk_point "post detail" "/api/posts/$post_id" "$c"
    if [[ -n "$last_requests" ]]; then
      sleep 1 # one flush period and then some
      views_after="$(views_in_redis "$post_id")"
      # wrk counts the answers it read; the service also counted the requests
      # still in flight when wrk stopped (at most one per connection per run).
      view_checks+=("| $size_label | $c | $last_requests | $((views_after - views_before)) | $((views_after - views_before - last_requests)) | 0–$((c * REPS)) |")
    fi
    wrk_point "author's posts" "/api/users/bench7/posts" "$c"
    wrk_point "search: two words" "/api/search?q=$SEARCH_QUERY" "$c"
    wrk_point "list: one tag" "/api/posts?tag=topic1" "$c"
    wrk_point "tags with counts" "/api/tags" "$c"
    wrk_point "site: tag page" "/tag/topic1/" "$c"
    wrk_point "feed: blog (Atom)" "/feeds/atom.xml" "$c"
    wrk_point "feed: tag (Atom)" "/tag/topic1/atom.xml" "$c"
    wrk_point "site: home page" "/" "$c"
    wrk_point "site: post page (50 comments)" "$post_page" "$c"
    wrk_point "comments: 50 of a post" "/api/posts/$post_id/comments" "$c"
    wrk_point "create post" "/api/posts" "$c" BENCH_METHOD=POST BENCH_TOKEN="$token" \
      BENCH_BODY='{"title":"Benchmark","content":"Written by wrk."}'
    wrk_point "log in" "/api/sessions" "$c" BENCH_METHOD=POST BENCH_BODY="$login_body"
  done

  # One reader alone: a search's own latency, without queueing behind 15
  # others on 2 cores (the plan is asserted in the API tests: search.rs).
  wrk_point "search: two words" "/api/search?q=$SEARCH_QUERY" 1

  # The same pages with the cache out of the way: Redis stopped, the service
  # bypasses it (after one timeout per second at most).
  docker stop "$HOST_STACK_REDIS" >/dev/null
  sleep 2
  saved_rows=("${rows[@]}")
  rows=()
  for c in $CONNECTIONS; do
    wrk_point "healthz (ceiling)" /healthz "$c"
    wrk_point "uncached list: first page" "/api/posts" "$c"
    wrk_point "uncached list: $deep_label" "/api/posts?cursor=$deep_cursor" "$c"
    wrk_point "uncached post detail" "/api/posts/$post_id" "$c"
    wrk_point "uncached search: two words" "/api/search?q=$SEARCH_QUERY" "$c"
    wrk_point "uncached list: one tag" "/api/posts?tag=topic1" "$c"
    wrk_point "uncached tags with counts" "/api/tags" "$c"
    wrk_point "uncached site: home page" "/" "$c"
    wrk_point "uncached site: post page (50 comments)" "$post_page" "$c"
    wrk_point "uncached comments: 50 of a post" "/api/posts/$post_id/comments" "$c"
  done
  wrk_point "uncached search: two words" "/api/search?q=$SEARCH_QUERY" 1
  uncached+=("${rows[@]}")
  rows=("${saved_rows[@]}")
  docker start "$HOST_STACK_REDIS" >/dev/null
  sleep 2
done

header="| data | endpoint | connections | req/s (median of $REPS) | p50 ms | p99 ms | max ms | ratio to ceiling | requests (all runs) | non-2xx | socket errors |
|---|---|---|---|---|---|---|---|---|---|---|"
echo
echo "## Throughput and latency (cache on, as deployed)"
echo
echo "$header"
printf '%s\n' "${rows[@]}"
echo
echo "## List pages with the Redis cache bypassed (Redis stopped)"
echo
echo "$header"
printf '%s\n' "${uncached[@]}"
echo
echo "## The site's home page against the API's first page (same run, same data)"
echo
echo "| data | connections | cache | home page req/s | GET /api/posts req/s | home / API |"
echo "|---|---|---|---|---|---|"
# Rows are "| data | endpoint | conns | rps | …"; pair the home page with the list.
site_ratio() {
  local cache="$1" home_label="$2" list_label="$3"
  shift 3
  printf '%s\n' "$@" | awk -F' *[|] *' -v cache="$cache" -v h="$home_label" -v l="$list_label" '
    $3 == h { home[$2 SUBSEP $4] = $5 }
    $3 == l { list[$2 SUBSEP $4] = $5 }
    END {
      for (k in home) if (k in list) {
        split(k, p, SUBSEP)
        printf "| %s | %s | %s | %s | %s | %.2f |\n", p[1], p[2], cache, home[k], list[k], home[k] / list[k]
      }
    }' | sort
}
site_ratio on "site: home page" "list: first page" "${rows[@]}"
site_ratio off "uncached site: home page" "uncached list: first page" "${uncached[@]}"
echo
echo "## Cached reads against nginx serving the same bytes (same run)"
echo
echo "| data | connections | read | service req/s | nginx req/s | service / nginx |"
echo "|---|---|---|---|---|---|"
site_ratio "first page" "list: first page" "nginx static: first page's bytes" "${rows[@]}"
site_ratio "post detail" "post detail" "nginx static: post's bytes" "${rows[@]}"
echo
echo "## Views counted during the post detail runs (Redis, after the last flush)"
echo
echo "| data | connections | answers wrk read | views added in Redis | difference | expected difference (in flight at the end) |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${view_checks[@]}"
echo
echo "## Database time of one page (EXPLAIN ANALYZE, ms)"
echo
echo "| data | page | execution ms |"
echo "|---|---|---|"
printf '%s\n' "${explains[@]}"
echo
echo "## Memory (RSS of the service process)"
echo
echo "- idle after start-up and seeding: $((idle_rss / 1024)) MiB"
echo "- peak under load: $((peak_rss / 1024)) MiB"
echo
echo "Load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(uname -sr); wrk -t$THREADS, $DURATION per point."
