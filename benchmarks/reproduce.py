#!/usr/bin/env python3
"""Reproduction report: dlkit against the Keras reference, k seeds per side, full tutorial epochs.

    python3 benchmarks/reproduce.py --models all --seeds 5 \\
        --results benchmarks/results/reproduction.jsonl --out benchmarks/results/reproduction.md

For every model and seed 1..k it trains the Keras reference (benchmarks/keras_models.py) and
dlkit (the `benchmark` example) for the tutorial's full epochs, alternating the sides (seed 1:
Keras then dlkit, seed 2: dlkit then Keras, ...). Every finished run is appended at once, as
one JSON line, to the results file; runs already there (same model, side, seed, epochs and
training images) are skipped, so a killed sweep resumes where it stopped. The table is then
built from everything in the results file: per model the published figure, Keras and dlkit
mean ± sd over seeds, the difference dlkit − Keras with its 95 % Welch interval, a verdict
('same as Keras' unless the interval excludes 0) and how many dlkit seeds reach the published
figure. Runs with an `--epochs` or `--train-samples` override are test runs: recorded as such
and tabulated apart, never mixed with full runs.

`--dry-run` lists what would run; `--table-only` rebuilds the table from the file.
Standard library only.
"""

import argparse
import datetime as dt
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import run  # noqa: E402  (parse_result, run_one, write_atomically)

TRAIN_SAMPLES = 60000  # a full run trains on all of them

# model -> (tutorial epochs, metric of the published figure, published test accuracy or None).
# Epochs and published figures as in crates/dlkit/src/tutorials/zoo.rs (Recipe::epochs,
# Recipe::published_accuracy); tutorial 002 publishes test errors, so its rows are in error.
TUTORIALS = {
    "000-mnist-cnn": (12, "accuracy", 0.9925),
    "001-cnn": (10, "accuracy", 0.99),
    "002-mlp": (10, "error", 1.0 - 0.0174),
    "002-simple-cnn": (10, "error", 1.0 - 0.0110),
    "002-larger-cnn": (10, "error", 1.0 - 0.0089),
    "002-branching-cnn": (10, "error", None),
    "003-cnn": (8, "accuracy", 0.9916),
    "004-dnn": (5, "accuracy", None),
    "004-lstm": (5, "accuracy", None),
    "004-cnn": (5, "accuracy", None),
}
MODELS = list(TUTORIALS)
# The slowest models (minutes per epoch on 2 cores); --slow-seeds may give them fewer seeds (≥ 3).
SLOW_MODELS = ["000-mnist-cnn", "001-cnn", "002-branching-cnn", "004-lstm"]

SIDES = ["keras", "dlkit"]
LABELS = {"keras": "Keras", "dlkit": "dlkit"}

DEFAULT_KERAS_CMD = (
    "{python} benchmarks/keras_models.py --model {model} --epochs {epochs} --seed {seed} --threads {threads}"
)
DEFAULT_DLKIT_CMD = "target/release/examples/benchmark --model {model} --epochs {epochs} --seed {seed}"
DEFAULT_BUILD_CMD = "cargo build --release -p dlkit --example benchmark"


# ---------------------------------------------------------------- Student t and Welch

def _betacf(a, b, x):
    """Continued fraction of the regularized incomplete beta function (Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t, df):
    """P(T <= t) for Student's t with `df` (> 0, not necessarily whole) degrees of freedom."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p, df):
    """The t with t_cdf(t, df) = p, by bisection (t_cdf is increasing); 0 < p < 1."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def welch_interval(a, b, level=0.95):
    """(difference mean(a) − mean(b), low, high, Welch df) of the `level` Welch t interval.

    Needs at least 2 values on each side. With zero variance on both sides the interval is the
    difference itself and df is None."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Welch interval needs at least 2 values per side")
    diff = statistics.mean(a) - statistics.mean(b)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se2 = va + vb
    if se2 == 0.0:
        return diff, diff, diff, None
    df = se2 * se2 / (va * va / (len(a) - 1) + vb * vb / (len(b) - 1))
    half = t_quantile(0.5 + level / 2.0, df) * math.sqrt(se2)
    return diff, diff - half, diff + half, df


# ---------------------------------------------------------------- results file

def run_key(record):
    """What makes a run reusable: the same model, side, seed, epochs and training images."""
    return (record["model"], record["side"], int(record["seed"]), int(record["epochs"]),
            int(record.get("train_samples", TRAIN_SAMPLES)))


