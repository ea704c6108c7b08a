#!/usr/bin/env python3
"""Runs the Keras and PyTorch references and dlkit alternately and tabulates their speed.

    python3 benchmarks/run.py --models 002-simple-cnn 003-cnn --epochs 3 --rounds 3 \\
        --out benchmarks/results/table.md

For each model it runs every chosen side once per round, `--rounds` times, and
rotates the order each round (K P D, P D K, D K P, ...), so all sides see the
same drift of a shared, noisy machine and none always runs first or last.
`--sides` chooses the sides (default: keras pytorch dlkit). Each command
prints one JSON line as the last line of its stdout (schema in
benchmarks/METHOD.md). Two Markdown tables, training (median seconds per
epoch, ratios to dlkit, per-round ratios, samples/s, accuracy) and inference
(a warm `evaluate` on the 10,000 test images), go to stdout and to `--out`;
every JSON line, with the round it belongs to, is appended to
`benchmarks/results/<date>.jsonl`. Results without the newer fields (e.g.
`evaluate_seconds`) are tabulated with a dash there.

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
    "002-branching-cnn",
    "003-cnn",
    "004-dnn",
    "004-lstm",
    "004-cnn",
]

# The sides in their base order; round r starts r-1 places further along.
SIDES = ["keras", "pytorch", "dlkit"]
LABELS = {"keras": "Keras", "pytorch": "PyTorch", "dlkit": "dlkit"}
# The side the others' ratios are taken against.
REFERENCE = "dlkit"
TEST_SAMPLES = 10000  # for results that do not say how many images evaluate saw

DEFAULT_KERAS_CMD = (
    "{python} benchmarks/keras_models.py --model {model} --epochs {epochs} --threads {threads}"
)
DEFAULT_PYTORCH_CMD = (
    "{python} benchmarks/torch_models.py --model {model} --epochs {epochs} --threads {threads}"
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
# Checked when present; older results and commands may lack them.
OPTIONAL_FIELDS = {
    "evaluate_seconds": (int, float),
    "test_samples": int,
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
    for field, kind in OPTIONAL_FIELDS.items():
        value = result.get(field)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool) or value <= 0):
            raise RunError(f"{command!r}: {field!r} is {value!r}, not a positive number")
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
    inference = f", evaluate {result['evaluate_seconds']:.2f} s" if "evaluate_seconds" in result else ""
    print(
        f"[run.py] {impl} {model}: {per_epoch:.2f} s/epoch, accuracy {result['test_accuracy']:.4f}{inference} "
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


def evaluate_seconds(result):
    """The run's timed evaluate on the test set, or None for results from before that field."""
    return result.get("evaluate_seconds")


def evaluate_samples_per_second(result):
    seconds = evaluate_seconds(result)
    return None if seconds is None else result.get("test_samples", TEST_SAMPLES) / seconds


def epoch_gflop(result):
    """The floating-point work of one epoch (GFLOP) the dlkit example reports, or None."""
    value = result.get("epoch_gflop")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def work_columns(row, runs, others):
    """The epoch's GFLOP, dlkit's achieved GFLOP/s and the GFLOP/s that 2× the fastest other
    side would take; all sides do the same arithmetic, so dlkit's count stands for theirs."""
    work = [w for w in map(epoch_gflop, runs[REFERENCE]) if w is not None]
    if not work:
        return
    med = statistics.median
    gflop = med(work)
    row["gflop"] = f"{gflop:.1f}"
    row[f"{REFERENCE}_gflops"] = f"{gflop / med(map(seconds_per_epoch, runs[REFERENCE])):.0f}"
    fastest = [med(map(seconds_per_epoch, runs[s])) for s in others if runs[s]]
    if fastest:
        row["target_gflops"] = f"{gflop / (min(fastest) / 2):.0f}"


def round_order(sides, round_no):
    """The sides in the order of round `round_no` (from 1): the base order rotated by round_no - 1."""
    shift = (round_no - 1) % len(sides)
    return sides[shift:] + sides[:shift]


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


