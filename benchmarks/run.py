#!/usr/bin/env python3
"""Runs the Keras reference and dlkit alternately and tabulates their training speed.

    python3 benchmarks/run.py --models 002-simple-cnn 003-cnn --epochs 3 --rounds 3 \\
        --out benchmarks/results/table.md

For each model it runs the Keras command, then the dlkit command, `--rounds`
times (K D K D ...), so both see the same drift of a shared, noisy machine.
Each command prints one JSON line as the last line of its stdout (schema in
benchmarks/README.md). The Markdown table of medians goes to stdout and to
`--out`; every JSON line, with the round it belongs to, is appended to
`benchmarks/results/<date>.jsonl`.

The dlkit example is built once before any timing (`--build-cmd`), so no
compilation is ever timed. Standard library only.
"""

import argparse
import datetime as dt
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

MODELS = [
    "000-mnist-cnn",
    "001-cnn",
    "002-mlp",
    "002-simple-cnn",
    "002-larger-cnn",
    "003-cnn",
    "004-dnn",
    "004-lstm",
    "004-cnn",
]

DEFAULT_KERAS_CMD = (
    "{python} benchmarks/keras_models.py --model {model} --epochs {epochs} --threads {threads}"
)
DEFAULT_DLKIT_CMD = "cargo run --release -q -p dlkit --example benchmark -- --model {model} --epochs {epochs}"
DEFAULT_BUILD_CMD = "cargo build --release -p dlkit --example benchmark"

REQUIRED_FIELDS = {
    "impl": str,
    "model": str,
    "epochs": int,
    "batch_size": int,
    "train_samples": int,
    "seconds_per_epoch": list,
    "samples_per_second": (int, float),
    "test_accuracy": (int, float),
}


class RunError(Exception):
    """A benchmark command failed or printed no usable result."""


def parse_result(stdout, impl, model, command):
    """The JSON object on the last non-empty stdout line, checked against the schema."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise RunError(f"{command!r} printed nothing on stdout; expected a JSON line last")
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        raise RunError(f"{command!r}: the last stdout line is not JSON ({e}): {lines[-1][:200]!r}") from None
    if not isinstance(result, dict):
        raise RunError(f"{command!r}: the last stdout line is JSON but not an object")
    for field, kind in REQUIRED_FIELDS.items():
        if field not in result:
            raise RunError(f"{command!r}: the result has no {field!r} field")
        if not isinstance(result[field], kind) or isinstance(result[field], bool):
            raise RunError(f"{command!r}: {field!r} is {result[field]!r}, of the wrong type")
    if result["impl"] != impl:
        raise RunError(f"{command!r}: 'impl' is {result['impl']!r}, expected {impl!r}")
    if result["model"] != model:
        raise RunError(f"{command!r}: 'model' is {result['model']!r}, expected {model!r}")
    if not result["seconds_per_epoch"] or result["samples_per_second"] <= 0:
        raise RunError(f"{command!r}: no epoch was timed")
    return result


def run_one(template, impl, model, fields, log, env=None):
    """Runs one benchmark command from the repository root and returns its result."""
    command = template.format(model=model, **fields)
    argv = shlex.split(command)
    print(f"[run.py] {impl} {model}: {command}", file=log, flush=True)
    started = time.perf_counter()
    try:
        # stderr passes through (progress lines); stdout is kept for the JSON line.
        proc = subprocess.run(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, env=env)
    except OSError as e:
        raise RunError(f"cannot start {command!r}: {e}") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-5:])
        raise RunError(f"{command!r} exited with status {proc.returncode}; last stdout lines:\n{tail}")
    result = parse_result(proc.stdout, impl, model, command)
    wall = time.perf_counter() - started
    per_epoch = result["train_samples"] / result["samples_per_second"]
    print(
        f"[run.py] {impl} {model}: {per_epoch:.2f} s/epoch, accuracy {result['test_accuracy']:.4f} "
        f"({wall:.0f} s for the whole command)",
        file=log,
        flush=True,
    )
    return result


def write_atomically(path, text):
    """Writes `text` to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def append_jsonl(path, record):
    old = path.read_text() if path.exists() else ""
    write_atomically(path, old + json.dumps(record) + "\n")


def seconds_per_epoch(result):
    """The median epoch time of one run (the one its samples_per_second is based on)."""
    return result["train_samples"] / result["samples_per_second"]


