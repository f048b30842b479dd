"""The demo `make demo` runs: a consistency evaluation on the embedded model.

The suite (examples/consistency-suite.yaml) samples each conversation several times in three
arms: `direct` (the blueprint's system prompt, no checkpoints), `cot` (think first, then reply)
and `blueprint` (checkpoints forced by constrained decoding). All requests go to the engine
together; results land in runs/demo/results.jsonl (re-running resumes), then the reports:
report.json, report.html (tables and plots) and junit.xml. A 135M model is often wrong: read the
statistics, not single samples.
"""

from __future__ import annotations

import sys
from pathlib import Path

from parlantish.cli.main import main

ROOT = Path(__file__).parents[1]

if __name__ == "__main__":
    # Extra arguments go to `parlantish eval` (e.g. --force-new, --samples 8); --out defaults
    # to runs/demo.
    extra = sys.argv[1:]
    out = [] if "--out" in extra else ["--out", str(ROOT / "runs" / "demo")]
    main(["eval", str(ROOT / "examples" / "consistency-suite.yaml"), *out, *extra])