def summarize(model, rounds, sides):
    """One row of each table from the rounds of one model; None if no run succeeded.

    `rounds` holds one {side: result or None} dict per round."""
    runs = {side: [r[side] for r in rounds if r.get(side) is not None] for side in sides}
    if not any(runs.values()):
        return None
    med = statistics.median

    def fmt(values, spec):
        values = [v for v in values if v is not None]  # None: a field older results lack
        return format(med(values), spec) if values else "–"

    def ratio_text(measure, side):
        """The side's median over dlkit's, and the per-round ratios' min / median / max (n)."""
        mine = [v for v in map(measure, runs[side]) if v is not None]
        ref = [v for v in map(measure, runs[REFERENCE]) if v is not None]
        overall = f"{med(mine) / med(ref):.2f}" if mine and ref else "–"
        per_round = []
        for r in rounds:
            a, b = r.get(side), r.get(REFERENCE)
            if a is not None and b is not None and measure(a) is not None and measure(b) is not None:
                per_round.append(measure(a) / measure(b))
        if not per_round:
            return overall, "–"
        return overall, f"{min(per_round):.2f} / {med(per_round):.2f} / {max(per_round):.2f} ({len(per_round)})"

    any_result = next(r for side in sides for r in runs[side])
    row = {"model": model, "batch": str(any_result["batch_size"]), "epochs": str(any_result["epochs"])}
    for side in sides:
        row[f"{side}_s"] = fmt([seconds_per_epoch(r) for r in runs[side]], ".2f")
        row[f"{side}_sps"] = fmt([r["samples_per_second"] for r in runs[side]], ".0f")
        row[f"{side}_acc"] = fmt([r["test_accuracy"] for r in runs[side]], ".4f")
        row[f"{side}_eval_s"] = fmt([evaluate_seconds(r) for r in runs[side]], ".2f")
        row[f"{side}_eval_sps"] = fmt([evaluate_samples_per_second(r) for r in runs[side]], ".0f")
        if side != REFERENCE and REFERENCE in sides:
            row[f"{side}_ratio"], row[f"{side}_rounds"] = ratio_text(seconds_per_epoch, side)
            row[f"{side}_eval_ratio"], row[f"{side}_eval_rounds"] = ratio_text(evaluate_seconds, side)
    if REFERENCE in sides:
        row["gflops"] = conv_gflops_text(runs[REFERENCE])
        if runs[REFERENCE]:
            work_columns(row, runs, [s for s in sides if s != REFERENCE])
    row["has_evaluate"] = any(evaluate_seconds(r) is not None for side in sides for r in runs[side])
    return row


def training_columns(sides):
    """(row key, title) of the training table's columns for the chosen sides."""
    others = [s for s in sides if s != REFERENCE] if REFERENCE in sides else []
    ref = LABELS[REFERENCE]
    return (
        [("model", "model"), ("batch", "batch"), ("epochs", "epochs")]
        + [(f"{s}_s", f"{LABELS[s]} s/epoch") for s in sides]
        + [(f"{s}_ratio", f"{LABELS[s]}/{ref}") for s in others]
        + [(f"{s}_rounds", f"{LABELS[s]}/{ref} per round min / median / max (n)") for s in others]
        + [(f"{s}_sps", f"{LABELS[s]} samples/s") for s in sides]
        + [(f"{s}_acc", f"{LABELS[s]} accuracy") for s in sides]
        + ([("gflop", "GFLOP/epoch"), (f"{REFERENCE}_gflops", f"{ref} GFLOP/s")] if REFERENCE in sides else [])
        + ([("target_gflops", "GFLOP/s for 2× the fastest other")] if others else [])
        + ([("gflops", f"conv GFLOP/s ({ref})")] if REFERENCE in sides else [])
    )


def inference_columns(sides):
    """(row key, title) of the inference table's columns for the chosen sides."""
    others = [s for s in sides if s != REFERENCE] if REFERENCE in sides else []
    ref = LABELS[REFERENCE]
    return (
        [("model", "model")]
        + [(f"{s}_eval_s", f"{LABELS[s]} evaluate s") for s in sides]
        + [(f"{s}_eval_ratio", f"{LABELS[s]}/{ref}") for s in others]
        + [(f"{s}_eval_rounds", f"{LABELS[s]}/{ref} per round min / median / max (n)") for s in others]
        + [(f"{s}_eval_sps", f"{LABELS[s]} samples/s") for s in sides]
    )


