"""The benchmarks' shared harness: what every script in bench/ needs besides the thing it measures.

- hub.py: a fresh hub of the benchmark's own (start, stop, run one benchmark on it), the demo names
  and the hub's own request time (the Server-Timing header)
- machine.py: the machine as a whole: waiting for a quiet moment, CPU shares while measuring, its facts
- processes.py: single processes from /proc: CPU and memory over time, children, stopping them
- report.py: percentiles and their rows, the CPU line, verdicts, the JSON file
- timing.py: instruments that record the hub's request time while something else loads it
- appliance.py: a replication appliance set up through the portal, as a user does
- replication.py: the replication rig (appliance + Mobility service on an image file), the hub's
  replication counters read from its database, CPU per process of the replication path
- relay.py: a relay between the Mobility service and the appliance that counts the agent's bytes
- reference_tools.py: zstd timed on the same image, for comparison
- profiler.py: py-spy sampling, when it is installed
- options.py: the command line every script has (bench_main, a table of options, --json)
- markdown.py: the summary's Markdown tables, in the shape of BENCHMARKS.md

Scripts run as `python bench/<script>.py`, so bench/ is on sys.path and `harness` imports as a package.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The repository root, so that the harness and the scripts can use the test suite's hubs and rigs (tests/).
ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
