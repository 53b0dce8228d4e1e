#!/usr/bin/env bash
# Builds, pushes and deploys the blog service.
#
#   ./deploy.sh [--dry-run] build            image tagged with the git SHA and the version
#   ./deploy.sh [--dry-run] push             push both tags, print the pushed digest
#   ./deploy.sh [--dry-run] deploy ENV       helm upgrade --install with values/ENV.yaml
#   ./deploy.sh [--dry-run] all ENV          build, push, deploy
#   ./deploy.sh --help
#
# Environment (credentials only ever come from here):
#   REGISTRY             registry host[:port], e.g. ghcr.io, 127.0.0.1:5000   (all commands)
#   IMAGE_REPOSITORY     repository in that registry, e.g. acme/blog           (all commands)
#   REGISTRY_USERNAME    with REGISTRY_PASSWORD: docker login before pushing   (optional)
#   REGISTRY_PASSWORD    passed to docker login on stdin, never printed        (optional)
#   NAMESPACE            Kubernetes namespace of the release                   (deploy)
#   KUBECONFIG           kubeconfig of the deployer service account            (deploy)
#   IMAGE_DIGEST         sha256:… to pin; default: the digest `push` produced (deploy, optional)
#   HELM_TIMEOUT         helm --timeout, default 10m                           (deploy, optional)
#   HELM_RELEASE         release name, default blog                            (deploy, optional)
#
# --dry-run prints every command it would run and runs none that changes
# anything (no build, login, push or helm upgrade); the checks still run.
# Every command refuses to run on a work tree with uncommitted changes to
# tracked files: the image and the release are named after HEAD, so they must
# be exactly HEAD.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly ROOT
readonly CHART="charts/blog"

die() {
  echo "deploy.sh: $*" >&2
  exit 1
}
info() { echo "deploy.sh: $*" >&2; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

dry_run=false
# Set by `push`, so `all` deploys exactly the digest it pushed.
pushed_digest=""

# Prints a command exactly as it would be typed, then runs it unless this is a
# dry run. Only commands that change something go through here.
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if ! $dry_run; then
    "$@"
  fi
}

# Copies stdin to stdout and to this script's stderr. (`tee /dev/stderr`
# would reopen stderr and truncate it when it is a file, e.g. a CI log.)
tee_stderr() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    printf '%s\n' "$line" >&2
    printf '%s\n' "$line"
  done
}

# ---------------------------------------------------------------- checks ---

