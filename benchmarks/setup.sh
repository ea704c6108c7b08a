#!/usr/bin/env bash
# Creates benchmarks/.venv with the pinned Keras/TensorFlow (CPU) of requirements.txt.
# Usage: bash benchmarks/setup.sh [python-executable]   (default: python3)
# Not run by CI: the benchmark is run by hand (see benchmarks/README.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${1:-python3}"
venv="$here/.venv"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install -r "$here/requirements.txt"
# Fails here, not in the middle of a benchmark, if the install is unusable.
"$venv/bin/python" - <<'PY'
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
import keras
print(f"benchmarks/.venv ready: tensorflow {tf.__version__}, keras {keras.__version__}, backend {keras.backend.backend()}")
PY
