#!/usr/bin/env bash
# The test command of the README (`make test` runs it): set up if needed, then the whole suite.
#   scripts/test.sh                 every test, the slow ones included
#   scripts/test.sh -m "not slow"   the fast ones; any other pytest arguments work too
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
cd "$ROOT"
# Fails loudly when ROS or the built interfaces are missing, instead of letting ROS tests skip.
vla-ros doctor --require-ros
exec python -m pytest "$@"
