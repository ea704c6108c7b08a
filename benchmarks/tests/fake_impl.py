"""A stand-in benchmark command for testing run.py: prints a progress line and
then one result line in the benchmark schema, with the timing it is told to claim.

    python fake_impl.py --impl dlkit --model 003-cnn --epochs 2 --seconds 1.5
"""

import argparse
import json
import os
import sys

p = argparse.ArgumentParser()
p.add_argument("--impl", required=True)
p.add_argument("--model", required=True)
p.add_argument("--epochs", type=int, required=True)
p.add_argument("--seconds", type=float, required=True, help="claimed seconds of every epoch")
p.add_argument("--accuracy", type=float, default=0.98)
p.add_argument("--train-samples", type=int, default=60000)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--eval-seconds", type=float, help="claimed evaluate time (left out of the result if not given)")
p.add_argument("--exit", type=int, default=0, help="exit status to end with")
p.add_argument("--garbage", action="store_true", help="print a non-JSON last line")
args = p.parse_args()

print(f"Epoch 1/{args.epochs} - fake progress line")
print("fake stderr line", file=sys.stderr)
result = {
    "impl": args.impl,
    "model": args.model,
    "epochs": args.epochs,
    "batch_size": 200,
    "train_samples": args.train_samples,
    "seconds_per_epoch": [args.seconds] * args.epochs,
    "samples_per_second": args.train_samples / args.seconds,
    "test_accuracy": args.accuracy,
    "datasets": os.environ.get("DLKIT_DATASETS"),  # lets the test see what the runner passed
}
if args.eval_seconds is not None:
    result["test_samples"] = 10000
    result["evaluate_seconds"] = args.eval_seconds
if args.impl == "dlkit":
    result["epoch_gflop"] = 60.0
    result["conv_gflops"] = [{"layer": "conv2d", "gflops": 40.0}, {"layer": "conv2d_1", "gflops": 20.0}]
print("not json" if args.garbage else json.dumps(result))
sys.exit(args.exit)
