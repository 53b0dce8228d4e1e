#!/usr/bin/env bash
# Software bills of materials (CycloneDX 1.5 JSON) for the app image, and
# their check. scripts/build-image.sh calls the first two; scripts/test.sh's
# image stage (so CI) calls `check`.
#
#   scripts/sbom.sh rust OUT          the crates of the blog binary (cargo-cyclonedx)
#   scripts/sbom.sh os IMAGE OUT [VERSION]  the Debian packages of IMAGE (syft)
#   scripts/sbom.sh check IMAGE       the image's SBOM labels, files and contents
#
# Both files are made reproducible: the timestamp is the commit's
# (SOURCE_DATE_EPOCH), the serial number is derived from the content, and the
# workspace's absolute path is not recorded, so rebuilding a commit anywhere
# gives the same files and the same image labels.
#
# `check` reads the labels com.example.blog.sbom.rust / .os ("<sha256>  <file>")
# and finds the files in $BLOG_SBOM_DIR (default: $CARGO_TARGET_DIR/sbom, where
# build-image.sh writes them); it fails unless each file matches its digest, is
# CycloneDX, the Rust one lists every crate `cargo tree -p blog` compiles into
# the binary (poem, poem-openapi, tokio-postgres… by name and version) and the
# OS one lists exactly the packages recorded inside the image (one dpkg record
# per package in /var/lib/dpkg/status.d: the image has no dpkg to ask).
set -euo pipefail
shopt -s inherit_errexit

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target=x86_64-unknown-linux-gnu
rust_label=com.example.blog.sbom.rust
os_label=com.example.blog.sbom.os

log() { echo "sbom: $*" >&2; }
die() {
  log "$*"
  exit 1
}

need_tools() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      eval "$("${repo}/scripts/install-tools.sh" --env --cargo)"
      return
    fi
  done
}

source_date_epoch() {
  echo "${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}"
}

# Rewrites a CycloneDX JSON file in place: no workspace path, the timestamp of
# SOURCE_DATE_EPOCH, a serial number that is a function of the content.
# Args: file epoch
normalize() {
  python3 - "$1" "$2" "$repo" <<'PY'
import datetime, hashlib, json, sys, uuid

path, epoch, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def scrub(v):
    if isinstance(v, dict):
        return {k: scrub(x) for k, x in v.items()}
    if isinstance(v, list):
        return [scrub(x) for x in v]
    if isinstance(v, str):
        # cargo's package ids of workspace members carry the checkout's path
        return v.replace("file://" + repo, "file://.")
    return v

with open(path) as f:
    bom = scrub(json.load(f))
bom.pop("serialNumber", None)
bom.setdefault("metadata", {})["timestamp"] = (
    datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
)
digest = hashlib.sha256(json.dumps(bom, sort_keys=True).encode()).hexdigest()
bom = {"bomFormat": bom.pop("bomFormat"), "specVersion": bom.pop("specVersion"),
       "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'sha256:' + digest)}", **bom}
with open(path, "w") as f:
    json.dump(bom, f, indent=2)
    f.write("\n")
PY
}

# cargo-cyclonedx writes one file per workspace member, next to its manifest;
# only the service's is kept. cargo metadata resolves features for the whole
# workspace, which is also how the CI build that feeds the image compiles the
# binary (`cargo build --workspace`), so the list matches that binary; one
# built alone with -p blog may have fewer crates, never more.
rust_sbom() {
  local out="$1" name="blog-sbom-$$" member status=0
  need_tools cargo-cyclonedx
  mkdir -p "$(dirname "$out")"
  rm -f "$out"
  SOURCE_DATE_EPOCH="$(source_date_epoch)" cargo cyclonedx --quiet \
    --manifest-path "${repo}/Cargo.toml" --format json --spec-version 1.5 --all \
    --no-build-deps --target "$target" --override-filename "$name" >&2 || status=$?
  if ((status == 0)); then
    mv "${repo}/app/${name}.json" "$out" || status=$?
  fi
  for member in app integration-tests charts/tests; do rm -f "${repo}/${member}/${name}.json"; done
  ((status == 0)) || die "cargo cyclonedx failed (exit ${status})"
  normalize "$out" "$(source_date_epoch)"
}

os_sbom() {
  local image="$1" out="$2" version="${3:-}"
  need_tools syft
  mkdir -p "$(dirname "$out")"
  # Only the OS package catalogers: the binary's crates are the Rust SBOM's
  # business, and syft finds nothing in a binary without cargo-auditable data.
  SYFT_CHECK_FOR_APP_UPDATE=false syft scan --quiet "docker:${image}" \
    --override-default-catalogers os --source-name blog ${version:+--source-version "$version"} \
    --output "cyclonedx-json@1.5=${out}" >&2
  normalize "$out" "$(source_date_epoch)"
}

label() {
  docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1"
}

