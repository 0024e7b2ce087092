"""Build this case study: train with a fixed seed, quantize, write the v1 model and
test inputs (see config.yaml beside this file). Run: python build.py [--out DIR] [--json]"""

import sys
from pathlib import Path

from verisnn.pipeline import case_study_main

if __name__ == "__main__":
    sys.exit(case_study_main(Path(__file__).with_name("config.yaml"), sys.argv[1:]))