def read_results(path):
    """The records of the results file, skipping (and counting) lines that are not whole records."""
    records, bad = [], 0
    if not path.exists():
        return records, bad
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            run_key(record)
            float(record["test_accuracy"])
        except (ValueError, KeyError, TypeError):
            bad += 1  # e.g. a line cut short by a kill in the middle of a write
            continue
        records.append(record)
    return records, bad


def append_record(path, record):
    """Appends one JSON line and flushes it to disk before the next run starts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def is_full(record):
    model = record["model"]
    return (model in TUTORIALS and int(record["epochs"]) == TUTORIALS[model][0]
            and int(record.get("train_samples", TRAIN_SAMPLES)) == TRAIN_SAMPLES)


def git_commit():
    """(short commit, dirty?) of the working tree, or ('unknown', None) outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
        return commit, bool(status.strip())
    except (OSError, subprocess.CalledProcessError):
        return "unknown", None


# ---------------------------------------------------------------- the plan

def seeds_for(model, args):
    k = args.slow_seeds if (model in SLOW_MODELS and args.slow_seeds is not None) else args.seeds
    return list(range(1, k + 1))


def plan(args):
    """Every (model, side, seed, epochs) of the sweep, sides alternating from seed to seed."""
    runs = []
    for model in args.models:
        epochs = args.epochs if args.epochs is not None else TUTORIALS[model][0]
        for seed in seeds_for(model, args):
            order = SIDES if seed % 2 == 1 else SIDES[::-1]
            for side in order:
                if side in args.sides:
                    runs.append({"model": model, "side": side, "seed": seed, "epochs": epochs})
    return runs


def pending(runs, records, args):
    """The planned runs not yet in the results file."""
    train_samples = args.train_samples or TRAIN_SAMPLES
    done = {run_key(r) for r in records}
    return [r for r in runs
            if (r["model"], r["side"], r["seed"], r["epochs"], train_samples) not in done]


# ---------------------------------------------------------------- the table

def metric_value(accuracy, metric):
    """The figure in the published metric, in percent."""
    return 100.0 * (accuracy if metric == "accuracy" else 1.0 - accuracy)


def reaches(accuracy, published):
    """Whether a test accuracy reaches the published one, to the 1/10 000 test image."""
    return round(accuracy * 10000) >= round(published * 10000)


def verdict(metric, low, high):
    """'better' / 'worse' when the interval of dlkit − Keras (in `metric`) excludes 0."""
    if low > 0 or high < 0:
        dlkit_higher = low > 0
        return "better" if dlkit_higher == (metric == "accuracy") else "worse"
    return "same as Keras"


def fmt_mean_sd(values):
    if not values:
        return "–"
    sd = f"{statistics.stdev(values):.2f}" if len(values) > 1 else "–"
    return f"{statistics.mean(values):.2f} ± {sd} ({len(values)})"


def summarize(model, records):
    """One table row (a dict of cells) from the records of one model and one setting."""
    epochs, metric, published = TUTORIALS.get(model, (None, "accuracy", None))
    by_side = {}
    for side in SIDES:
        # One value per seed: if a seed was somehow recorded twice, its first record counts.
        seen = {}
        for r in records:
            if r["side"] == side:
                seen.setdefault(int(r["seed"]), r)
        by_side[side] = [metric_value(float(seen[s]["test_accuracy"]), metric) for s in sorted(seen)]
        by_side[side + "_acc"] = [float(seen[s]["test_accuracy"]) for s in sorted(seen)]
    k, d = by_side["keras"], by_side["dlkit"]
    row = {
        "model": model,
        "epochs": str(records[0]["epochs"]),
        "metric": metric,
        "published": f"{metric_value(published, metric):.2f}" if published is not None else "none quoted",
        "keras": fmt_mean_sd(k),
        "dlkit": fmt_mean_sd(d),
        "diff": "–",
        "verdict": "– (needs ≥ 2 seeds per side)",
        "reach": "n/a" if published is None else "–",
    }
    if len(k) >= 2 and len(d) >= 2:
        diff, low, high, _ = welch_interval(d, k)
        row["diff"] = f"{diff:+.2f} [{low:+.2f}, {high:+.2f}]"
        row["verdict"] = verdict(metric, low, high)
    if published is not None and d:
        hits = sum(reaches(a, published) for a in by_side["dlkit_acc"])
        row["reach"] = f"{hits}/{len(d)}"
    return row


