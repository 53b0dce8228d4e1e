#!/usr/bin/env bash
# The restore drill (what CI runs as `scripts/test.sh drill`): a stack with
# users, avatars, sessions and --posts posts is backed up by the chart's
# backup CronJob pod and restored by its restore Job pod into a fresh
# Postgres, both run exactly as `helm template` renders them
# (scripts/restore-drill/pods.py); the database's tables and the API's
# answers must be the same, log-ins must work, and a corrupted dump must be
# refused. The database is the chart's own Postgres pod, with its rendered TLS
# Secret and pg_hba.conf, under its Service's DNS names: verified connections
# work, plain text and another CA are refused. Prints the backup and restore
# times.
#
#   scripts/restore-drill.sh                      100 000 posts (the default)
#   scripts/restore-drill.sh --posts 2000 --keep  smaller, containers left running
#   scripts/restore-drill.sh --figures out.json   the times as JSON too
#
# Images: $BLOG_TEST_APP_IMAGE (built by scripts/build-image.sh when unset),
# and Postgres, Redis and S3 from dockerfiles/build-offline-images.sh (the
# public ones when Docker has them, else local builds). Needs helm and a
# Python with PyYAML: both come from scripts/install-tools.sh.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v helm >/dev/null || [[ -z "${BLOG_TOOLS_BIN:-}" ]]; then
  eval "$(scripts/install-tools.sh --env)"
fi
# The image list (dockerfiles/images.env): the public images or their local
# stand-ins; values already in the environment are kept.
eval "$(dockerfiles/build-offline-images.sh --env)"
if [[ -z "${BLOG_TEST_APP_IMAGE:-}" ]]; then
  BLOG_TEST_APP_IMAGE="$(scripts/build-image.sh --print-ref)"
  export BLOG_TEST_APP_IMAGE
fi

# The tools' Python has PyYAML (the validators depend on it).
exec "${BLOG_TOOLS_BIN}/python3" scripts/restore-drill/drill.py "$@"
