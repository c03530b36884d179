#!/usr/bin/env bash
# The ONNX backend node tests (onnx/backend/test/data/node: model.onnx + test_data_set_*/*.pb per
# test), unpacked from the onnx wheel on PyPI into .build/onnx-node-tests. They are test data, not
# a dependency of Kiln. Pinned to onnx 1.17.0: later wheels ship without the node data.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.build/onnx-node-tests
[ -d "$target/node" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 --dest "$work" 'onnx==1.17.0'
mkdir -p "$work/unpacked"
python3 - "$work" <<'PY'
import glob, sys, zipfile
work = sys.argv[1]
wheel = glob.glob(f"{work}/onnx-1.17.0-*.whl")[0]  # any platform: only the data is used
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith("onnx/backend/test/data/node/")]
    z.extractall(f"{work}/unpacked", names)
PY
mkdir -p "$target"
mv "$work/unpacked/onnx/backend/test/data/node" "$target/node.partial"
mv "$target/node.partial" "$target/node"
echo "ONNX node tests: $(ls "$target/node" | wc -l) in $target/node"
