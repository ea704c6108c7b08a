#!/usr/bin/env python3
"""Peak memory of a notebook session: the summed PSS of the whole process tree.

    .venv/bin/python benchmarks/memory.py notebooks/002-learning-to-deep-learn.ipynb
    .venv/bin/python benchmarks/memory.py --smoke notebooks/*.ipynb        # smoke runs
    .venv/bin/python benchmarks/memory.py --cpus 0 notebooks/*.ipynb       # on one CPU (Binder)
    .venv/bin/python benchmarks/memory.py --lab                            # JupyterLab's own share
    .venv/bin/python benchmarks/memory.py --smoke --budget-mb 1500 notebooks/*.ipynb

Each notebook runs as `scripts/notebooks --execute --out DIR` runs it (nbclient on the
project's `rust` kernel), into a temporary directory, so the committed notebooks are never
touched. Four times a second the script walks the tree under that run and reads every
process's proportional set size (PSS, /proc/PID/smaps_rollup): shared libraries and the
copy-on-write pages of a fork count once in the sum, where summed RSS would count them in
every process. Processes are grouped by kind:

    client   the Python process that executes the notebook (nbclient)
    kernel   evcxr_jupyter, with the rust-analyzer it embeds
    cells    the process that runs the cells (evcxr's runtime child: the notebook's variables)
    cargo, rustc, linker   what compiles each cell
    other    anything else (the kernel's launcher, dlkit-kernel)

The report gives, per notebook, the peak of the whole tree (and its kinds at that moment),
the peak of each kind on its own, and the run's wall time; one JSON line each, or a table
with --table. --lab measures a JupyterLab server (started like `scripts/notebooks` starts it,
with the notebook opened through its REST API) so that a Binder session's total can be told:
the tree's peak less the client, plus JupyterLab. --budget-mb makes the exit status 1 when
a whole-tree peak is above it (the notebook tests use this). Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KINDS = ("client", "kernel", "cells", "cargo", "rustc", "linker", "other")
LINKERS = ("cc", "ld", "ld.lld", "mold", "collect2", "gcc", "clang")


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children = children_map()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def kind_of(pid: int, cache: dict[int, str]) -> str:
    if pid in cache:
        return cache[pid]
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "other"
    if name.startswith("evcxr_jupyter"):
        try:
            runtime = b"EVCXR_IS_RUNTIME=" in Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return "kernel"  # not cached: it may be a fork about to become the runtime
        kind = "cells" if runtime else "kernel"
    elif name == "cargo":
        kind = "cargo"
    elif name.startswith("rustc"):
        kind = "rustc"
    elif name in LINKERS:
        kind = "linker"
    elif name.startswith(("python", "jupyter")):
        kind = "client"
    else:
        # a fork not yet exec'd keeps its parent's name: do not cache
        return "other"
    cache[pid] = kind
    return kind


class TreeSampler(threading.Thread):
    """Samples the PSS of the tree under `root` every `interval` seconds; keeps the peaks."""

    def __init__(self, root: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_total = 0
        self.at_peak: dict[str, int] = {}
        self.kind_peaks: dict[str, int] = {k: 0 for k in KINDS}
        self.samples = 0
        self.last: dict[str, int] = {}
        self.stop_event = threading.Event()
        self._kinds: dict[int, str] = {}

    def sample(self) -> None:
        by_kind = {k: 0 for k in KINDS}
        for pid in process_tree(self.root):
            pss = pss_bytes(pid)
            if pss:
                by_kind[kind_of(pid, self._kinds)] += pss
        total = sum(by_kind.values())
        self.last = by_kind
        self.samples += 1
        if total > self.peak_total:
            self.peak_total, self.at_peak = total, by_kind
        for k, v in by_kind.items():
            self.kind_peaks[k] = max(self.kind_peaks[k], v)

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)


def mb(n: int) -> int:
    return round(n / 2**20)


def python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def measure_notebook(notebook: Path, smoke: bool, cpus: str | None, out: Path) -> dict:
    cmd = [python(), str(REPO / "scripts" / "lib" / "nbtool.py"), "execute", "--out", str(out)]
    if smoke:
        cmd.append("--smoke")
    cmd.append(str(notebook))
    if cpus is not None:
        cmd = ["taskset", "-c", cpus] + cmd
    env = dict(os.environ, JUPYTER_PREFER_ENV_PATH="1")
    t0 = time.monotonic()
    log = out / f"{notebook.stem}.log"
    with open(log, "w") as logf:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=logf, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        status = proc.wait()
        sampler.stop_event.set()
        sampler.join()
    seconds = time.monotonic() - t0
    result = {
        "notebook": notebook.name,
        "run": "smoke" if smoke else "full",
        "cpus": cpus or "all",
        "ok": status == 0,
        "minutes": round(seconds / 60, 2),
        "peak_mb": mb(sampler.peak_total),
        "at_peak_mb": {k: mb(v) for k, v in sampler.at_peak.items() if v},
        "kind_peak_mb": {k: mb(v) for k, v in sampler.kind_peaks.items() if v},
        "samples": sampler.samples,
    }
    if status != 0:
        result["log"] = str(log)
        result["log_tail"] = log.read_text(errors="replace")[-2000:]
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_lab(notebook: Path | None, seconds: float = 20.0) -> dict:
    """PSS of a JupyterLab server (no kernel started), after its page and a notebook are served."""
    port = free_port()
    token = "memory-probe"
    jupyter = [python(), "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={REPO}"]
    if os.geteuid() == 0:
        jupyter.append("--allow-root")  # as in a container or on CI; Binder runs as a user
    proc = subprocess.Popen(jupyter, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("JupyterLab did not start")
                time.sleep(0.5)
        urllib.request.urlopen(f"{base}/lab?token={token}", timeout=30).read()
        if notebook is not None:
            rel = notebook.resolve().relative_to(REPO)
            urllib.request.urlopen(f"{base}/api/contents/{rel}?token={token}", timeout=30).read()
        time.sleep(seconds)
    finally:
        sampler.stop_event.set()
        sampler.join()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return {"jupyterlab_mb": mb(sampler.peak_total)}


def table(rows: list[dict]) -> str:
    lines = ["| notebook | run | CPUs | minutes | whole tree peak (MB) | kernel | cells | rustc | cargo | client |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        k = r["kind_peak_mb"]
        lines.append(f"| {r['notebook']} | {r['run']} | {r['cpus']} | {r['minutes']:.1f} | "
                     f"**{r['peak_mb']}**{'' if r['ok'] else ' (FAILED)'} | {k.get('kernel', 0)} | "
                     f"{k.get('cells', 0)} | {k.get('rustc', 0)} | {k.get('cargo', 0)} | {k.get('client', 0)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--smoke", action="store_true", help="smoke runs (DLKIT_SMOKE=1)")
    parser.add_argument("--cpus", help="run on these CPUs only (taskset -c), e.g. 0 for one CPU")
    parser.add_argument("--lab", action="store_true", help="also measure a JupyterLab server")
    parser.add_argument("--budget-mb", type=int, help="exit 1 if a whole-tree peak exceeds this")
    parser.add_argument("--table", action="store_true", help="print a Markdown table at the end")
    parser.add_argument("--keep", type=Path, help="keep the executed copies and logs here")
    args = parser.parse_args()
    if not args.notebooks and not args.lab:
        parser.error("name notebooks to run, or --lab")
    if not Path("/proc/self/smaps_rollup").exists():
        raise SystemExit("needs Linux's /proc/PID/smaps_rollup")
    if args.cpus is not None and not shutil.which("taskset"):
        raise SystemExit("--cpus needs taskset (util-linux)")

    rows, over = [], []
    out = args.keep or Path(tempfile.mkdtemp(prefix="dlkit-memory-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        for nb in args.notebooks:
            row = measure_notebook(nb.resolve(), args.smoke, args.cpus, out)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.budget_mb is not None and row["peak_mb"] > args.budget_mb:
                over.append(f"{row['notebook']}: {row['peak_mb']} MB > budget {args.budget_mb} MB")
        if args.lab:
            lab = measure_lab(args.notebooks[0] if args.notebooks else None)
            print(json.dumps(lab), flush=True)
            for row in rows:
                session = row["peak_mb"] - row["at_peak_mb"].get("client", 0) + lab["jupyterlab_mb"]
                print(json.dumps({"notebook": row["notebook"], "session_estimate_mb": session}))
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    if args.table and rows:
        print(table(rows))
    failed = [r["notebook"] for r in rows if not r["ok"]]
    for line in over:
        print(f"over budget: {line}", file=sys.stderr)
    for name in failed:
        print(f"failed: {name}", file=sys.stderr)
    return 1 if over or failed else 0


if __name__ == "__main__":
    sys.exit(main())
