#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what CI runs.
#
#   scripts/test.sh              all stages, in order
#   scripts/test.sh lint unit    only the named stages
#
# Stages: tools images lint audit build image test delivery drill compose fuzz
# Everything it needs (Python tools, helm, offline base images, the app image)
# is installed or built on the way and cached under $BLOG_CACHE_DIR, so a
# fresh machine with Docker and the Rust toolchain is enough.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export BLOG_CACHE_DIR="${BLOG_CACHE_DIR:-$HOME/.cache/blog}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

all_stages=(tools images lint audit build image test delivery drill compose fuzz)
if [ "$#" -gt 0 ]; then stages=("$@"); else stages=("${all_stages[@]}"); fi

wants() {
  local s
  for s in "${stages[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

started=$SECONDS
stage() { printf '\n==> %s (%ds)\n' "$*" "$((SECONDS - started))"; }

# Tools (helm, kubernetes-validate, check-jsonschema, checkov, shellcheck,
# hadolint, schemathesis, syft, axe-core) come from one pinned venv; every
# stage may need them. The cargo tools (cargo-deny, cargo-cyclonedx) only for
# the stages that use them: a cold install compiles them. Chromium and
# chromedriver (Debian's) only for the test stage's browser test.
stage "tools"
tools_args=(--env)
if wants audit || wants image || wants test || wants delivery || wants drill; then tools_args+=(--cargo); fi
if wants test; then tools_args+=(--browser); fi
tools_env="$(scripts/install-tools.sh "${tools_args[@]}")"
eval "$tools_env"

# Images: the public ones when Docker has them (or can pull them), otherwise
# the local ones built from Debian's packages.
if wants images || wants image || wants test || wants compose || wants fuzz || wants delivery || wants drill; then
  stage "images"
  images_env="$(dockerfiles/build-offline-images.sh --env)"
  eval "$images_env"
fi

if wants lint; then
  stage "lint: rustfmt, clippy, hadolint"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets --locked -- -D warnings
  hadolint dockerfiles/*Dockerfile* dockerfiles/offline/*Dockerfile*
  check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
fi

# Advisories (offline RustSec snapshot, $BLOG_ADVISORY_DB), licenses, bans and
# sources of the whole tree (deny.toml), and one crypto provider in the binary.
if wants audit; then
  stage "audit: cargo-deny (advisories, licenses, bans, sources)"
  scripts/audit.sh
fi

# One release build of the whole workspace (tests included) serves the test
# run and the app image, so the dependencies are compiled once.
if wants build || wants image || wants test; then
  stage "build"
  cargo build --release --workspace --all-targets --locked
  # Later stages (image, deploy.sh build, compose, fuzz) reuse these binaries
  # instead of building `-p blog` again with a different feature set.
  export BLOG_BIN="$target_dir/release/blog" TEST_STACK_BIN="$target_dir/release/test-stack"
fi

if wants image || wants test || wants delivery || wants drill; then
  stage "app image"
  BLOG_TEST_APP_IMAGE="$(scripts/build-image.sh --print-ref)"
  export BLOG_TEST_APP_IMAGE
  echo "app image: $BLOG_TEST_APP_IMAGE"
  # Its SBOMs (target/sbom): they match its labels, list every crate of the
  # binary and every Debian package of the image.
  scripts/sbom.sh check "$BLOG_TEST_APP_IMAGE"
fi

if wants test; then
  # The browser test (integration-tests/tests/browser.rs) is one of these
  # targets: it finds chromedriver, Chromium and axe.min.js through
  # BLOG_CHROMEDRIVER, BLOG_CHROMIUM and BLOG_AXE_JS from the tools stage.
  stage "cargo test: unit, integration (containers, real Django import), browser, container, faults, chart"
  # The import tests' real Django (a virtualenv from PyPI, cached under
  # $BLOG_CACHE_DIR): made here so that a missing Python or PyPI fails
  # with its own message before the long test run.
  integration-tests/django/setup.sh >/dev/null
  cargo test --release --workspace --locked --no-fail-fast
fi

if wants delivery; then
  stage "delivery: shellcheck, CI schemas, deploy.sh against a local registry"
  scripts/delivery-test.sh
fi

if wants drill; then
  stage "drill: back up and restore with the chart's own Jobs, 100 000 posts"
  scripts/restore-drill.sh
fi

if wants compose; then
  stage "compose: the README's run command on the whole local stack"
  scripts/up.sh
  scripts/up.sh check
  scripts/up.sh down -v
fi

if wants fuzz; then
  stage "fuzz: schemathesis against the running service"
  scripts/fuzz.sh
fi

stage "all requested stages passed (${stages[*]}); target dir: $target_dir"
