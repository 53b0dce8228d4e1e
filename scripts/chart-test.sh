#!/usr/bin/env bash
# Runs the Helm chart tests (charts/tests) with the pinned tools:
# helm lint/template, kubernetes-validate 1.35–1.37, check-jsonschema, checkov.
#   scripts/chart-test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=/dev/null
source <(scripts/install-tools.sh --env)
exec cargo test -p chart-tests "$@"
