#!/usr/bin/env bash
# The main job: set up, build the digits case study (train with a fixed seed, quantize
# to an exact integer model, print float and integer accuracy), then simulate one test
# sample with the exact integer simulator through the command line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"

out=artifacts/digits
.venv/bin/python case_studies/digits/build.py --out "$out"

# The model the build wrote (named in its summary), and one test sample as its own [T, n] raster.
read -r model label < <(.venv/bin/python - "$out" <<'PY'
import json
import sys
from pathlib import Path

import numpy as np

out = Path(sys.argv[1])
model = json.loads((out / "summary.json").read_text())["quantization"]["model"]
inputs = np.load(out / "test_inputs.npy", allow_pickle=False)
labels = np.load(out / "test_labels.npy", allow_pickle=False)
np.save(out / "sample0.npy", inputs[0])
print(model, int(labels[0]))
PY
)
echo
echo "test sample 0 (label $label) through the exact integer simulator:"
echo "\$ verisnn simulate $model --input $out/sample0.npy"
.venv/bin/verisnn simulate "$model" --input "$out/sample0.npy"