def conv_gflops_text(results):
    """Median achieved GFLOP/s per conv layer over dlkit's runs, e.g. 'conv2d 41.2, conv2d_1 30.5'."""
    per_layer = {}
    for r in results:
        value = r.get("conv_gflops")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            per_layer.setdefault("all", []).append(float(value))
        elif isinstance(value, list):
            for i, entry in enumerate(value):
                if isinstance(entry, dict) and isinstance(entry.get("gflops"), (int, float)):
                    name = str(entry.get("layer", f"conv{i}"))
                    per_layer.setdefault(name, []).append(float(entry["gflops"]))
    if not per_layer:
        return "–"
    return ", ".join(
        f"{statistics.median(v):.1f}" if name == "all" else f"{name} {statistics.median(v):.1f}"
        for name, v in per_layer.items()
    )


def summarize(model, pairs):
    """One table row from the (keras, dlkit) result pairs of one model; None if there are none."""
    keras = [k for k, _ in pairs if k is not None]
    dlkit = [d for _, d in pairs if d is not None]
    if not keras and not dlkit:
        return None
    med = statistics.median
    both = [(k, d) for k, d in pairs if k is not None and d is not None]
    ratios = [seconds_per_epoch(k) / seconds_per_epoch(d) for k, d in both]
    any_result = (keras or dlkit)[0]

    def fmt(values, spec, missing="–"):
        return format(med(values), spec) if values else missing

    k_sec = [seconds_per_epoch(r) for r in keras]
    d_sec = [seconds_per_epoch(r) for r in dlkit]
    ratio = med(k_sec) / med(d_sec) if k_sec and d_sec else None
    return {
        "model": model,
        "batch": str(any_result["batch_size"]),
        "epochs": str(any_result["epochs"]),
        "keras_s": fmt(k_sec, ".2f"),
        "dlkit_s": fmt(d_sec, ".2f"),
        "ratio": f"{ratio:.2f}" if ratio is not None else "–",
        "keras_sps": fmt([r["samples_per_second"] for r in keras], ".0f"),
        "dlkit_sps": fmt([r["samples_per_second"] for r in dlkit], ".0f"),
        "keras_acc": fmt([r["test_accuracy"] for r in keras], ".4f"),
        "dlkit_acc": fmt([r["test_accuracy"] for r in dlkit], ".4f"),
        "gflops": conv_gflops_text(dlkit),
        "pairs": (
            f"{min(ratios):.2f} / {med(ratios):.2f} / {max(ratios):.2f} ({len(ratios)})" if ratios else "–"
        ),
    }


COLUMNS = [
    ("model", "model"),
    ("batch", "batch"),
    ("epochs", "epochs"),
    ("keras_s", "Keras s/epoch"),
    ("dlkit_s", "dlkit s/epoch"),
    ("ratio", "ratio Keras/dlkit"),
    ("pairs", "pair ratios min / median / max (n)"),
    ("keras_sps", "Keras samples/s"),
    ("dlkit_sps", "dlkit samples/s"),
    ("keras_acc", "Keras accuracy"),
    ("dlkit_acc", "dlkit accuracy"),
    ("gflops", "conv GFLOP/s (dlkit)"),
]