def markdown_table(rows, columns):
    lines = [
        "| " + " | ".join(title for _, title in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(row.get(key, "–") for key, _ in columns) + " |")
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


def report(rows, args, versions, failures):
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    names = [LABELS[s] for s in args.sides]
    if len(names) == 1:
        sides = f"{names[0]} only"
    else:
        orders = ", ".join(
            " ".join(LABELS[s][0].upper() for s in round_order(args.sides, r)) for r in range(1, len(args.sides) + 1)
        )
        sides = f"{', '.join(names[:-1])} and {names[-1]} alternated, the order rotated every round ({orders}, ...)"
    samples = f", first {args.train_samples} training images" if args.train_samples else ""
    frameworks = [LABELS[s] for s in args.sides if s != "dlkit"]
    threads = f", {' and '.join(frameworks)} with {args.threads} intra-op threads" if frameworks else ""
    header = [
        f"Benchmark of {now} on {machine_line()}: {args.rounds} round(s) per model, "
        f"{sides}, {args.epochs} epoch(s) per run{samples}{threads}.",
    ]
    if REFERENCE in args.sides and len(args.sides) > 1:
        header.append(
            "Seconds are medians over rounds of each run's median epoch (training) or of its timed "
            f"evaluate (inference); a ratio X/{LABELS[REFERENCE]} > 1 means {LABELS[REFERENCE]} is "
            "faster; per-round ratios compare the runs of one round."
        )
    for side in args.sides:
        if versions.get(side):
            header.append(
                f"{LABELS[side]} versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions[side].items())) + "."
            )
    text = "\n".join(header) + "\n\nTraining:\n\n" + markdown_table(rows, training_columns(args.sides)) + "\n"
    with_evaluate = [row for row in rows if row["has_evaluate"]]
    if with_evaluate:
        text += (
            f"\nInference (evaluate on the {TEST_SAMPLES:,} test images, timed on a second, warm call):\n\n"
            + markdown_table(rows, inference_columns(args.sides))
            + "\n"
        )
    else:
        text += "\nNo run reported evaluate_seconds, so there is no inference table.\n"
    if failures:
        text += "\nFailed runs:\n" + "".join(f"- {f}\n" for f in failures)
    return text


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["all"], help=f"model ids or 'all' ({', '.join(MODELS)})")
    p.add_argument("--epochs", type=int, default=3, help="epochs per run (default 3: the median skips epoch 1)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per model, one run of every side each (default 3)")
    p.add_argument("--threads", type=int, default=2,
                   help="intra-op threads of TensorFlow (Keras) and PyTorch (default 2)")
    p.add_argument("--train-samples", type=int, help="train on the first N images (passed to every side)")
    p.add_argument("--out", type=Path, help="also write the Markdown tables to this file")
    p.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results", help="where <date>.jsonl goes")
    p.add_argument(
        "--python",
        default=str(BENCH_DIR / ".venv" / "bin" / "python"),
        help="the Python of the Keras/PyTorch venv (default benchmarks/.venv, made by setup.sh)",
    )
    p.add_argument("--keras-cmd", default=DEFAULT_KERAS_CMD, help="template; fields {python} {model} {epochs} {threads}")
    p.add_argument("--pytorch-cmd", default=DEFAULT_PYTORCH_CMD, help="template; fields as --keras-cmd")
    p.add_argument("--dlkit-cmd", default=DEFAULT_DLKIT_CMD, help="template; fields as --keras-cmd")
    p.add_argument("--build-cmd", default=DEFAULT_BUILD_CMD, help="run once before timing; '' to skip")
    p.add_argument(
        "--datasets",
        default=os.environ.get("DLKIT_DATASETS", "/work/shared/datasets"),
        help="folder holding mnist/*.gz, given to every side as DLKIT_DATASETS "
        "(default: $DLKIT_DATASETS, else /work/shared/datasets)",
    )
    p.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES),
                   help="the sides to run, always in the base order keras pytorch dlkit (default: all three)")
    for side in SIDES:
        p.add_argument(f"--skip-{side}", action="store_true", help=f"leave {LABELS[side]} out (as --sides without it)")
    args = p.parse_args(argv)
    if args.models == ["all"]:
        args.models = list(MODELS)
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; there are: {', '.join(MODELS)}")
    if args.epochs < 1 or args.rounds < 1 or args.threads < 1:
        p.error("--epochs, --rounds and --threads must be at least 1")
    args.sides = [s for s in SIDES if s in args.sides and not getattr(args, f"skip_{s}")]
    if not args.sides:
        p.error("--sides and --skip-* leave nothing to run")
    return args


