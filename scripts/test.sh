#!/usr/bin/env bash
# The test command of the README (`make test` runs it): set up if needed, then the whole suite.
#   scripts/test.sh                 every test, the slow ones included
#   scripts/test.sh -m "not slow"   the fast ones; any other pytest arguments work too
# `vla-ros doctor --require-ros` first fails loudly when ROS or the built interfaces are missing,
# instead of letting the ROS tests skip.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exec bash "$ROOT/scripts/run.sh" bash -c 'vla-ros doctor --require-ros && exec python -m pytest "$@"' pytest "$@"
