"""A stand-in for keras_models.py / the dlkit benchmark in reproduce.py's tests: prints a
result line whose test accuracy is `--accuracy` plus `--step` × seed, and counts its calls.

    python fake_seeded.py --impl dlkit --model 002-mlp --epochs 10 --seed 3 --accuracy 0.98
"""

import argparse
import json
import os
import sys

p = argparse.ArgumentParser()
p.add_argument("--impl", required=True)
p.add_argument("--model", required=True)
p.add_argument("--epochs", type=int, required=True)
p.add_argument("--seed", type=int, required=True)
p.add_argument("--accuracy", type=float, default=0.98)
p.add_argument("--step", type=float, default=0.0001, help="accuracy added per seed")
p.add_argument("--train-samples", type=int, default=60000)
p.add_argument("--fail-seed", type=int, help="exit with status 3 for this seed")
p.add_argument("--calls", help="append one line per call to this file")
args = p.parse_args()

if args.calls:
    with open(args.calls, "a") as f:
        f.write(f"{args.impl} {args.model} {args.seed} {args.epochs}\n")
print("fake progress line", file=sys.stderr)
if args.seed == args.fail_seed:
    sys.exit(3)
print(json.dumps({
    "impl": args.impl,
    "model": args.model,
    "epochs": args.epochs,
    "batch_size": 200,
    "train_samples": args.train_samples,
    "seconds_per_epoch": [1.0] * args.epochs,
    "samples_per_second": args.train_samples / 1.0,
    "test_accuracy": args.accuracy + args.step * args.seed,
    "datasets": os.environ.get("DLKIT_DATASETS"),
}))