check() {
  local image="$1" dir rust_ref os_ref
  dir="${BLOG_SBOM_DIR:-${CARGO_TARGET_DIR:-${repo}/target}/sbom}"
  docker image inspect "$image" >/dev/null || die "no image ${image}"
  rust_ref="$(label "$image" "$rust_label")"
  os_ref="$(label "$image" "$os_label")"
  [[ "$rust_ref" =~ ^[0-9a-f]{64}\ \ [^/]+$ ]] || die "${image}: label ${rust_label} is '${rust_ref}', not '<sha256>  <file>'"
  [[ "$os_ref" =~ ^[0-9a-f]{64}\ \ [^/]+$ ]] || die "${image}: label ${os_label} is '${os_ref}', not '<sha256>  <file>'"
  (cd "$dir" && printf '%s\n%s\n' "$rust_ref" "$os_ref" | sha256sum --check --quiet --strict) ||
    die "the SBOMs in ${dir} do not match the labels of ${image}"

  local crates packages container
  crates="$(mktemp)"
  packages="$(mktemp)"
  # The image has no dpkg (nor shell): its package records are one file per
  # package in /var/lib/dpkg/status.d, read from a created, never started,
  # container.
  # shellcheck disable=SC2064 # expand now
  trap "rm -f '$crates' '$packages' '$packages.tar'" RETURN
  (cd "$repo" && cargo tree --locked -p blog -e normal --target "$target" --prefix none -f '{p}') |
    awk '{print $1, substr($2, 2)}' | sort -u >"$crates"
  # Removed before anything can fail: a failed check exits the script, and a
  # container left behind would pin the image (delivery-test removes it).
  container="$(docker create --entrypoint /none "$image")"
  docker cp "${container}:/var/lib/dpkg/status.d" - >"${packages}.tar" || true
  docker rm -f "$container" >/dev/null
  [[ -s "${packages}.tar" ]] || die "${image}: no /var/lib/dpkg/status.d (package records)"
  python3 -c '
import sys, tarfile
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
    for member in tar:
        if not member.isfile():
            continue
        fields = dict(line.split(": ", 1) for line in tar.extractfile(member).read().decode().splitlines() if ": " in line and not line.startswith(" "))
        print(fields["Package"], fields["Version"])
' <"${packages}.tar" | sort -u >"$packages"
  rm -f "${packages}.tar"
  python3 - "${dir}/${rust_ref#*  }" "${dir}/${os_ref#*  }" "$crates" "$packages" <<'PY'
import json, sys

rust_path, os_path, crates_path, packages_path = sys.argv[1:5]
errors = []

def components(bom):
    out, todo = [], list(bom.get("components", []))
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.get("components", []))
    return out

def load(path, what):
    with open(path) as f:
        bom = json.load(f)
    if bom.get("bomFormat") != "CycloneDX" or not str(bom.get("specVersion", "")).startswith("1."):
        errors.append(f"{what}: not a CycloneDX document")
    if not bom.get("serialNumber", "").startswith("urn:uuid:"):
        errors.append(f"{what}: no serial number")
    return bom

rust = load(rust_path, "Rust SBOM")
root = rust.get("metadata", {}).get("component", {})
if root.get("name") != "blog":
    errors.append(f"Rust SBOM describes {root.get('name')!r}, not blog")
listed = {(c.get("name"), c.get("version")) for c in components(rust)}
with open(crates_path) as f:
    wanted = {tuple(line.split()) for line in f if line.strip()}
wanted.discard(("blog", root.get("version")))
if len(wanted) < 100:
    errors.append(f"cargo tree listed only {len(wanted)} crates")
missing = sorted(wanted - listed)
if missing:
    errors.append("Rust SBOM lacks crates the binary is built from: " + ", ".join(f"{n} {v}" for n, v in missing))
for name in ("poem", "poem-openapi", "tokio-postgres", "tokio", "rustls", "ring"):
    if not any(n == name for n, _ in listed):
        errors.append(f"Rust SBOM lacks {name}")
without_purl = [c.get("name") for c in components(rust) if not c.get("purl", "").startswith("pkg:cargo/")]
if without_purl:
    errors.append(f"Rust SBOM components without a cargo purl: {without_purl[:5]}")

osbom = load(os_path, "OS SBOM")
debs = {(c.get("name"), c.get("version")) for c in components(osbom) if c.get("purl", "").startswith("pkg:deb/")}
with open(packages_path) as f:
    installed = {tuple(line.split(maxsplit=1)) for line in f if line.strip()}
installed = {(n, v.strip()) for n, v in installed}
if not any(n == "ca-certificates" for n, _ in installed):
    errors.append("the image records no ca-certificates package: not the app image?")
for what, diff in (("installed but not in the OS SBOM", installed - debs), ("in the OS SBOM but not installed", debs - installed)):
    if diff:
        errors.append(f"Debian packages {what}: " + ", ".join(f"{n} {v}" for n, v in sorted(diff)))

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"Rust SBOM: {len(listed)} components, all {len(wanted)} crates of the binary; "
      f"OS SBOM: all {len(installed)} Debian packages of the image")
PY
  log "${image}: SBOMs in ${dir} match its labels and contents"
}

case "${1:-}" in
  rust)
    (($# == 2)) || die "usage: $0 rust OUT"
    rust_sbom "$2"
    ;;
  os)
    (($# == 3 || $# == 4)) || die "usage: $0 os IMAGE OUT [VERSION]"
    os_sbom "$2" "$3" "${4:-}"
    ;;
  check)
    (($# == 2)) || die "usage: $0 check IMAGE"
    check "$2"
    ;;
  -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "usage: $0 rust OUT | os IMAGE OUT | check IMAGE (see --help)" ;;
esac
