"""Tests of benchmarks/run.py with fake benchmark commands (stdlib unittest):

    python3 -m unittest discover -s benchmarks/tests
"""

import contextlib
import io
import json
import re
import shlex
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import run  # noqa: E402

FAKE = f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'fake_impl.py'))}"
DASH = "–"


def fake(impl, seconds, extra=""):
    return f"{FAKE} --impl {impl} --model {{model}} --epochs {{epochs}} --seconds {seconds} {extra}"


def three_sides(keras="", pytorch="", dlkit=""):
    """--*-cmd options for fake Keras (6 s/epoch), PyTorch (4 s) and dlkit (2 s) runs."""
    return [
        "--keras-cmd", fake("keras", 6.0, keras),
        "--pytorch-cmd", fake("pytorch", 4.0, pytorch),
        "--dlkit-cmd", fake("dlkit", 2.0, dlkit),
    ]


class RunnerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        (self.dir / "data" / "mnist").mkdir(parents=True)

    def tearDown(self):
        self.tmp.cleanup()

    def main(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = run.main([
                "--build-cmd", "", "--results-dir", str(self.dir / "results"),
                "--datasets", str(self.dir / "data"), *argv,
            ])
        return status, out.getvalue(), err.getvalue()

    def table(self, text, name):
        """The header and rows of the "Training" or "Inference" table, as lists of cells."""
        part = text.split("\nInference")[0] if name == "Training" else text.split("\nInference")[1]
        lines = [line for line in part.splitlines() if line.startswith("| ")]
        return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]

    def row(self, text, name, model):
        header, *rows = self.table(text, name)
        found = [r for r in rows if r[0] == model]
        self.assertEqual(len(found), 1, text)
        return dict(zip(header, found[0]))

    def order(self, err):
        return re.findall(r"^\[run\.py\] (keras|pytorch|dlkit) (\S+): .*--impl", err, re.M)

    def results(self):
        return [json.loads(l) for f in (self.dir / "results").glob("*.jsonl") for l in f.read_text().splitlines()]

    def test_round_order_rotates(self):
        sides = ["keras", "pytorch", "dlkit"]
        self.assertEqual([run.round_order(sides, r) for r in (1, 2, 3, 4)], [
            ["keras", "pytorch", "dlkit"],
            ["pytorch", "dlkit", "keras"],
            ["dlkit", "keras", "pytorch"],
            ["keras", "pytorch", "dlkit"],
        ])
        self.assertEqual(run.round_order(["keras", "dlkit"], 2), ["dlkit", "keras"])

    def test_three_sides_rotate_and_tabulate(self):
        status, out, err = self.main(
            "--models", "002-simple-cnn", "003-cnn", "--epochs", "2", "--rounds", "3",
            *three_sides("--eval-seconds 1.5", "--eval-seconds 1.0", "--accuracy 0.99 --eval-seconds 0.5"),
            "--out", str(self.dir / "table.md"),
        )
        self.assertEqual(status, 0, err)
        k, p, d = "keras", "pytorch", "dlkit"
        rounds = [k, p, d] + [p, d, k] + [d, k, p]
        self.assertEqual(self.order(err), [(s, "002-simple-cnn") for s in rounds] + [(s, "003-cnn") for s in rounds])
        row = self.row(out, "Training", "002-simple-cnn")
        self.assertEqual(row, {
            "model": "002-simple-cnn", "batch": "200", "epochs": "2",
            "Keras s/epoch": "6.00", "PyTorch s/epoch": "4.00", "dlkit s/epoch": "2.00",
            "Keras/dlkit": "3.00", "PyTorch/dlkit": "2.00",
            "Keras/dlkit per round min / median / max (n)": "3.00 / 3.00 / 3.00 (3)",
            "PyTorch/dlkit per round min / median / max (n)": "2.00 / 2.00 / 2.00 (3)",
            "Keras samples/s": "10000", "PyTorch samples/s": "15000", "dlkit samples/s": "30000",
            "Keras accuracy": "0.9800", "PyTorch accuracy": "0.9800", "dlkit accuracy": "0.9900",
            "GFLOP/epoch": "60.0", "dlkit GFLOP/s": "30", "GFLOP/s for 2× the fastest other": "30",
            "conv GFLOP/s (dlkit)": "conv2d 40.0, conv2d_1 20.0",
        })
        row = self.row(out, "Inference", "003-cnn")
        self.assertEqual(row, {
            "model": "003-cnn",
            "Keras evaluate s": "1.50", "PyTorch evaluate s": "1.00", "dlkit evaluate s": "0.50",
            "Keras/dlkit": "3.00", "PyTorch/dlkit": "2.00",
            "Keras/dlkit per round min / median / max (n)": "3.00 / 3.00 / 3.00 (3)",
            "PyTorch/dlkit per round min / median / max (n)": "2.00 / 2.00 / 2.00 (3)",
            "Keras samples/s": "6667", "PyTorch samples/s": "10000", "dlkit samples/s": "20000",
        })
        self.assertIn("(K P D, P D K, D K P, ...)", out)
        self.assertEqual((self.dir / "table.md").read_text().strip(), out.strip())
        lines = self.results()
        self.assertEqual(len(lines), 18)
        self.assertEqual([l["impl"] for l in lines[:9]], rounds)
        self.assertEqual([l["round"] for l in lines[:9]], [1, 1, 1, 2, 2, 2, 3, 3, 3])
        self.assertEqual([l["position"] for l in lines[:6]], [0, 1, 2, 0, 1, 2])
        self.assertEqual({l["datasets"] for l in lines}, {str(self.dir / "data")})

    def test_two_sides_alternate_without_pytorch_columns(self):
        for choice in (["--sides", "keras", "dlkit"], ["--skip-pytorch"]):
            status, out, err = self.main("--models", "004-dnn", "--rounds", "2", *three_sides(), *choice)
            self.assertEqual(status, 0, err)
            self.assertEqual(self.order(err), [("keras", "004-dnn"), ("dlkit", "004-dnn")] * 1
                             + [("dlkit", "004-dnn"), ("keras", "004-dnn")])
            row = self.row(out, "Training", "004-dnn")
            self.assertNotIn("PyTorch s/epoch", row)
            self.assertEqual((row["Keras/dlkit"], row["Keras/dlkit per round min / median / max (n)"]),
                             ("3.00", "3.00 / 3.00 / 3.00 (2)"))
            # 60 GFLOP in dlkit's 2 s, and in half of Keras' 6 s for 2×.
            self.assertEqual((row["dlkit GFLOP/s"], row["GFLOP/s for 2× the fastest other"]), ("30", "20"))

    def test_one_side_has_no_ratios(self):
        status, out, err = self.main("--models", "004-dnn", "--rounds", "1", "--sides", "pytorch", *three_sides())
        self.assertEqual(status, 0, err)
        self.assertEqual(self.order(err), [("pytorch", "004-dnn")])
        row = self.row(out, "Training", "004-dnn")
        self.assertEqual(row["PyTorch s/epoch"], "4.00")
        self.assertFalse([title for title in row if "/" in title and "/s" not in title and "/epoch" not in title])
        self.assertIn("PyTorch only", out)

    def test_results_without_evaluate_seconds_have_no_inference_table(self):
        # As the commands of before evaluate_seconds print them.
        status, out, err = self.main("--models", "004-dnn", "--rounds", "1", *three_sides())
        self.assertEqual(status, 0, err)
        self.assertIn("no inference table", out)
        self.assertEqual(self.row(out, "Training", "004-dnn")["PyTorch/dlkit"], "2.00")

    def test_missing_evaluate_on_one_side_is_a_dash(self):
        status, out, err = self.main("--models", "004-dnn", "--rounds", "1",
                                     *three_sides("", "--eval-seconds 1.0", "--eval-seconds 0.5"))
        self.assertEqual(status, 0, err)
        row = self.row(out, "Inference", "004-dnn")
        self.assertEqual([row["Keras evaluate s"], row["Keras/dlkit"], row["PyTorch/dlkit"]], [DASH, DASH, "2.00"])

    def test_a_failing_side_is_a_dash_and_the_rest_tabulated(self):
        status, out, err = self.main("--models", "004-dnn", "--rounds", "2", *three_sides(pytorch="--exit 3"))
        self.assertEqual(status, 1)
        row = self.row(out, "Training", "004-dnn")
        self.assertEqual([row["PyTorch s/epoch"], row["PyTorch/dlkit"], row["PyTorch samples/s"]], [DASH] * 3)
        self.assertEqual(row["PyTorch/dlkit per round min / median / max (n)"], DASH)
        self.assertEqual(row["Keras/dlkit per round min / median / max (n)"], "3.00 / 3.00 / 3.00 (2)")
        self.assertIn("pytorch 004-dnn round 1", out)
        self.assertIn("pytorch 004-dnn round 2", out)
        self.assertIn("exited with status 3", out)
        self.assertEqual(len(self.results()), 4)

    def test_a_failing_reference_leaves_no_ratio(self):
        status, out, err = self.main("--models", "004-dnn", "--rounds", "1", *three_sides(dlkit="--exit 1"))
        self.assertEqual(status, 1)
        row = self.row(out, "Training", "004-dnn")
        self.assertEqual([row["Keras s/epoch"], row["dlkit s/epoch"], row["Keras/dlkit"]], ["6.00", DASH, DASH])
        self.assertEqual(row["conv GFLOP/s (dlkit)"], DASH)

    def test_missing_datasets_folder_stops_before_any_run(self):
        status, out, err = self.main("--datasets", str(self.dir / "nowhere"), *three_sides())
        self.assertEqual(status, 2)
        self.assertIn("nowhere/mnist does not exist", err)
        self.assertFalse((self.dir / "results").exists())

    def test_missing_venv_stops_before_any_run(self):
        # The default PyTorch command runs the venv's Python.
        status, out, err = self.main("--python", str(self.dir / "no-python"), "--keras-cmd", fake("keras", 1.0),
                                     "--dlkit-cmd", fake("dlkit", 1.0))
        self.assertEqual(status, 2)
        self.assertIn("setup.sh --torch", err)
        self.assertFalse((self.dir / "results").exists())

    def test_wrong_impl_or_garbage_is_rejected(self):
        with self.assertRaisesRegex(run.RunError, "expected 'dlkit'"):
            run.parse_result(json.dumps({**self.valid(), "impl": "keras"}), "dlkit", "003-cnn", "cmd")
        with self.assertRaisesRegex(run.RunError, "not JSON"):
            run.parse_result("progress\nnot json\n", "dlkit", "003-cnn", "cmd")
        with self.assertRaisesRegex(run.RunError, "'test_accuracy'"):
            bad = self.valid()
            del bad["test_accuracy"]
            run.parse_result(json.dumps(bad), "dlkit", "003-cnn", "cmd")
        with self.assertRaisesRegex(run.RunError, "'evaluate_seconds'"):
            run.parse_result(json.dumps({**self.valid(), "evaluate_seconds": "fast"}), "dlkit", "003-cnn", "cmd")
        self.assertEqual(run.parse_result("Epoch 1/1\n" + json.dumps(self.valid()) + "\n\n", "dlkit", "003-cnn", "cmd")["epochs"], 1)

    def test_per_round_ratios_follow_drift(self):
        def result(impl, seconds, evaluate=None):
            r = {**self.valid(), "impl": impl, "samples_per_second": 60000 / seconds}
            return r if evaluate is None else {**r, "evaluate_seconds": evaluate}

        rounds = [
            {"keras": result("keras", 4.0, 2.0), "pytorch": result("pytorch", 2.0), "dlkit": result("dlkit", 2.0, 1.0)},
            {"keras": result("keras", 9.0, 3.0), "pytorch": None, "dlkit": result("dlkit", 3.0, 1.0)},
            {"keras": result("keras", 5.0), "pytorch": result("pytorch", 10.0), "dlkit": result("dlkit", 5.0)},
        ]
        row = run.summarize("003-cnn", rounds, run.SIDES)
        self.assertEqual(row["keras_rounds"], "1.00 / 2.00 / 3.00 (3)")
        self.assertEqual((row["keras_s"], row["dlkit_s"], row["keras_ratio"]), ("5.00", "3.00", "1.67"))
        self.assertEqual((row["pytorch_s"], row["pytorch_ratio"], row["pytorch_rounds"]),
                         ("6.00", "2.00", "1.00 / 1.50 / 2.00 (2)"))
        # Rounds 1 and 2 timed evaluate on both sides (a results file may mix old and new lines).
        self.assertEqual((row["keras_eval_s"], row["keras_eval_ratio"], row["keras_eval_rounds"]),
                         ("2.50", "2.50", "2.00 / 2.50 / 3.00 (2)"))
        self.assertEqual((row["pytorch_eval_s"], row["pytorch_eval_ratio"]), (DASH, DASH))

    def valid(self):
        return {
            "impl": "dlkit", "model": "003-cnn", "epochs": 1, "batch_size": 200, "train_samples": 60000,
            "seconds_per_epoch": [2.0], "samples_per_second": 30000.0, "test_accuracy": 0.98,
        }


if __name__ == "__main__":
    unittest.main()
