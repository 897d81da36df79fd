#!/usr/bin/env bash
# The main job on the embedded default: a local SR in a directory. Prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
swift build -c release --product sm-cli
.build/release/sm-cli demo "$@"
