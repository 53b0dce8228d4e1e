#!/usr/bin/env bash
# Builds the app image from dockerfiles/app.Dockerfile.
#
#   scripts/build-image.sh [--tag TAG]... [--source prebuilt|builder] [--print-ref]
#
# Always tags blog:<git sha, 12 hex> (…-dirty when the work tree has changes)
# plus every --tag. stdout carries only that blog:<sha> reference (so
# `ref="$(scripts/build-image.sh)"` works; --print-ref says so explicitly);
# progress, image id and size go to stderr.
#
# --source prebuilt (default): cargo builds target/release/blog on the host
#   (`cargo build --release --locked -p blog`, a no-op when up to date;
#   CARGO_TARGET_DIR honoured; BLOG_BIN=path uses that binary instead) and the
#   binary alone is the build context.
# --source builder: compiles inside the Dockerfile's builder stage from the
#   repository (needs $RUST_IMAGE, default from dockerfiles/images.env); the
#   machine's CA bundle is passed as a BuildKit secret for crates.io, never copied.
#
# Runtime base: RUNTIME_IMAGE of dockerfiles/images.env, chosen like every
# image of that list ($RUNTIME_IMAGE if set, else the public one if Docker has
# it or can pull it, else the local one, built from Debian's packages if missing).
#
# SBOMs (CycloneDX JSON, scripts/sbom.sh): blog-<sha>.rust.cdx.json (the
# binary's crates, from Cargo.lock) and blog-<sha>.os.cdx.json (the Debian
# packages of the image's `os` stage, which the runtime stage adds only the
# binary to) go to $BLOG_SBOM_DIR (default: $CARGO_TARGET_DIR/sbom, i.e.
# target/sbom); the labels com.example.blog.sbom.rust / .os carry
# "<sha256>  <file>" of each. The tools (cargo-cyclonedx, syft) come from
# scripts/install-tools.sh --cargo.
#
# Debug info: the image's binary has no debug sections; they are written to
# blog-<sha>.debug in $BLOG_DEBUG_DIR (default: $CARGO_TARGET_DIR/debuginfo),
# which the binary names in its .gnu_debuglink (objcopy, from binutils).
set -euo pipefail
shopt -s inherit_errexit

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091 # lib.sh is linted on its own
. "${repo}/scripts/lib.sh"

log() { echo "build-image: $*" >&2; }
die() {
  log "$*"
  exit 1
}

tags=()
source_kind=prebuilt
while (($#)); do
  case "$1" in
    --tag)
      [[ -n "${2:-}" ]] || die "--tag needs a value"
      tags+=("$2")
      shift
      ;;
    --tag=*) tags+=("${1#--tag=}") ;;
    --source)
      source_kind="${2:-}"
      shift
      ;;
    --print-ref) ;;
    -h | --help)
      sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
[[ "$source_kind" == prebuilt || "$source_kind" == builder ]] ||
  die "--source must be prebuilt or builder"

# Resolved before changing directory: a relative BLOG_BIN means the caller's.
if [[ -n "${BLOG_BIN:-}" ]]; then
  BLOG_BIN="$(realpath -e "$BLOG_BIN")" || die "BLOG_BIN does not exist"
fi
cd "$repo"
revision="$(git rev-parse HEAD)"
short="${revision:0:12}"
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  short="${short}-dirty"
  revision="${revision}-dirty"
fi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
source_url="$(sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
# The commit time, not the wall clock: rebuilding a commit gives the same label.
created="$(git log -1 --format=%cI | xargs -I{} date -u -d {} +%Y-%m-%dT%H:%M:%SZ)"
ref="blog:${short}"
sbom_dir="${BLOG_SBOM_DIR:-${CARGO_TARGET_DIR:-${repo}/target}/sbom}"
rust_sbom="blog-${short}.rust.cdx.json"
os_sbom="blog-${short}.os.cdx.json"
# The binary's debug info, kept out of the image.
debug_dir="${BLOG_DEBUG_DIR:-${CARGO_TARGET_DIR:-${repo}/target}/debuginfo}"
debug_file="blog-${short}.debug"

