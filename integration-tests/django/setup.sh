#!/usr/bin/env bash
# Prints the python of a virtualenv with the Django original's stack
# (requirements.txt), made once under $BLOG_CACHE_DIR and reused while
# requirements.txt is unchanged. Used by the import tests
# (integration-tests/tests/api/django_import.rs); PyPI must be reachable the
# first time (pip honours PIP_CERT / REQUESTS_CA_BUNDLE for a proxy's CA).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${BLOG_CACHE_DIR:-$HOME/.cache/blog}"
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "django fixture: $python not found; install Python 3 with venv and pip (Debian: apt-get install python3 python3-venv)" >&2
  exit 3
fi
sum="$(sha256sum "$here/requirements.txt" | cut -c1-12)"
venv="$cache/django-venv-$sum"
if [ ! -x "$venv/bin/python" ] || [ ! -e "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  if ! "$python" -m venv "$venv" >&2; then
    echo "django fixture: '$python -m venv' failed; install the venv module (Debian: apt-get install python3-venv)" >&2
    exit 3
  fi
  if [ -z "${PIP_CERT:-}" ] && [ -z "${REQUESTS_CA_BUNDLE:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
  fi
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2; then
    rm -rf "$venv"
    echo "django fixture: pip could not install $here/requirements.txt from PyPI" >&2
    exit 3
  fi
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