COLUMNS = [
    ("model", "model"), ("epochs", "epochs"), ("metric", "metric"), ("published", "published %"),
    ("keras", "Keras mean ± sd (n) %"), ("dlkit", "dlkit mean ± sd (n) %"),
    ("diff", "dlkit − Keras [95 % Welch] pp"), ("verdict", "verdict"),
    ("reach", "dlkit seeds reaching published"),
]


def build_table(records, models=None, command=None, now=None):
    """The Markdown report from the records: full runs in one table, test runs in another."""
    models = models or MODELS
    now = now or dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    full, test = {}, {}
    for r in records:
        if r["model"] not in models:
            continue
        if is_full(r):
            full.setdefault(r["model"], []).append(r)
        else:
            setting = (r["model"], int(r["epochs"]), int(r.get("train_samples", TRAIN_SAMPLES)))
            test.setdefault(setting, []).append(r)
    commits = sorted({f"{r.get('commit', '?')}{'-dirty' if r.get('dirty') else ''}"
                      for r in records if r["model"] in models and r["side"] == "dlkit"})
    versions = sorted({f"{k} {v}" for r in records if r["model"] in models and r["side"] == "keras"
                       for k, v in r.get("versions", {}).items()})
    lines = [f"Reproduction report of {now}."]
    if command:
        lines.append(f"Command: `{command}`.")
    lines.append(f"dlkit runs from commit(s): {', '.join(commits) or '–'}; Keras: {', '.join(versions) or '–'}.")
    lines.append(
        "Test accuracy (or, for tutorial 002, test error) on the 10,000 MNIST test images after the "
        "tutorial's last epoch, in percent; mean ± sample sd over seeds, (n) = seeds. The difference "
        "is dlkit − Keras with its 95 % Welch t interval; 'better' or 'worse' when that interval "
        "excludes 0 (better = higher accuracy or lower error), else 'same as Keras'. A seed reaches "
        "the published figure when its accuracy is at least the published one (error at most)."
    )
    lines.append("")
    rows = [summarize(m, full[m]) for m in models if m in full]
    lines.append("Full runs (the tutorial's epochs, all 60,000 training images):")
    lines.append("")
    lines.append(run.markdown_table(rows, COLUMNS) if rows else "None yet.")
    missing = [m for m in models if m not in full]
    if missing:
        lines.append("")
        lines.append(f"No full runs yet for: {', '.join(missing)}.")
    if test:
        lines.append("")
        lines.append("Test runs (an --epochs or --train-samples override; NOT a reproduction, never "
                     "mixed with the full runs):")
        lines.append("")
        test_rows = []
        for (model, epochs, samples), recs in sorted(test.items()):
            row = summarize(model, recs)
            row["epochs"] = f"{epochs}" + (f" ({samples} images)" if samples != TRAIN_SAMPLES else "")
            test_rows.append(row)
        lines.append(run.markdown_table(test_rows, COLUMNS))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["all"], help=f"model ids or 'all' ({', '.join(MODELS)})")
    p.add_argument("--seeds", type=int, default=5, help="seeds 1..K per side and model (default 5)")
    p.add_argument("--slow-seeds", type=int,
                   help=f"seeds for the slowest models ({', '.join(SLOW_MODELS)}), at least 3 (default: --seeds)")
    p.add_argument("--epochs", type=int,
                   help="TESTING ONLY: epochs instead of the tutorial's; such runs are tabulated apart")
    p.add_argument("--train-samples", type=int,
                   help="TESTING ONLY: train on the first N images; such runs are tabulated apart")
    p.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES), help="default: keras dlkit")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads (default 2)")
    p.add_argument("--results", type=Path, default=BENCH_DIR / "results" / "reproduction.jsonl",
                   help="the results file: read to skip runs already done, appended to (JSON lines)")
    p.add_argument("--out", type=Path, help="also write the Markdown table to this file")
    p.add_argument("--python", default=str(BENCH_DIR / ".venv" / "bin" / "python"),
                   help="the Python of the Keras venv (default benchmarks/.venv, made by setup.sh)")
    p.add_argument("--keras-cmd", default=DEFAULT_KERAS_CMD,
                   help="template; fields {python} {model} {epochs} {seed} {threads}")
    p.add_argument("--dlkit-cmd", default=DEFAULT_DLKIT_CMD, help="template; fields as --keras-cmd")
    p.add_argument("--build-cmd", default=DEFAULT_BUILD_CMD, help="run once before any run; '' to skip")
    p.add_argument("--datasets", default=os.environ.get("DLKIT_DATASETS", "/work/shared/datasets"),
                   help="folder holding mnist/*.gz, given to both sides as DLKIT_DATASETS")
    p.add_argument("--dry-run", action="store_true", help="list the runs that would run, run nothing")
    p.add_argument("--table-only", action="store_true", help="only rebuild the table from the results file")
    args = p.parse_args(argv)
    if args.models == ["all"]:
        args.models = list(MODELS)
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; there are: {', '.join(MODELS)}")
    if args.seeds < 2:
        p.error("--seeds must be at least 2 (the Welch interval needs 2 per side; the report asks for 5)")
    if args.slow_seeds is not None and args.slow_seeds < 3:
        p.error("--slow-seeds must be at least 3")
    if args.epochs is not None and args.epochs < 1:
        p.error("--epochs must be at least 1")
    args.sides = [s for s in SIDES if s in args.sides]
    return args


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    log = sys.stderr
    command = "python3 benchmarks/reproduce.py " + shlex.join(argv)
    records, bad = read_results(args.results)
    if bad:
        print(f"[reproduce.py] {bad} unreadable line(s) in {args.results} ignored", file=log)
    todo = [] if args.table_only else pending(plan(args), records, args)
    test_setting = args.epochs is not None or args.train_samples is not None

    if args.dry_run:
        print(f"[reproduce.py] {len(todo)} run(s) to do, {len(records)} record(s) already in {args.results}",
              file=log)
        for r in todo:
            print(f"{r['model']} {r['side']} seed {r['seed']} epochs {r['epochs']}"
                  + (" (test setting)" if test_setting else ""))
        return 0

    failures = []
    if todo:
        env = {**os.environ, "DLKIT_DATASETS": args.datasets}
        if not (Path(args.datasets) / "mnist").is_dir():
            print(f"reproduce.py: {args.datasets}/mnist does not exist; give --datasets", file=log)
            return 2
        if "keras" in args.sides and "{python}" in args.keras_cmd and not Path(args.python).exists():
            print(f"reproduce.py: {args.python} does not exist; run `bash benchmarks/setup.sh` first", file=log)
            return 2
        if "dlkit" in args.sides and args.build_cmd.strip():
            print(f"[reproduce.py] building once: {args.build_cmd}", file=log, flush=True)
            if subprocess.run(shlex.split(args.build_cmd), cwd=REPO_ROOT).returncode != 0:
                print("reproduce.py: the build failed; nothing was run", file=log)
                return 2
        commit, dirty = git_commit()
        extra = f" --train-samples {args.train_samples}" if args.train_samples else ""
        templates = {"keras": args.keras_cmd + extra, "dlkit": args.dlkit_cmd + extra}
        for i, r in enumerate(todo, 1):
            print(f"[reproduce.py] run {i}/{len(todo)}: {r['model']} {r['side']} seed {r['seed']}", file=log)
            fields = {"python": shlex.quote(args.python), "epochs": r["epochs"], "seed": r["seed"],
                      "threads": args.threads}
            try:
                result = run.run_one(templates[r["side"]], r["side"], r["model"], fields, log, env)
            except run.RunError as e:
                print(f"[reproduce.py] FAILED: {e}", file=log, flush=True)
                failures.append(f"{r['side']} {r['model']} seed {r['seed']}: {str(e).splitlines()[0]}")
                continue
            record = {
                **result,
                "side": r["side"], "seed": r["seed"], "epochs": r["epochs"],
                "tutorial_epochs": TUTORIALS[r["model"]][0], "full": not test_setting,
                "commit": commit, "dirty": dirty,
                "recorded": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "command": templates[r["side"]].format(model=r["model"], **fields),
            }
            append_record(args.results, record)
            records.append(record)

    text = build_table(records, args.models, command)
    if failures:
        text += "\nFailed runs (not recorded; rerun the command to retry them):\n" + "".join(
            f"- {f}\n" for f in failures)
    print(text, end="")
    if args.out:
        run.write_atomically(args.out, text)
        print(f"[reproduce.py] table written to {args.out}", file=log)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
