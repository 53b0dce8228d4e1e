#!/usr/bin/env bash
# Tests the delivery tooling: shellcheck on every shell script, the CI files
# against their schemas (and zizmor), deploy.sh's dry run and refusals, and a
# real build -> push -> pull round trip through a local registry.
#
#   scripts/delivery-test.sh
#
# Needs Docker, git and the tools venv (scripts/install-tools.sh, sourced here
# if its tools are not on PATH yet). The registry is Debian's docker-registry
# (distribution 2.8), run from a cached copy of the package's binary on
# 127.0.0.1 with a temporary config, storage and htpasswd; it is stopped and
# everything it stored is removed at the end. Runs deploy.sh in a temporary
# clone of HEAD, so it never touches this work tree; uncommitted changes are
# therefore not tested.
#
# Prints PASS/FAIL per check and ends with "delivery: N passed, M failed".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
cd "$ROOT"
cache_dir="${BLOG_CACHE_DIR:-${HOME}/.cache/blog}"

if ! command -v check-jsonschema >/dev/null || ! command -v shellcheck >/dev/null || ! command -v zizmor >/dev/null; then
  eval "$(scripts/install-tools.sh --env)"
fi

passed=0
failed=0
pass() {
  echo "PASS $1"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL $1${2:+: $2}"
  failed=$((failed + 1))
}

# check NAME CMD…: passes when CMD exits 0; shows its output when it does not.
check() {
  local name="$1" out
  shift
  if out="$("$@" 2>&1)"; then
    pass "$name"
  else
    fail "$name" "exit $?"
    printf '%s\n' "$out" | sed 's/^/    /'
  fi
}

# Runs a command, keeping its exit code in $rc and stdout/stderr in $out/$err.
capture() {
  local o e
  o="$(mktemp)"
  e="$(mktemp)"
  rc=0
  "$@" >"$o" 2>"$e" || rc=$?
  out="$(cat "$o")"
  err="$(cat "$e")"
  rm -f "$o" "$e"
}

# expect_refusal NAME WANT_RC NEEDLE… -- CMD…: exit code and every needle in stderr.
expect_refusal() {
  local name="$1" want_rc="$2" needles=() needle missing=""
  shift 2
  while [[ "$1" != "--" ]]; do
    needles+=("$1")
    shift
  done
  shift
  capture "$@"
  for needle in "${needles[@]}"; do
    grep -qF -- "$needle" <<<"$err" || missing+=" '${needle}'"
  done
  if [[ "$rc" == "$want_rc" && -z "$missing" ]]; then
    pass "$name"
  else
    fail "$name" "exit ${rc} (want ${want_rc})${missing:+, stderr lacks${missing}}"
    printf '%s\n%s\n' "$out" "$err" | sed 's/^/    /'
  fi
}

