# shellcheck shell=bash
# Helpers shared by the image scripts (sourced, not run).

# Prints the docker client to build with BuildKit. Docker CLI 23+ delegates
# `DOCKER_BUILDKIT=1 docker build` to the buildx plugin and fails without it;
# clients before 23 carry BuildKit support themselves. So: the first `docker` on
# PATH if buildx is installed, otherwise any pre-23 client on PATH (this
# machine has Debian's 20.10 client in /usr/bin next to a newer one).
buildkit_docker() {
  if docker buildx version >/dev/null 2>&1; then
    echo docker
    return
  fi
  local candidate version
  while read -r candidate; do
    version="$("$candidate" version --format '{{.Client.Version}}' 2>/dev/null || true)"
    if [[ "${version%%.*}" =~ ^[0-9]+$ ]] && ((${version%%.*} < 23)); then
      echo "$candidate"
      return
    fi
  done < <(type -ap docker)
  echo "no docker client can build with BuildKit: install the buildx plugin" >&2
  return 1
}
