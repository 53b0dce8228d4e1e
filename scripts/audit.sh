#!/usr/bin/env bash
# Audits the dependency tree (the `audit` stage of scripts/test.sh, so CI):
# cargo-deny with deny.toml checks RustSec advisories against an offline
# snapshot (fetching disabled), licenses against the allow-list, banned crates
# and sources; then the blog binary's own graph is checked for a single crypto
# provider. Any finding fails the run; accepted ones are ignored in deny.toml
# with their reason. See docs/supply-chain.md.
#
#   scripts/audit.sh
#
# BLOG_ADVISORY_DB: a RustSec advisory-db directory (with crates/), read only.
#   Default: the first of ../shared/advisory-db beside the repository and
#   /work/shared/advisory-db (this project's machines) that exists. None: an
#   error under CI=true; elsewhere the advisories check is skipped, loudly.
#   `fetch`: cargo-deny fetches the live database instead (CI that is online:
#   GitHub Actions, Travis).
# cargo-deny wants the database as a git repository in a writable directory
# named after its URL, so the snapshot is copied into one under
# $BLOG_CACHE_DIR/advisory-dbs and committed with the snapshot's date (which
# deny.toml's maximum-db-staleness is measured against). The copy is redone
# only when the snapshot's content changes.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
cache_dir="${BLOG_CACHE_DIR:-${HOME}/.cache/blog}"
if [[ -n "${BLOG_ADVISORY_DB:-}" ]]; then
  db="$BLOG_ADVISORY_DB"
else
  db="${repo}/../shared/advisory-db"
  [[ -d "${db}/crates" ]] || [[ ! -d /work/shared/advisory-db/crates ]] || db=/work/shared/advisory-db
fi
export BLOG_ADVISORY_DB_ROOT="${BLOG_ADVISORY_DB_ROOT:-${cache_dir}/advisory-dbs}"
# Where cargo-deny 0.20 looks for the default database
# (https://github.com/rustsec/advisory-db): "advisory-db-" + the xxHash64 of the
# URL. If a cargo-deny upgrade changes it, the advisories check fails with the
# path it wanted (it never passes on an empty database).
db_dir="${BLOG_ADVISORY_DB_ROOT}/advisory-db-3157b0e258782691"
# The binary must not link a second crypto provider next to ring, nor a
# second TLS stack next to rustls.
forbidden_in_binary=(aws-lc-rs aws-lc-sys openssl openssl-sys native-tls)
target=x86_64-unknown-linux-gnu

log() { echo "audit: $*" >&2; }
die() {
  log "$*"
  exit 1
}

if ! command -v cargo-deny >/dev/null; then
  eval "$(scripts/install-tools.sh --env --cargo)"
fi

# The snapshot's date: its README says "dated YYYY-MM-DD"; without one, the
# newest advisory's date (the snapshot is at least that new).
snapshot_date() {
  local date
  date="$(sed -n 's/.*dated \([0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}\).*/\1/p' "${db}/README.md" 2>/dev/null | head -n1)"
  if [[ -z "$date" ]]; then
    date="$(grep -rhoE '^date = "[0-9]{4}-[0-9]{2}-[0-9]{2}"' "${db}/crates" | cut -d'"' -f2 | sort | tail -n1)"
  fi
  [[ -n "$date" ]] || die "cannot tell the date of the advisory snapshot ${db}"
  echo "$date"
}

prepare_db() {
  local stamp_file="${db_dir}.stamp" stamp date tmp
  mkdir -p "$BLOG_ADVISORY_DB_ROOT"
  exec 7>"${BLOG_ADVISORY_DB_ROOT}/.prepare-lock"
  flock 7
  stamp="$(cd "$db" && find . -type f -not -path './.git/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
  date="$(snapshot_date)"
  if [[ -d "${db_dir}/.git" && "$(cat "$stamp_file" 2>/dev/null)" == "$stamp" ]]; then
    :
  else
    log "laying out the snapshot ${db} for cargo-deny in ${db_dir}"
    tmp="$(mktemp -d "${BLOG_ADVISORY_DB_ROOT}/.new.XXXXXX")"
    cp -R "${db}/." "$tmp/"
    rm -rf "${tmp}/.git"
    git -C "$tmp" init --quiet --initial-branch=main
    git -C "$tmp" add --all
    GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z" \
      git -C "$tmp" -c user.name=audit -c user.email=audit@localhost -c commit.gpgsign=false \
      commit --quiet -m "RustSec advisory-db snapshot ${date} (from ${db})"
    rm -rf "$db_dir"
    mv "$tmp" "$db_dir"
    echo "$stamp" >"$stamp_file"
  fi
  flock -u 7
  local count age
  count="$(find "${db_dir}/crates" -name 'RUSTSEC-*.md' | wc -l)"
  age=$((($(date -u +%s) - $(date -u -d "$date" +%s)) / 86400))
  log "advisory snapshot: ${count} advisories, dated ${date} (${age} days old), from ${db}"
}

checks=(advisories licenses bans sources)
# --offline is what keeps cargo-deny from fetching the advisory database; it
# also keeps cargo metadata offline, which needs every platform's crates on
# disk (a build downloads only the host's): cargo fetch gets them first.
network=(--offline)
if [[ "$db" == fetch ]]; then
  log "fetching the live advisory database into ${BLOG_ADVISORY_DB_ROOT}"
  network=()
elif [[ -d "${db}/crates" ]]; then
  db="$(cd "$db" && pwd)"
  prepare_db
else
  message="no RustSec advisory database at ${db} (a directory with crates/): set BLOG_ADVISORY_DB to one, or to 'fetch' where GitHub is reachable (docs/supply-chain.md)"
  [[ "${CI:-}" == true ]] && die "$message"
  log "${message}; SKIPPING the advisories check (CI=true makes this an error)"
  checks=(licenses bans sources)
fi

cargo fetch --locked --quiet
log "cargo deny check ${checks[*]} ($(cargo-deny --version))"
# Without inclusion graphs: the duplicate-version warnings alone would print
# 1,400 lines of trees. A finding names the crate and version;
# `cargo tree -i CRATE@VERSION` (or this command without the flag) shows
# where it comes from.
cargo deny "${network[@]}" --locked check --show-stats --hide-inclusion-graph "${checks[@]}"

# cargo-deny sees the whole workspace with features unified, where the test
# crates may still pull more in; the binary's own graph (what
# `cargo build -p blog` compiles) must stay on one provider (ring) and one TLS
# stack (rustls).
mapfile -t binary_crates < <(cargo tree --locked -p blog -e normal --target "$target" --prefix none -f '{p}' | cut -d' ' -f1 | sort -u)
((${#binary_crates[@]} > 100)) || die "cargo tree -p blog listed only ${#binary_crates[@]} crates"
found=()
for crate in "${forbidden_in_binary[@]}"; do
  printf '%s\n' "${binary_crates[@]}" | grep -qxF "$crate" && found+=("$crate")
done
if ((${#found[@]} > 0)); then
  die "the blog binary's graph contains ${found[*]}: see \`cargo tree -p blog -e features -i ${found[0]}\`"
fi
printf '%s\n' "${binary_crates[@]}" | grep -qxF ring || die "the blog binary's graph has no ring: which provider does it use?"
printf '%s\n' "${binary_crates[@]}" | grep -qxF rustls || die "the blog binary's graph has no rustls"
log "blog binary: ${#binary_crates[@]} crates, one crypto provider (ring), one TLS stack (rustls)"
log "passed"
