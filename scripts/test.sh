#!/usr/bin/env bash
# Runs every test of baton on a fresh machine: installs what the tests need
# (Debian's Chromium for the report's browser test, Python for the exec
# workers, tmux for the tests that type Ctrl-C into a terminal), then runs
# the workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
if ((${#need_apt[@]})); then
  echo "installing ${need_apt[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The `arrow` protocol's exec tests run a worker with pyarrow.
python3 -c "import pyarrow" 2>/dev/null || python3 -m pip install -q pyarrow

# Every crate runs, so one failure does not hide another.
cargo test --workspace --no-fail-fast "$@"
