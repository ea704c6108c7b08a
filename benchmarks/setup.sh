#!/usr/bin/env bash
# Creates benchmarks/.venv with the pinned Keras/TensorFlow (CPU) of requirements.txt,
# and with --torch also the pinned PyTorch of requirements-torch.txt.
# Usage: bash benchmarks/setup.sh [--torch] [python-executable]   (default: python3)
# Not run by CI: the benchmark is run by hand (see benchmarks/README.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
torch=0
if [ "${1:-}" = "--torch" ]; then
    torch=1
    shift
fi
python="${1:-python3}"
venv="$here/.venv"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install -r "$here/requirements.txt"
if [ "$torch" = 1 ]; then
    "$venv/bin/python" -m pip install -r "$here/requirements-torch.txt"
fi
# Fails here, not in the middle of a benchmark, if the install is unusable.
"$venv/bin/python" - "$torch" <<'PY'
import os
import sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
import keras
print(f"benchmarks/.venv ready: tensorflow {tf.__version__}, keras {keras.__version__}, backend {keras.backend.backend()}")
if sys.argv[1] == "1":
    import torch
    print(f"benchmarks/.venv ready: torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
PY
