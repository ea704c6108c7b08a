#!/usr/bin/env python3
"""Start-up and memory of the project's `rust` kernel, measured as a user meets them.

    .venv/bin/python benchmarks/kernel_start.py                 # warm: a slot that has dlkit built
    .venv/bin/python benchmarks/kernel_start.py --cold          # a new, empty evcxr directory
    .venv/bin/python benchmarks/kernel_start.py --notebook notebooks/002-learning-to-deep-learn.ipynb
                                                                # peak memory over a smoke run

Prints one JSON object: seconds from asking for a kernel to its first answer
(`kernel_info`), the `:dep dlkit` cell, the first cell with a `let` and a
result, the median and maximum of ten trivial cells (`1 + 1`), and the peak
resident memory of the kernel's processes (evcxr_jupyter and the process that
runs the cells; compilers are counted apart). Run it on a quiet machine
(`uptime`): a build beside it doubles every figure.
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
COMPILERS = ("cargo", "rustc", "cc", "ld", "ld.lld", "mold", "collect2", "rust-analyzer")


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def rss_bytes(pid: int) -> tuple[str, int]:
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return name, int(line.split()[1]) * 1024
    except OSError:
        pass
    return "", 0


class MemorySampler(threading.Thread):
    """Samples the kernel's process tree every 100 ms; keeps the peaks."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.kernel_peak, self.compiler_peak = root, 0, 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            kernel = compilers = 0
            for pid in process_tree(self.root):
                name, rss = rss_bytes(pid)
                if name.startswith(COMPILERS):
                    compilers += rss
                elif name not in ("bash", "flock"):
                    kernel += rss
            self.kernel_peak = max(self.kernel_peak, kernel)
            self.compiler_peak = max(self.compiler_peak, compilers)
            self.stop.wait(0.1)


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
    manager = KernelManager(kernel_name="rust")
    cwd = (args.notebook.resolve().parent if args.notebook else REPO / "notebooks")
    manager.start_kernel(cwd=str(cwd))
    sampler = MemorySampler(manager.provisioner.process.pid)
    sampler.start()
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=600)
        figures["kernel_ready_s"] = round(time.monotonic() - t0, 2)
        seconds, _, err = execute(client, DEP)
        if err:
            raise SystemExit(f":dep failed: {err}")
        figures["dep_cell_s"] = round(seconds, 2)
        seconds, result, err = execute(client, FIRST_LET)
        if result != "2":
            raise SystemExit(f"first let cell gave {result!r}: {err}")
        figures["first_let_cell_s"] = round(seconds, 2)
        figures["first_result_s"] = round(time.monotonic() - t0, 2)
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
        figures["kernel_peak_rss_mb"] = round(sampler.kernel_peak / 2**20)
        figures["compiler_peak_rss_mb"] = round(sampler.compiler_peak / 2**20)
    finally:
        sampler.stop.set()
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