work="$(mktemp -d)"
registry_pid=""
cleanup_refs=()
cleanup() {
  if [[ -n "$registry_pid" ]]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  if ((${#cleanup_refs[@]} > 0)); then
    docker image rm "${cleanup_refs[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# ------------------------------------------------------------ shellcheck ---

shell_scripts() {
  local f
  git ls-files -z | while IFS= read -r -d '' f; do
    [[ -f "$f" ]] || continue
    case "$f" in
      *.sh) printf '%s\n' "$f" ;;
      *) if [[ "${f##*/}" != *.* ]] && head -n1 "$f" | grep -qE '^#!.*\b(ba|da|k)?sh\b'; then printf '%s\n' "$f"; fi ;;
    esac
  done
}

echo "--- shellcheck"
mapfile -t scripts < <(shell_scripts)
for s in deploy.sh .ci/run scripts/delivery-test.sh; do
  [[ " ${scripts[*]} " == *" ${s} "* ]] || fail "${s} is tracked and found as a shell script"
done
for s in "${scripts[@]}"; do
  check "shellcheck ${s}" shellcheck --external-sources --source-path=SCRIPTDIR "$s"
done

# ------------------------------------------------------------ CI schemas ---

echo "--- CI configuration"
check "travis schema: .travis.yml" check-jsonschema --builtin-schema vendor.travis .travis.yml
for wf in .github/workflows/*.yml; do
  check "github-workflows schema: ${wf}" check-jsonschema --builtin-schema vendor.github-workflows "$wf"
done
check "zizmor (offline): .github/workflows" zizmor --offline --no-progress .github/workflows

# The validators must be able to fail: a broken copy of each file is rejected.
sed 's/^language: .*/language: no-such-language/' .travis.yml >"${work}/broken.travis.yml"
sed 's/^\(    \)runs-on:/\1runs-onn:/' .github/workflows/ci.yml >"${work}/broken-ci.yml"
if ! check-jsonschema --builtin-schema vendor.travis "${work}/broken.travis.yml" >/dev/null 2>&1 &&
  ! check-jsonschema --builtin-schema vendor.github-workflows "${work}/broken-ci.yml" >/dev/null 2>&1; then
  pass "schemas reject broken copies of both CI files"
else
  fail "schemas reject broken copies of both CI files" "a broken file validated"
fi

# What the pipelines must do, beyond being well formed (see docs/deploying.md).
ci_python="$(dirname "$(command -v check-jsonschema)")/python"
check "pipelines: test everywhere, deploy only from main, least privilege" "$ci_python" - <<'PY'
import re, sys
from ruamel.yaml import YAML  # check-jsonschema's YAML parser

def load(path):
    with open(path) as f:
        return YAML(typ="safe").load(f)

errors = []
def need(cond, what):
    if not cond:
        errors.append(what)

t = load(".travis.yml")
jobs = t["jobs"]["include"]
stages = {s["name"]: s for s in t["stages"]}
need(any(j.get("script") == "scripts/test.sh" for j in jobs if j.get("stage") == "test"), "travis: test stage runs scripts/test.sh")
need("docker" in t.get("services", []), "travis: docker service")
cond = stages.get("deploy", {}).get("if", "")
need(all(c in cond for c in ("branch = main", "type = push")), "travis: deploy stage only on pushes to main")
need(any(re.search(r"\./deploy\.sh (all|deploy) ", j.get("script", "")) for j in jobs if j.get("stage") == "deploy"), "travis: deploy stage runs deploy.sh")
need(not any(re.search(r"(PASSWORD|TOKEN|SECRET|KUBECONFIG_B64)=", e) for e in t["env"]["global"]), "travis: no secret values in env")

w = load(".github/workflows/ci.yml")
need(w["permissions"] == {"contents": "read"}, "gha: top-level permissions contents: read only")
test, deploy = w["jobs"]["test"], w["jobs"]["deploy"]
need(any(s.get("run") == "scripts/test.sh" for s in test["steps"]), "gha: test job runs scripts/test.sh")
need(deploy.get("needs") == "test", "gha: deploy needs test")
need("refs/heads/main" in deploy.get("if", ""), "gha: deploy only from main")
need(deploy.get("environment"), "gha: deploy uses an environment")
need(deploy.get("concurrency", {}).get("cancel-in-progress") is False, "gha: deploys never cancelled in progress")
need(deploy.get("permissions") == {"contents": "read", "packages": "write", "id-token": "write"}, "gha: deploy permissions")
need(any("./deploy.sh all" in s.get("run", "") for s in deploy["steps"]), "gha: deploy job runs deploy.sh")
for job in w["jobs"].values():
    for s in job["steps"]:
        if "uses" in s:
            ref = s["uses"].split("@")[1]
            need(re.fullmatch(r"[0-9a-f]{40}", ref) or s["uses"].startswith("google-github-actions/get-gke-credentials@v"), f"gha: {s['uses']} pinned by SHA")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY

# --------------------------------------------- deploy.sh: dry run, refusals ---

echo "--- deploy.sh in a clean clone of HEAD"
clone="${work}/repo"
git clone --quiet --no-hardlinks "$ROOT" "$clone"
sha="$(git -C "$clone" rev-parse HEAD)"
version="$(awk '/^\[/{s=($0=="[workspace.package]")} s&&/^version/{gsub(/^[^"]*"|".*$/,"");print;exit}' Cargo.toml)"
mapfile -t environments < <(for f in values/*.yaml; do [[ -e "$f" ]] && basename "$f" .yaml; done)
# Helm 4 spells --atomic as --rollback-on-failure (deploy.sh picks by version).
rollback_flag="--atomic"
if command -v helm >/dev/null && [[ "$(helm version --template '{{.Version}}')" =~ ^v[4-9] ]]; then
  rollback_flag="--rollback-on-failure"
fi
touch "${work}/kubeconfig"

# A registry nothing listens on: a dry run that ran anything would fail.
dry_env=(
  env -u IMAGE_DIGEST -u HELM_TIMEOUT -u HELM_RELEASE
  REGISTRY=registry.invalid:5000 IMAGE_REPOSITORY=acme/blog NAMESPACE=blog-test
  KUBECONFIG="${work}/kubeconfig" REGISTRY_USERNAME=ci REGISTRY_PASSWORD=s3cret-never-printed
)

if ((${#environments[@]} == 0)); then
  fail "values/ has environments" "no values/*.yaml"
fi
for env in "${environments[@]}"; do
  want="+ helm upgrade --install blog charts/blog --namespace blog-test ${rollback_flag} --wait --timeout 10m -f values/${env}.yaml --set image.repository=registry.invalid:5000/acme/blog --set image.tag=${sha}"
  capture "${dry_env[@]}" "${clone}/deploy.sh" deploy "$env" --dry-run
  if [[ "$rc" == 0 ]] && grep -qxF -- "$want" <<<"$out" && [[ "$(grep -c '^+ ' <<<"$out")" == 1 ]]; then
    pass "dry run deploy ${env}: prints exactly the helm command with the SHA tag and values/${env}.yaml"
  else
    fail "dry run deploy ${env}" "exit ${rc}; want line: ${want}"
    printf '%s\n%s\n' "$out" "$err" | sed 's/^/    /'
  fi
done

capture "${dry_env[@]}" "${clone}/deploy.sh" --dry-run all "${environments[0]:-production}"
order="$(grep -oE '^\+ (scripts/build-image.sh|docker login|docker push|helm upgrade)' <<<"$out" | cut -c3- | paste -sd, -)"
if [[ "$rc" == 0 && "$order" == "scripts/build-image.sh,docker login,docker push,docker push,helm upgrade" ]] &&
  grep -qxF "+ scripts/build-image.sh --tag registry.invalid:5000/acme/blog:${sha} --tag registry.invalid:5000/acme/blog:${version}" <<<"$out" &&
  ! grep -q 's3cret-never-printed' <<<"${out}${err}" && ! grep -q ':latest' <<<"$out"; then
  pass "dry run all: build (SHA + version tags, no latest), login, push both, helm, in order; password never printed"
else
  fail "dry run all" "exit ${rc}; commands: ${order}"
  printf '%s\n%s\n' "$out" "$err" | sed 's/^/    /'
fi
# Issue 13, item 16: a dry run says what would happen, never that it happened.
if grep -q "would build registry.invalid:5000/acme/blog:${sha}" <<<"$err" &&
  grep -q "would push registry.invalid:5000/acme/blog:${sha}" <<<"$err" &&
  grep -q "would deploy registry.invalid:5000/acme/blog:${sha}" <<<"$err" &&
  ! grep -qE '(^|: )(built|pushed|deployed|deploying) ' <<<"$err"; then
  pass "dry run all: says what would be built, pushed and deployed, and that nothing was"
else
  fail "dry run all wording" "stderr claims work it did not do, or misses a 'would …' line"
  printf '%s\n' "$err" | sed 's/^/    /'
fi
if ! docker image inspect "registry.invalid:5000/acme/blog:${sha}" >/dev/null 2>&1; then
  pass "dry run built no image"
else
  fail "dry run built no image" "registry.invalid:5000/acme/blog:${sha} exists"
fi

expect_refusal "refuses an unknown environment, listing the known ones" 1 \
  "unknown environment 'qa'" "${environments[@]}" -- "${dry_env[@]}" "${clone}/deploy.sh" --dry-run deploy qa
expect_refusal "refuses a path as environment" 1 \
  "unknown environment '../values/production'" -- "${dry_env[@]}" "${clone}/deploy.sh" --dry-run deploy ../values/production
expect_refusal "refuses missing variables, naming each" 1 \
  "missing required environment variable(s): REGISTRY NAMESPACE KUBECONFIG" -- \
  env -u REGISTRY -u NAMESPACE -u KUBECONFIG IMAGE_REPOSITORY=acme/blog "${clone}/deploy.sh" --dry-run deploy "${environments[0]:-production}"
expect_refusal "build refuses missing registry variables" 1 \
  "missing required environment variable(s): REGISTRY IMAGE_REPOSITORY" -- \
  env -u REGISTRY -u IMAGE_REPOSITORY "${clone}/deploy.sh" --dry-run build
expect_refusal "push refuses a username without a password" 1 \
  "REGISTRY_PASSWORD" -- "${dry_env[@]}" env -u REGISTRY_PASSWORD "${clone}/deploy.sh" --dry-run push
expect_refusal "refuses an uppercase image repository" 1 \
  "IMAGE_REPOSITORY must be a lowercase" -- "${dry_env[@]}" IMAGE_REPOSITORY=Acme/Blog "${clone}/deploy.sh" --dry-run build
expect_refusal "refuses an unknown command" 1 \
  "unknown command 'ship'" -- "${dry_env[@]}" "${clone}/deploy.sh" ship

echo "# local change" >>"${clone}/Cargo.toml"
expect_refusal "refuses a dirty work tree (dry run deploy)" 1 \
  "uncommitted changes" "Cargo.toml" -- "${dry_env[@]}" "${clone}/deploy.sh" --dry-run deploy "${environments[0]:-production}"
expect_refusal "refuses a dirty work tree (build)" 1 \
  "uncommitted changes" -- "${dry_env[@]}" "${clone}/deploy.sh" build
git -C "$clone" checkout --quiet -- Cargo.toml

# ------------------------------------------- build -> push -> pull for real ---

echo "--- deploy.sh build and push against a local registry"

# Debian's docker-registry package, unpacked into the cache rather than
# installed: installing it would also register (and, outside containers,
# start) a system service on port 5000. The cached copy is used even where the
# package is installed, so every machine runs the same path.
registry_binary() {
  local dir="${cache_dir}/docker-registry"
  if [[ ! -x "${dir}/usr/bin/docker-registry" ]]; then
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo -n"
    if ! apt-cache show docker-registry >/dev/null 2>&1; then
      $sudo apt-get update -qq >&2
    fi
    mkdir -p "${work}/deb" "$dir"
    (cd "${work}/deb" && apt-get download docker-registry >&2)
    dpkg-deb -x "${work}"/deb/docker-registry_*.deb "$dir"
  fi
  echo "${dir}/usr/bin/docker-registry"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

registry_user="delivery"
registry_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
mkdir -p "${work}/registry/data" "${work}/docker-config"
# Registry 2.8 only accepts bcrypt in htpasswd files.
python3 -W ignore -c 'import crypt, sys; print(sys.argv[1] + ":" + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
  "$registry_user" "$registry_password" >"${work}/registry/htpasswd"
port="$(free_port)"
cat >"${work}/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${work}/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  secret: $(head -c 18 /dev/urandom | base64)
auth:
  htpasswd:
    realm: delivery-test
    path: ${work}/registry/htpasswd
EOF
registry_bin="$(registry_binary)"
"$registry_bin" serve "${work}/registry/config.yml" >"${work}/registry/log" 2>&1 &
registry_pid=$!
registry="127.0.0.1:${port}"

# GET/HEAD against the registry API with the test credentials.
registry_api() {
  python3 - "$@" <<'PY'
import base64, sys, urllib.request
method, url, user, password = sys.argv[1:5]
req = urllib.request.Request(url, method=method, headers={
    "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
    "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, "
              "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json",
})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status)
        print(r.headers.get("Docker-Content-Digest", ""))
        print(r.read().decode() if method == "GET" else "")
except urllib.error.HTTPError as e:
    print(e.code)
PY
}

ready=false
for _ in $(seq 50); do
  if [[ "$(registry_api GET "http://${registry}/v2/" x x 2>/dev/null | head -n1)" == 401 ]]; then
    ready=true
    break
  fi
  kill -0 "$registry_pid" 2>/dev/null || break
  sleep 0.2
done
if $ready; then
  pass "local registry (${registry_bin##*/}) up on ${registry}, with authentication"
