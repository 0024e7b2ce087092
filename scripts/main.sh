#!/usr/bin/env bash
# The main job: the digits audit, end to end.
#   1. set up .venv (first time only);
#   2. build the digits case study (train with a fixed seed, quantize to an exact integer
#      model) unless artifacts/digits already holds it;
#   3. `verisnn audit case_studies/digits/audit.yaml`: verify the property suite around the
#      first test inputs, write a certificate for every answer and re-check it
#      independently, extract certified decision-tree rules, explain with saliency, and
#      write the report (artifacts/digits/audit/report.html and report.md).
# A rerun reuses the model and the stored answers (the campaign resumes) and redraws the report.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"

out=artifacts/digits
if [ -f "$out/summary.json" ] && [ -f "$out/digits-lif.snn.json" ] && [ -f "$out/test_inputs.npy" ]; then
    echo "digits model: reusing $out/digits-lif.snn.json (delete $out to rebuild)"
else
    .venv/bin/python case_studies/digits/build.py --out "$out"
fi
echo
echo "\$ verisnn audit case_studies/digits/audit.yaml --out $out/audit"
.venv/bin/verisnn audit case_studies/digits/audit.yaml --out "$out/audit"
echo
echo "the audit report: $root/$out/audit/report.html (and report.md beside it)"
