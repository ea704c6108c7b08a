#!/usr/bin/env python3
"""Start-up and memory of the project's `rust` kernel, measured as a user meets them.

    .venv/bin/python benchmarks/kernel_start.py                 # warm: a slot that has dlkit built
    .venv/bin/python benchmarks/kernel_start.py --cold          # a new, empty evcxr directory
    .venv/bin/python benchmarks/kernel_start.py --notebook notebooks/002-learning-to-deep-learn.ipynb
                                                                # peak memory over a smoke run

    .venv/bin/python benchmarks/kernel_start.py --dep ':dep candle-core = "0.11.1"' \
        --first-let 'let t = candle_core::Tensor::arange(0f32, 6f32, &candle_core::Device::Cpu).unwrap(); t.dims().len()'
                                                                # what another crate graph costs

Prints one JSON object: seconds from asking for a kernel to its first answer
(`kernel_info`), the `:dep` cell, the first cell with a `let` and a result, the
median and maximum of ten trivial cells (`1 + 1`), and memory as proportional
set size (PSS, benchmarks/memory.py's sampler): evcxr_jupyter (with its
rust-analyzer) right after start, after `:dep` and after the first `let`, and
the peaks of the kernel, of the process that runs the cells and of the
compilers. Run it on a quiet machine (`uptime`): a build beside it doubles
every time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "lib"))
import nbtool  # noqa: E402
DEP = ':dep dlkit = { path = "../crates/dlkit-dylib", package = "dlkit-dylib" }'
FIRST_LET = ("let t = dlkit::Tensor::arange(0f32, 6f32, &dlkit::Device::Cpu)?.reshape((2, 3))?;\n"
             "t.dims().len()")
sys.path.insert(0, str(REPO / "benchmarks"))
from memory import TreeSampler  # noqa: E402


def execute(client, code: str, timeout: float = 3600) -> tuple[float, str | None, str]:
    """Runs one cell; returns (seconds to idle, text/plain result, stderr)."""
    t0 = time.monotonic()
    _, _, stderr, result = nbtool.execute_code(client, code, timeout)
    return time.monotonic() - t0, result, stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true",
                        help="use a new, empty evcxr directory (compiles dlkit and candle)")
    parser.add_argument("--notebook", type=Path,
                        help="also run this notebook as a smoke run and report peak memory")
    parser.add_argument("--trivial", type=int, default=10, help="how many `1 + 1` cells")
    parser.add_argument("--kernel", default="rust", help="kernelspec name (default: rust)")
    parser.add_argument("--dep", default=DEP, help="the `:dep` cell (default: the notebooks' dlkit)")
    parser.add_argument("--first-let", default=FIRST_LET,
                        help="the first cell with a `let`; its result must be 2")
    args = parser.parse_args()

    from jupyter_client.manager import KernelManager
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    os.environ["DLKIT_SMOKE"] = "1"
    cold_dir = None
    if args.cold:
        cold_dir = tempfile.mkdtemp(prefix="evcxr-cold-", dir=REPO / ".evcxr")
        os.environ["DLKIT_EVCXR_DIR"] = cold_dir
    figures: dict[str, object] = {"cold": args.cold, "load": os.getloadavg()[0]}

    t0 = time.monotonic()
    manager = KernelManager(kernel_name=args.kernel)
    cwd = (args.notebook.resolve().parent if args.notebook else REPO / "notebooks")
    manager.start_kernel(cwd=str(cwd))
    sampler = TreeSampler(manager.provisioner.process.pid)
    sampler.start()

    def kernel_mb() -> int:
        sampler.sample()
        return round(sampler.last.get("kernel", 0) / 2**20)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=600)
        figures["kernel_ready_s"] = round(time.monotonic() - t0, 2)
        figures["kernel_mb_at_start"] = kernel_mb()
        seconds, _, err = execute(client, args.dep)
        if err:
            raise SystemExit(f":dep failed: {err}")
        figures["dep_cell_s"] = round(seconds, 2)
        figures["kernel_mb_after_dep"] = kernel_mb()
        seconds, result, err = execute(client, args.first_let)
        if result != "2":
            raise SystemExit(f"first let cell gave {result!r}: {err}")
        figures["first_let_cell_s"] = round(seconds, 2)
        figures["first_result_s"] = round(time.monotonic() - t0, 2)
        figures["kernel_mb_after_first_let"] = kernel_mb()
        trivial = []
        for _ in range(args.trivial):
            seconds, result, err = execute(client, "1 + 1")
            if result != "2":
                raise SystemExit(f"`1 + 1` gave {result!r}: {err}")
            trivial.append(seconds)
        figures["trivial_cell_median_s"] = round(statistics.median(trivial), 3)
        figures["trivial_cell_max_s"] = round(max(trivial), 3)
        if args.notebook:
            import nbformat
            nb = nbformat.read(args.notebook, as_version=4)
            code = [c.source for c in nb.cells if c.cell_type == "code"]
            t1 = time.monotonic()
            for source in code[1:]:  # the :dep cell ran above
                _, _, err = execute(client, source)
                if "panicked" in err or "error" in err.lower():
                    raise SystemExit(f"{args.notebook.name} failed: {err}")
            figures["notebook"] = args.notebook.name
            figures["notebook_s"] = round(time.monotonic() - t1, 1)
        peaks = sampler.kind_peaks
        figures["kernel_peak_mb"] = round(peaks["kernel"] / 2**20)
        figures["cells_peak_mb"] = round(peaks["cells"] / 2**20)
        figures["compiler_peak_mb"] = round(max(peaks["rustc"] + peaks["cargo"], 0) / 2**20)
        figures["tree_peak_mb"] = round(sampler.peak_total / 2**20)
    finally:
        sampler.stop_event.set()
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
