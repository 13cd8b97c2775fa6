#!/usr/bin/env bash
# Run a command in the project's environment, setting it up first when needed:
#   scripts/run.sh vla-ros demo
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
cd "$ROOT"
exec "$@"