else
  fail "local registry up on ${registry}"
  sed 's/^/    /' "${work}/registry/log"
fi

repo_path="delivery-test/blog"
ref="${registry}/${repo_path}"
cleanup_refs=("${ref}:${sha}" "${ref}:${version}")
# Own Docker client config: the login below must not touch the user's.
real_env=(
  env -u REGISTRY_USERNAME -u REGISTRY_PASSWORD -u IMAGE_DIGEST
  DOCKER_CONFIG="${work}/docker-config" REGISTRY="$registry" IMAGE_REPOSITORY="$repo_path"
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
)

# Where the tracked files of this work tree are clean (CI's fresh clone), the
# real build runs here, where cargo's release build of the test stage is
# reused; elsewhere (a developer's tree with changes) in the clean clone,
# which recompiles the blog crate once (cargo fingerprints are per path).
if [[ -z "$(git status --porcelain --untracked-files=no)" ]]; then
  build_repo="$ROOT"
else
  build_repo="$clone"
fi
# scripts/build-image.sh also tags blog:<short sha>; keep it only if it was
# there before (the test stage's image).
if ! docker image inspect "blog:${sha:0:12}" >/dev/null 2>&1; then
  cleanup_refs+=("blog:${sha:0:12}")
fi
started=$SECONDS
capture "${real_env[@]}" "${build_repo}/deploy.sh" build
build_seconds=$((SECONDS - started))
sha_id="$(docker image inspect --format '{{.Id}}' "${ref}:${sha}" 2>/dev/null || true)"
version_id="$(docker image inspect --format '{{.Id}}' "${ref}:${version}" 2>/dev/null || true)"
if [[ "$rc" == 0 && -n "$sha_id" && "$sha_id" == "$version_id" ]]; then
  pass "deploy.sh build (in ${build_repo}): ${ref}:${sha} and :${version} are one image (${build_seconds}s)"