def markdown_table(rows):
    lines = [
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(row[key] for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def machine_line():
    """CPU model and core count from lscpu, when it is there."""
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    except OSError:
        return f"{os.cpu_count()} CPUs"
    info = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return f"{info.get('Model name', '?')}, {info.get('CPU(s)', os.cpu_count())} CPUs"


def report(rows, args, keras_versions, failures):
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    if args.skip_dlkit:
        sides = "Keras only"
    elif args.skip_keras:
        sides = "dlkit only"
    else:
        sides = "Keras and dlkit alternated"
    samples = f", first {args.train_samples} training images" if args.train_samples else ""
    header = [
        f"Benchmark of {now} on {machine_line()}: {args.rounds} round(s) per model, "
        f"{sides}, {args.epochs} epoch(s) per run{samples}, "
        f"Keras with {args.threads} TensorFlow threads.",
        "Seconds per epoch are medians over rounds of each run's median epoch; ratio > 1 means "
        "dlkit is faster; pair ratios compare the two runs of one round.",
    ]
    if keras_versions:
        header.append("Keras versions: " + ", ".join(f"{k} {v}" for k, v in sorted(keras_versions.items())) + ".")
    text = "\n".join(header) + "\n\n" + markdown_table(rows) + "\n"
    if failures:
        text += "\nFailed runs:\n" + "".join(f"- {f}\n" for f in failures)
    return text


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["all"], help=f"model ids or 'all' ({', '.join(MODELS)})")
    p.add_argument("--epochs", type=int, default=3, help="epochs per run (default 3: the median skips epoch 1)")
    p.add_argument("--rounds", type=int, default=3, help="Keras/dlkit pairs per model (default 3)")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads for Keras (default 2)")
    p.add_argument("--train-samples", type=int, help="train on the first N images (passed to both sides)")
    p.add_argument("--out", type=Path, help="also write the Markdown table to this file")
    p.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results", help="where <date>.jsonl goes")
    p.add_argument(
        "--python",
        default=str(BENCH_DIR / ".venv" / "bin" / "python"),
        help="the Python of the Keras venv (default benchmarks/.venv, made by setup.sh)",
    )
    p.add_argument("--keras-cmd", default=DEFAULT_KERAS_CMD, help="template; fields {python} {model} {epochs} {threads}")
    p.add_argument("--dlkit-cmd", default=DEFAULT_DLKIT_CMD, help="template; fields as --keras-cmd")
    p.add_argument("--build-cmd", default=DEFAULT_BUILD_CMD, help="run once before timing; '' to skip")
    p.add_argument(
        "--datasets",
        default=os.environ.get("DLKIT_DATASETS", "/work/shared/datasets"),
        help="folder holding mnist/*.gz, given to both sides as DLKIT_DATASETS "
        "(default: $DLKIT_DATASETS, else /work/shared/datasets)",
    )
    p.add_argument("--skip-keras", action="store_true", help="run dlkit only")
    p.add_argument("--skip-dlkit", action="store_true", help="run Keras only")
    args = p.parse_args(argv)
    if args.models == ["all"]:
        args.models = list(MODELS)
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; there are: {', '.join(MODELS)}")
    if args.epochs < 1 or args.rounds < 1 or args.threads < 1:
        p.error("--epochs, --rounds and --threads must be at least 1")
    if args.skip_keras and args.skip_dlkit:
        p.error("--skip-keras and --skip-dlkit leave nothing to run")
    return args


def main(argv=None):
    args = parse_args(argv)
    log = sys.stderr
    fields = {"python": shlex.quote(args.python), "epochs": args.epochs, "threads": args.threads}
    extra = f" --train-samples {args.train_samples}" if args.train_samples else ""
    keras_cmd, dlkit_cmd = args.keras_cmd + extra, args.dlkit_cmd + extra
    # Both sides read the same files; dlkit would otherwise look in its download cache.
    env = {**os.environ, "DLKIT_DATASETS": args.datasets}
    if not (Path(args.datasets) / "mnist").is_dir():
        print(f"run.py: {args.datasets}/mnist does not exist; give --datasets or set DLKIT_DATASETS", file=log)
        return 2

    if not args.skip_keras and "{python}" in args.keras_cmd and not Path(args.python).exists():
        print(f"run.py: {args.python} does not exist; run `bash benchmarks/setup.sh` first", file=log)
        return 2
    if not args.skip_dlkit and args.build_cmd.strip():
        print(f"[run.py] building once before timing: {args.build_cmd}", file=log, flush=True)
        if subprocess.run(shlex.split(args.build_cmd), cwd=REPO_ROOT).returncode != 0:
            print("run.py: the build failed; nothing was timed", file=log)
            return 2

    jsonl = args.results_dir / f"{dt.date.today().isoformat()}.jsonl"
    rows, failures, keras_versions = [], [], {}
    for model in args.models:
        pairs = []
        for round_no in range(1, args.rounds + 1):
            pair = []
            for impl, template, skip in (("keras", keras_cmd, args.skip_keras), ("dlkit", dlkit_cmd, args.skip_dlkit)):
                if skip:
                    pair.append(None)
                    continue
                try:
                    result = run_one(template, impl, model, fields, log, env)
                except RunError as e:
                    print(f"[run.py] FAILED: {e}", file=log, flush=True)
                    failures.append(f"{impl} {model} round {round_no}: {str(e).splitlines()[0]}")
                    pair.append(None)
                    continue
                if impl == "keras":
                    keras_versions.update(result.get("versions", {}))
                append_jsonl(jsonl, {"round": round_no, "recorded": dt.datetime.now().isoformat(timespec="seconds"), **result})
                pair.append(result)
            pairs.append(tuple(pair))
        row = summarize(model, pairs)
        if row is not None:
            rows.append(row)

    text = report(rows, args, keras_versions, failures)
    print(text)
    if args.out:
        write_atomically(args.out, text)
        print(f"[run.py] table written to {args.out}", file=log)
    print(f"[run.py] raw results appended to {jsonl}", file=log)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