# Names every missing variable at once, so a CI setup is fixed in one go.
require_vars() {
  local missing=() name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || missing+=("$name")
  done
  if ((${#missing[@]} > 0)); then
    die "missing required environment variable(s): ${missing[*]} (see ./deploy.sh --help)"
  fi
}

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "'${tool}' is not on PATH"
  done
}

# Untracked files are only reported: they are not part of the image (the
# build copies a binary built from tracked sources) nor of the release, and CI
# actions such as google-github-actions/auth drop credential files there.
require_clean_tree() {
  git -C "$ROOT" rev-parse --verify --quiet HEAD >/dev/null || die "${ROOT} is not a git work tree with a commit"
  local changes
  changes="$(git -C "$ROOT" status --porcelain --untracked-files=no)"
  if [[ -n "$changes" ]]; then
    printf '%s\n' "$changes" >&2
    die "the work tree has uncommitted changes (above); commit or stash them: images and releases are named after HEAD ($(git -C "$ROOT" rev-parse HEAD))"
  fi
  if [[ -n "$(git -C "$ROOT" ls-files --others --exclude-standard)" ]]; then
    info "note: untracked files present (not part of the image or release)"
  fi
}

# Docker references must be lowercase; GitHub repository names often are not.
check_image_names() {
  [[ "$REGISTRY" =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] ||
    die "REGISTRY must be host[:port] without scheme or path, got '${REGISTRY}'"
  [[ "$IMAGE_REPOSITORY" =~ ^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]] ||
    die "IMAGE_REPOSITORY must be a lowercase repository path such as acme/blog, got '${IMAGE_REPOSITORY}'"
}

known_environments() {
  local f
  for f in "$ROOT"/values/*.yaml; do
    [[ -e "$f" ]] || continue
    f="${f##*/}"
    printf '%s\n' "${f%.yaml}"
  done
}

check_environment() {
  local env="$1" known
  known="$(known_environments | paste -sd ' ' -)"
  [[ -n "$env" ]] || die "deploy needs an environment: one of: ${known:-<none: values/ is empty>}"
  # The name becomes a path: refuse anything that could leave values/.
  if [[ ! "$env" =~ ^[a-z0-9][a-z0-9-]*$ || ! -f "${ROOT}/values/${env}.yaml" ]]; then
    die "unknown environment '${env}'; known environments (from values/): ${known:-<none>}"
  fi
}

# ------------------------------------------------------------- metadata ---

git_sha() { git -C "$ROOT" rev-parse HEAD; }

# The version of the workspace ([workspace.package] in Cargo.toml); the chart's
# appVersion must agree, so a release names one version everywhere.
app_version() {
  local version chart_version
  version="$(awk '
    /^\[/ { in_section = ($0 == "[workspace.package]") }
    in_section && /^version[[:space:]]*=/ { gsub(/^[^"]*"|".*$/, ""); print; exit }
  ' "${ROOT}/Cargo.toml")"
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
    die "cannot read a semantic version from [workspace.package] in Cargo.toml (got '${version}')"
  if [[ -f "${ROOT}/${CHART}/Chart.yaml" ]]; then
    chart_version="$(sed -n 's/^appVersion:[[:space:]]*["'\'']\{0,1\}\([^"'\'']*\)["'\'']\{0,1\}[[:space:]]*$/\1/p' "${ROOT}/${CHART}/Chart.yaml")"
    [[ -z "$chart_version" || "$chart_version" == "$version" ]] ||
      die "version mismatch: Cargo.toml says ${version}, ${CHART}/Chart.yaml appVersion says ${chart_version}"
  fi
  # A registry tag may not contain '+'.
  printf '%s\n' "${version//+/_}"
}

image_ref() { printf '%s/%s\n' "$REGISTRY" "$IMAGE_REPOSITORY"; }

# The digest the registry gave the SHA tag, as recorded by the local Docker
# after `push` (or a pull); empty when unknown.
local_digest() {
  local ref sha line
  ref="$(image_ref)"
  sha="$(git_sha)"
  docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "${ref}:${sha}" 2>/dev/null |
    while read -r line; do
      # Docker shortens docker.io/library/x to x in RepoDigests: compare the path.
      if [[ "$line" == "${ref}@"* || "$line" == "${IMAGE_REPOSITORY}@"* || "$line" == "docker.io/${IMAGE_REPOSITORY}@"* ]]; then
        printf '%s\n' "${line#*@}"
        break
      fi
    done
}

# ------------------------------------------------------------- commands ---

cmd_build() {
  require_vars REGISTRY IMAGE_REPOSITORY
  check_image_names
  require_clean_tree
  $dry_run || require_tools docker
  local ref sha version
  ref="$(image_ref)"
  sha="$(git_sha)"
  version="$(app_version)"
  # Never `latest`: a moving tag cannot be rolled back to and Kubernetes does
  # not notice it changed. The SHA tag is what gets deployed; the version tag
  # is a human-friendly alias for the newest build of that version.
  cd "$ROOT"
  run scripts/build-image.sh --tag "${ref}:${sha}" --tag "${ref}:${version}"
  if $dry_run; then
    info "dry run: would build ${ref}:${sha} and ${ref}:${version} (nothing was built)"
  else
    info "built ${ref}:${sha} and ${ref}:${version}"
  fi
}

cmd_push() {
  require_vars REGISTRY IMAGE_REPOSITORY
  check_image_names
  require_clean_tree
  if [[ -n "${REGISTRY_USERNAME:-}" || -n "${REGISTRY_PASSWORD:-}" ]]; then
    require_vars REGISTRY_USERNAME REGISTRY_PASSWORD
  fi
  $dry_run || require_tools docker
  local ref sha version tag output digest=""
  ref="$(image_ref)"
  sha="$(git_sha)"
  version="$(app_version)"

  if ! $dry_run && ! docker image inspect "${ref}:${sha}" >/dev/null 2>&1; then
    die "no local image ${ref}:${sha}; run ./deploy.sh build first"
  fi

  if [[ -n "${REGISTRY_USERNAME:-}" ]]; then
    # The password goes through stdin only: not in argv, not in the output.
    # shellcheck disable=SC2016 # printed literally: the value is never shown
    printf '+ docker login --username %q --password-stdin %q <<< "$REGISTRY_PASSWORD"\n' "$REGISTRY_USERNAME" "$REGISTRY"
    if ! $dry_run; then
      printf '%s' "$REGISTRY_PASSWORD" | docker login --username "$REGISTRY_USERNAME" --password-stdin "$REGISTRY" >&2 ||
        die "docker login to ${REGISTRY} as ${REGISTRY_USERNAME} failed"
    fi
  fi

  if ! $dry_run; then
    docker image inspect "${ref}:${version}" >/dev/null 2>&1 ||
      run docker tag "${ref}:${sha}" "${ref}:${version}"
  fi
  for tag in "$sha" "$version"; do
    printf '+ docker push %q\n' "${ref}:${tag}"
    $dry_run && continue
    # Docker prints "<tag>: digest: sha256:… size: N" as its last line; the
    # progress is shown as it comes (on stderr: stdout is for the result).
    output="$(docker push "${ref}:${tag}" 2>&1 | tee_stderr)" ||
      die "docker push ${ref}:${tag} failed (logged in to ${REGISTRY}? set REGISTRY_USERNAME/REGISTRY_PASSWORD)"
    if [[ "$tag" == "$sha" ]]; then
      digest="$(grep -oE 'digest: sha256:[0-9a-f]{64}' <<<"$output" | tail -n1 | cut -d' ' -f2)"
    fi
  done
  if $dry_run; then
    info "dry run: would push ${ref}:${sha} and ${ref}:${version} (nothing was pushed; the digest is known only after a real push)"
    return 0
  fi
  [[ -n "$digest" ]] || die "pushed ${ref}:${sha} but Docker reported no digest"
  pushed_digest="$digest"
  info "pushed ${ref}:${sha} and ${ref}:${version}"
  # The one line on stdout a caller can capture.
  printf 'pushed %s@%s\n' "$ref" "$digest"
}

cmd_deploy() {
  local env="${1:-}"
  check_environment "$env"
  require_vars REGISTRY IMAGE_REPOSITORY NAMESPACE KUBECONFIG
  check_image_names
  require_clean_tree
  if ! $dry_run; then
    require_tools helm
    [[ -r "$KUBECONFIG" && -s "$KUBECONFIG" ]] || die "KUBECONFIG=${KUBECONFIG} is not a readable, non-empty file"
  fi
  local ref sha release="${HELM_RELEASE:-blog}" digest="${IMAGE_DIGEST:-$pushed_digest}"
  ref="$(image_ref)"
  sha="$(git_sha)"
  if [[ -z "$digest" ]] && command -v docker >/dev/null 2>&1; then
    digest="$(local_digest || true)"
  fi
  if [[ -n "$digest" && ! "$digest" =~ ^sha256:[0-9a-f]{64}$ ]]; then
    die "IMAGE_DIGEST must look like sha256:<64 hex digits>, got '${digest}'"
  fi

  # Helm 4 renamed --atomic to --rollback-on-failure (the old name still
  # works there, with a deprecation warning); both roll back on failure.
  local rollback_flag="--atomic" helm_version=""
  if command -v helm >/dev/null 2>&1; then
    helm_version="$(helm version --template '{{.Version}}' 2>/dev/null || true)"
  fi
  [[ "$helm_version" =~ ^v[4-9] ]] && rollback_flag="--rollback-on-failure"

  local args=(
    helm upgrade --install "$release" "$CHART"
    --namespace "$NAMESPACE"
    "$rollback_flag" --wait --timeout "${HELM_TIMEOUT:-10m}"
    -f "values/${env}.yaml"
    --set "image.repository=${ref}"
    --set "image.tag=${sha}"
  )
  # The digest pins the exact bytes that were tested; the tag stays for humans.
  [[ -n "$digest" ]] && args+=(--set "image.digest=${digest}")
  cd "$ROOT"
  local target="${ref}:${sha}${digest:+ (${digest})} to ${env} (namespace ${NAMESPACE}, release ${release})"
  if $dry_run; then
    info "dry run: would deploy ${target} with:"
  else
    info "deploying ${target}"
  fi
  if run "${args[@]}"; then
    if $dry_run; then
      info "dry run: nothing was deployed"
    else
      info "deployed ${sha} to ${env}"
    fi
    return 0
  fi
  # The migration Job is a pre-upgrade hook, so a failed migration lands here
  # too, before any pod of the new version has started.
  {
    echo "deploy.sh: deploying ${sha} to ${env} FAILED: helm upgrade of release '${release}' in namespace '${NAMESPACE}' exited non-zero; Helm's reason is above."
    echo "deploy.sh: with ${rollback_flag}, whatever the upgrade had changed is rolled back to the last successful"
    echo "deploy.sh: revision (a failed first install is uninstalled). Release history and recent events:"
    helm history "$release" --namespace "$NAMESPACE" --max 5 2>&1 || true
    if command -v kubectl >/dev/null 2>&1; then
      kubectl get events --namespace "$NAMESPACE" --sort-by=.lastTimestamp --request-timeout=10s 2>&1 | tail -n 20 || true
    fi
  } >&2
  exit 1
}

# ----------------------------------------------------------------- main ---

main() {
  local positional=() arg
  for arg in "$@"; do
    case "$arg" in
      --dry-run) dry_run=true ;;
      -h | --help | help)
        usage
        exit 0
        ;;
      -*) die "unknown option '${arg}' (see ./deploy.sh --help)" ;;
      *) positional+=("$arg") ;;
    esac
  done
  set -- "${positional[@]+"${positional[@]}"}"
  local command="${1:-}"
  $dry_run && info "dry run: printing the commands, running none that changes anything"
  case "$command" in
    build | push)
      (($# == 1)) || die "'${command}' takes no arguments"
      "cmd_${command}"
      ;;
    deploy)
      (($# <= 2)) || die "'deploy' takes one environment"
      cmd_deploy "${2:-}"
      ;;
    all)
      (($# <= 2)) || die "'all' takes one environment"
      # Check the environment and the deploy variables before a long build.
      check_environment "${2:-}"
      require_vars REGISTRY IMAGE_REPOSITORY NAMESPACE KUBECONFIG
      cmd_build
      cmd_push
      cmd_deploy "$2"
      ;;
    "")
      usage >&2
      exit 2
      ;;
    *) die "unknown command '${command}'; commands: build, push, deploy ENV, all ENV (see --help)" ;;
  esac
}

main "$@"