else
  fail "deploy.sh build" "exit ${rc}; sha image '${sha_id}', version image '${version_id}'"
  printf '%s\n%s\n' "$out" "$err" | tail -n 40 | sed 's/^/    /'
fi

# ------------------------------------------------------------------ SBOMs ---

echo "--- SBOMs of the built image"
sbom_dir="${CARGO_TARGET_DIR:-${ROOT}/target}/sbom"
check "sbom.sh check ${ref}:${sha}: labels match the files, every crate and Debian package listed" \
  env BLOG_SBOM_DIR="$sbom_dir" "${build_repo}/scripts/sbom.sh" check "${ref}:${sha}"

# The check must read the files, not only compare digests: a copy of the image
# whose label vouches for an SBOM with one component removed is refused, and
# so is a doctored file under the original labels.
# Args: rust|os component-name needle
doctored_sbom_refused() {
  local kind="$1" drop="$2" needle="$3" dir="${work}/sbom-$1" label entry file cid bad_ref
  label="com.example.blog.sbom.${kind}"
  mkdir -p "$dir"
  for entry in rust os; do
    file="$(docker image inspect -f "{{index .Config.Labels \"com.example.blog.sbom.${entry}\"}}" "${ref}:${sha}" | sed 's/^[0-9a-f]*  //')"
    cp "${sbom_dir}/${file}" "${dir}/${file}"
    [[ "$entry" == "$kind" ]] || continue
    python3 - "${dir}/${file}" "$drop" <<'PY'
import json, sys
path, drop = sys.argv[1:3]
with open(path) as f:
    bom = json.load(f)
bom["components"] = [c for c in bom["components"] if c.get("name") != drop]
with open(path, "w") as f:
    json.dump(bom, f)
PY
  done
  file="$(docker image inspect -f "{{index .Config.Labels \"${label}\"}}" "${ref}:${sha}" | sed 's/^[0-9a-f]*  //')"
  expect_refusal "sbom.sh check refuses an SBOM without ${drop} under the image's labels" 1 \
    "do not match the labels" -- env BLOG_SBOM_DIR="$dir" "${build_repo}/scripts/sbom.sh" check "${ref}:${sha}"
  bad_ref="delivery-test/sbom-without-${drop}:${sha:0:12}"
  cid="$(docker create "${ref}:${sha}")"
  docker commit --change "LABEL ${label}=\"$(cd "$dir" && sha256sum "$file")\"" "$cid" "$bad_ref" >/dev/null
  docker rm "$cid" >/dev/null
  cleanup_refs+=("$bad_ref")
  expect_refusal "sbom.sh check refuses an image whose label vouches for an SBOM without ${drop}" 1 \
    "$needle" -- env BLOG_SBOM_DIR="$dir" "${build_repo}/scripts/sbom.sh" check "$bad_ref"
  # Now: a child image would keep the real one's layers through the pull test.
  docker image rm "$bad_ref" >/dev/null
}
doctored_sbom_refused rust poem "Rust SBOM lacks crates the binary is built from: poem "
doctored_sbom_refused rust tokio-postgres "Rust SBOM lacks tokio-postgres"
doctored_sbom_refused os ca-certificates "installed but not in the OS SBOM: ca-certificates"

expect_refusal "deploy.sh push without credentials is refused by the registry" 1 \
  "docker push ${ref}:${sha} failed" -- "${real_env[@]}" "${build_repo}/deploy.sh" push

started=$SECONDS
capture "${real_env[@]}" REGISTRY_USERNAME="$registry_user" REGISTRY_PASSWORD="$registry_password" "${build_repo}/deploy.sh" push
push_seconds=$((SECONDS - started))
digest="$(sed -n "s|^pushed ${ref}@\(sha256:[0-9a-f]\{64\}\)$|\1|p" <<<"$out")"
if [[ "$rc" == 0 && -n "$digest" ]] && ! grep -qF "$registry_password" <<<"${out}${err}"; then
  pass "deploy.sh push: logged in, pushed, printed ${digest} (${push_seconds}s)"
else
  fail "deploy.sh push" "exit ${rc}"
  printf '%s\n%s\n' "$out" "$err" | tail -n 40 | sed 's/^/    /'
fi

# The registry itself, not Docker's view of it, holds both tags at that digest.
tags="$(registry_api GET "http://${registry}/v2/${repo_path}/tags/list" "$registry_user" "$registry_password" | sed -n 3p || true)"
head_sha="$(registry_api HEAD "http://${registry}/v2/${repo_path}/manifests/${sha}" "$registry_user" "$registry_password" | sed -n 2p || true)"
head_version="$(registry_api HEAD "http://${registry}/v2/${repo_path}/manifests/${version}" "$registry_user" "$registry_password" | sed -n 2p || true)"
if [[ -n "$digest" && "$tags" == *"\"${sha}\""* && "$tags" == *"\"${version}\""* && "$head_sha" == "$digest" && "$head_version" == "$digest" ]]; then
  pass "registry API: tags ${sha:0:12}… and ${version} both resolve to the pushed digest"
else
  fail "registry API holds both tags at the pushed digest" "tags ${tags}; sha -> '${head_sha}', version -> '${head_version}', pushed '${digest}'"
fi

# Docker recorded the digest on push: deploy pins it as well as the tag.
capture "${real_env[@]}" NAMESPACE=blog-test KUBECONFIG="${work}/kubeconfig" \
  "${clone}/deploy.sh" --dry-run deploy "${environments[0]:-production}"
if [[ "$rc" == 0 && -n "$digest" ]] && grep -qE -- "--set image.tag=${sha} --set image.digest=${digest}\$" <<<"$out"; then
  pass "dry run deploy after push: pins image.digest=${digest:0:19}…"
else
  fail "dry run deploy after push pins the digest" "exit ${rc}"
  printf '%s\n%s\n' "$out" "$err" | sed 's/^/    /'
fi

# Forget the image locally, then get it back by its SHA tag.
docker image rm "${ref}:${sha}" "${ref}:${version}" >/dev/null 2>&1 || true
if docker image inspect "${ref}:${sha}" >/dev/null 2>&1; then
  fail "local SHA tag removed before pulling"
fi
capture env DOCKER_CONFIG="${work}/docker-config" docker pull "${ref}:${sha}"
pulled_digest="$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "${ref}:${sha}" 2>/dev/null | sed -n "s|^${ref}@||p" | head -n1 || true)"
pulled_id="$(docker image inspect --format '{{.Id}}' "${ref}:${sha}" 2>/dev/null || true)"
if [[ "$rc" == 0 && -n "$digest" && "$pulled_digest" == "$digest" && "$pulled_id" == "$sha_id" ]]; then
  pass "pulled back by SHA tag: digest ${digest:0:19}… and image ID are the ones built and pushed"
else
  fail "pull back by SHA tag" "exit ${rc}; pulled digest '${pulled_digest}' vs pushed '${digest}'; id '${pulled_id}' vs built '${sha_id}'"
  printf '%s\n' "$err" | sed 's/^/    /'
fi


# A real helm run against a cluster that is not there (a closed port on
# 127.0.0.1): deploy.sh must fail with exit 1 and say why, not hang or pass.
closed_port="$(free_port)"
(
  export KUBECONFIG="${work}/unreachable.kubeconfig"
  kubectl config set-cluster nowhere --server="https://127.0.0.1:${closed_port}" --insecure-skip-tls-verify=true
  kubectl config set-credentials nobody --token=not-a-real-token
  kubectl config set-context nowhere --cluster=nowhere --user=nobody --namespace=blog-test
  kubectl config use-context nowhere
) >/dev/null
started=$SECONDS
expect_refusal "deploy against an unreachable cluster fails with exit 1 and the reason" 1 \
  "FAILED" "127.0.0.1:${closed_port}" -- \
  "${real_env[@]}" NAMESPACE=blog-test KUBECONFIG="${work}/unreachable.kubeconfig" HELM_TIMEOUT=30s \
  "${build_repo}/deploy.sh" deploy "${environments[0]:-production}"
echo "    (helm gave up after $((SECONDS - started))s)"

echo "delivery: ${passed} passed, ${failed} failed"
((failed == 0))
