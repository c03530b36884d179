#!/usr/bin/env bash
# Test data of TorchvisionTests: torchvision's models exported to ONNX with ONNX Runtime's outputs,
# in .build/torchvision-onnx (scripts/export-torchvision.py). Installs the Python packages it needs
# from PyPI first: CPU torch, ONNX, ONNX Runtime, and torchvision's model definitions (its compiled
# extension need not load with this torch, so its dependencies are not installed).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import importlib.util, torch, onnx, onnxruntime; assert importlib.util.find_spec('torchvision')" >/dev/null 2>&1; then
  # The CPU build where pip finds it (it is much smaller); PyPI's default build otherwise.
  python3 -m pip install --quiet 'torch==2.13.0+cpu' || python3 -m pip install --quiet 'torch==2.13.0'
  python3 -m pip install --quiet 'onnx==1.23.2' 'onnxruntime==1.32.0' pillow
  python3 -m pip install --quiet --no-deps 'torchvision==0.28.0'
fi
python3 scripts/export-torchvision.py .build/torchvision-onnx