eval "$(dockerfiles/build-offline-images.sh --env debian)"
runtime="$RUNTIME_IMAGE"
docker_build="$(buildkit_docker)"
# Both base images are build arguments without defaults (the list names them);
# BuildKit needs RUST_IMAGE to parse the file even when the builder stage is skipped.
build_args=(
  --build-arg "RUNTIME_IMAGE=${runtime}"
  --build-arg "RUST_IMAGE=${RUST_IMAGE:-$(image_pin RUST_IMAGE)}"
  --build-arg "VERSION=${version}"
  --build-arg "SOURCE=${source_url}"
  --build-arg "REVISION=${revision}"
  --build-arg "CREATED=${created}"
  --build-arg "BINARY_SOURCE=${source_kind}"
)
tag_args=(-t "$ref")
for t in "${tags[@]}"; do tag_args+=(-t "$t"); done

if ! command -v cargo-cyclonedx >/dev/null || ! command -v syft >/dev/null; then
  eval "$(scripts/install-tools.sh --env --cargo)"
fi

started=$SECONDS
# The crate list depends on Cargo.lock and the manifests only, whichever way
# the binary is built.
scripts/sbom.sh rust "${sbom_dir}/${rust_sbom}"

# The `os` stage, then its packages: the image below adds only the binary and
# labels to it (BuildKit reuses this build's layers), so the list is the image's.
build_os_sbom() {
  local iid
  iid="$(mktemp)"
  DOCKER_BUILDKIT=1 "$docker_build" build --progress=plain "${build_args[@]}" \
    --target os --iidfile "$iid" -f dockerfiles/app.Dockerfile "$1" >&2
  scripts/sbom.sh os "$(cat "$iid")" "${sbom_dir}/${os_sbom}" "$short"
  rm -f "$iid"
  build_args+=(
    --build-arg "SBOM_RUST=$(cd "$sbom_dir" && sha256sum "$rust_sbom")"
    --build-arg "SBOM_OS=$(cd "$sbom_dir" && sha256sum "$os_sbom")"
  )
}

if [[ "$source_kind" == prebuilt ]]; then
  binary="${BLOG_BIN:-}"
  if [[ -z "$binary" ]]; then
    log "cargo build --release --locked -p blog"
    cargo build --release --locked -p blog --bin blog >&2
    binary="${CARGO_TARGET_DIR:-${repo}/target}/release/blog"
  fi
  # The binary alone is the context: nothing else on the host can reach a layer.
  context="$(mktemp -d)"
  trap 'rm -rf "$context"' EXIT
  # The release profile keeps line tables for readable backtraces: 116 MB of
  # a 130 MB binary. They go to a file beside the SBOMs (compressed), the
  # image gets the binary without them (symbols kept: backtraces still name
  # functions) and a .gnu_debuglink to that file.
  command -v objcopy >/dev/null || die "objcopy is needed to strip the binary (apt-get install binutils)"
  mkdir -p "$debug_dir"
  objcopy --only-keep-debug --compress-debug-sections=zlib "$binary" "${debug_dir}/${debug_file}"
  objcopy --strip-debug --add-gnu-debuglink="${debug_dir}/${debug_file}" "$binary" "${context}/blog"
  build_os_sbom "$context"
  DOCKER_BUILDKIT=1 "$docker_build" build --progress=plain "${build_args[@]}" \
    -f dockerfiles/app.Dockerfile "${tag_args[@]}" "$context" >&2
else
  secret_args=()
  ca="${BLOG_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
  [[ -s "$ca" ]] && secret_args=(--secret "id=ca,src=${ca}")
  build_os_sbom .
  DOCKER_BUILDKIT=1 "$docker_build" build --progress=plain "${build_args[@]}" "${secret_args[@]}" \
    -f dockerfiles/app.Dockerfile "${tag_args[@]}" . >&2
  # The builder stage's debug info (cached: no second compile).
  out="$(mktemp -d)"
  DOCKER_BUILDKIT=1 "$docker_build" build --progress=plain "${build_args[@]}" "${secret_args[@]}" \
    --target debuginfo --output "type=local,dest=${out}" -f dockerfiles/app.Dockerfile . >&2
  mkdir -p "$debug_dir"
  mv "${out}/blog.debug" "${debug_dir}/${debug_file}"
  rm -rf "$out"
fi

log "built ${ref} ${tags[*]} in $((SECONDS - started)) s: $(docker image inspect -f '{{.Id}} {{.Size}} bytes' "$ref")"
log "SBOMs: ${sbom_dir}/${rust_sbom} ${sbom_dir}/${os_sbom}"
log "debug info (gdb: set debug-file-directory, or beside the binary): ${debug_dir}/${debug_file}"
echo "$ref"
