#!/usr/bin/env bash
# Import rate of `blog import-django` (run by hand, not CI; figures in
# bench/RESULTS.md):
#
#   bench/import.sh                     100 000 posts
#   BENCH_IMPORT_POSTS=20000 bench/import.sh
#
# Starts the tests' dependencies and the release binary (host_stack_up in
# scripts/lib.sh), makes the Django original's data with the real Django
# (integration-tests/django: 5 users with profiles and pictures, plus
# BENCH_IMPORT_POSTS posts, `dumpdata`), then times, each into an empty
# database of the service:
#   1. the dumpdata file with the media directory,
#   2. the same file again (nothing to do: the no-op check of every record),
#   3. the live Django database (one read-only REPEATABLE READ snapshot).
# Prints posts per second for each.
#
# Needs: docker, python3 with venv (PyPI the first time), cargo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

POSTS="${BENCH_IMPORT_POSTS:-100000}"
DJANGO_PASSWORD="bench-django-not-secret"

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
host_stack_up blog-import-bench BLOG_LOG__FILTER=error
blog="$(host_stack_binary blog blog BLOG_BIN)"

pg_admin() {
  docker exec -i "$HOST_STACK_POSTGRES" psql -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}
pg_admin -c "CREATE ROLE django LOGIN PASSWORD '$DJANGO_PASSWORD'"
pg_admin -c "CREATE DATABASE django_original OWNER django"

python="$(integration-tests/django/setup.sh)"
fixture="$HOST_STACK_DIR/django"
echo "bench: making the Django original with $POSTS posts (real Django, bulk_create, dumpdata)" >&2
DJANGO_DB_HOST=127.0.0.1 DJANGO_DB_PORT="$BLOG_DATABASE__PORT" DJANGO_DB_NAME=django_original \
  DJANGO_DB_USER=django DJANGO_DB_PASSWORD="$DJANGO_PASSWORD" FIXTURE_BULK_POSTS="$POSTS" \
  "$python" integration-tests/django/make_fixture.py "$fixture" >/dev/null
total_posts=$((POSTS + 5))
echo "bench: dump $(du -h "$fixture/dump.json" | cut -f1), $total_posts posts" >&2

# A fresh, migrated database of the service, owned by the service's role.
fresh_db() {
  pg_admin -c "CREATE DATABASE $1 OWNER $BLOG_DATABASE__USER"
  BLOG_DATABASE__NAME="$1" "$blog" migrate >/dev/null
}

timed() {
  local label="$1" db="$2"
  shift 2
  local start end
  start="$(date +%s.%N)"
  BLOG_DATABASE__NAME="$db" BLOG_DATABASE__STATEMENT_TIMEOUT_MS=60000 "$blog" import-django "$@" \
    >"$HOST_STACK_DIR/$db.out" 2>"$HOST_STACK_DIR/$db.err"
  end="$(date +%s.%N)"
  python3 -c 'import sys; s = float(sys.argv[2]) - float(sys.argv[1]); print(f"{sys.argv[4]:<44} {s:8.1f} s  {int(sys.argv[3]) / s:8.0f} posts/s")' \
    "$start" "$end" "$total_posts" "$label"
  sed 's/^/    /' "$HOST_STACK_DIR/$db.out" | head -n 6
}

fresh_db import_file
timed "dumpdata file + media dir (first run)" import_file "$fixture/dump.json" --media "$fixture/media"
timed "same file again (no-op)" import_file "$fixture/dump.json" --media "$fixture/media"
fresh_db import_live
timed "live Django database + media dir" import_live \
  "postgres://django:$DJANGO_PASSWORD@127.0.0.1:$BLOG_DATABASE__PORT/django_original" --media "$fixture/media"