def check_python_sides(args, log):
    """Before anything is timed: the venv's Python exists, and imports torch for the PyTorch side."""
    setup = "bash benchmarks/setup.sh --torch" if "pytorch" in args.sides else "bash benchmarks/setup.sh"
    for side in ("keras", "pytorch"):
        template = getattr(args, f"{side}_cmd")
        if side not in args.sides or "{python}" not in template:
            continue
        if not Path(args.python).exists():
            print(f"run.py: {args.python} does not exist; run `{setup}` first", file=log)
            return False
        if side == "pytorch":
            probe = subprocess.run([args.python, "-c", "import torch"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            if probe.returncode != 0:
                print(f"run.py: {args.python} cannot import torch; run `bash benchmarks/setup.sh --torch` "
                      "or leave PyTorch out (--sides keras dlkit)", file=log)
                return False
    return True


def main(argv=None):
    args = parse_args(argv)
    log = sys.stderr
    fields = {"python": shlex.quote(args.python), "epochs": args.epochs, "threads": args.threads}
    extra = f" --train-samples {args.train_samples}" if args.train_samples else ""
    templates = {side: getattr(args, f"{side}_cmd") + extra for side in args.sides}
    # Every side reads the same files; dlkit would otherwise look in its download cache.
    env = {**os.environ, "DLKIT_DATASETS": args.datasets}
    if not (Path(args.datasets) / "mnist").is_dir():
        print(f"run.py: {args.datasets}/mnist does not exist; give --datasets or set DLKIT_DATASETS", file=log)
        return 2
    if not check_python_sides(args, log):
        return 2
    if "dlkit" in args.sides and args.build_cmd.strip():
        print(f"[run.py] building once before timing: {args.build_cmd}", file=log, flush=True)
        if subprocess.run(shlex.split(args.build_cmd), cwd=REPO_ROOT).returncode != 0:
            print("run.py: the build failed; nothing was timed", file=log)
            return 2

    jsonl = args.results_dir / f"{dt.date.today().isoformat()}.jsonl"
    rows, failures, versions = [], [], {}
    for model in args.models:
        rounds = []
        for round_no in range(1, args.rounds + 1):
            results = {}
            for position, side in enumerate(round_order(args.sides, round_no)):
                try:
                    result = run_one(templates[side], side, model, fields, log, env)
                except RunError as e:
                    print(f"[run.py] FAILED: {e}", file=log, flush=True)
                    failures.append(f"{side} {model} round {round_no}: {str(e).splitlines()[0]}")
                    results[side] = None
                    continue
                versions.setdefault(side, {}).update(result.get("versions", {}))
                recorded = dt.datetime.now().isoformat(timespec="seconds")
                append_jsonl(jsonl, {"round": round_no, "position": position, "recorded": recorded, **result})
                results[side] = result
            rounds.append(results)
        row = summarize(model, rounds, args.sides)
        if row is not None:
            rows.append(row)

    text = report(rows, args, versions, failures)
    print(text)
    if args.out:
        write_atomically(args.out, text)
        print(f"[run.py] tables written to {args.out}", file=log)
    print(f"[run.py] raw results appended to {jsonl}", file=log)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
