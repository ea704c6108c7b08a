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


def fake(impl, seconds, extra=""):
    return f"{FAKE} --impl {impl} --model {{model}} --epochs {{epochs}} --seconds {seconds} {extra}"


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

    def table_row(self, text, model):
        rows = [line for line in text.splitlines() if line.startswith(f"| {model} |")]
        self.assertEqual(len(rows), 1, text)
        return [cell.strip() for cell in rows[0].strip("|").split("|")]

    def test_alternates_and_tabulates_medians(self):
        status, out, err = self.main(
            "--models", "002-simple-cnn", "003-cnn", "--epochs", "2", "--rounds", "3",
            "--keras-cmd", fake("keras", 6.0), "--dlkit-cmd", fake("dlkit", 2.0, "--accuracy 0.99"),
            "--out", str(self.dir / "table.md"),
        )
        self.assertEqual(status, 0, err)
        # K D K D K D for the first model, then the second model.
        order = re.findall(r"^\[run\.py\] (keras|dlkit) (\S+): .*--impl", err, re.M)
        self.assertEqual(order, [("keras", "002-simple-cnn"), ("dlkit", "002-simple-cnn")] * 3
                         + [("keras", "003-cnn"), ("dlkit", "003-cnn")] * 3)
        row = self.table_row(out, "002-simple-cnn")
        self.assertEqual(row[1:7], ["200", "2", "6.00", "2.00", "3.00", "3.00 / 3.00 / 3.00 (3)"])
        self.assertEqual(row[7:11], ["10000", "30000", "0.9800", "0.9900"])
        self.assertEqual(row[11], "conv2d 40.0, conv2d_1 20.0")
        self.assertEqual((self.dir / "table.md").read_text().strip(), out.strip())
        lines = [json.loads(l) for f in (self.dir / "results").glob("*.jsonl") for l in f.read_text().splitlines()]
        self.assertEqual(len(lines), 12)
        self.assertEqual([l["impl"] for l in lines[:2]], ["keras", "dlkit"])
        self.assertEqual([l["round"] for l in lines[:6]], [1, 1, 2, 2, 3, 3])
        self.assertEqual({l["datasets"] for l in lines}, {str(self.dir / "data")})

    def test_missing_datasets_folder_stops_before_any_run(self):
        status, out, err = self.main("--datasets", str(self.dir / "nowhere"), "--keras-cmd", fake("keras", 1.0),
                                     "--dlkit-cmd", fake("dlkit", 1.0))
        self.assertEqual(status, 2)
        self.assertIn("nowhere/mnist does not exist", err)
        self.assertFalse((self.dir / "results").exists())

    def test_failed_runs_are_reported_and_the_rest_tabulated(self):
        status, out, err = self.main(
            "--models", "004-dnn", "--rounds", "2",
            "--keras-cmd", fake("keras", 3.0), "--dlkit-cmd", fake("dlkit", 1.0, "--exit 3"),
        )
        self.assertEqual(status, 1)
        row = self.table_row(out, "004-dnn")
        self.assertEqual(row[3:7], ["3.00", "–", "–", "–"])
        self.assertIn("dlkit 004-dnn round 1", out)
        self.assertIn("exited with status 3", out)

    def test_wrong_impl_or_garbage_is_rejected(self):
        with self.assertRaisesRegex(run.RunError, "expected 'dlkit'"):
            run.parse_result(json.dumps({**self.valid(), "impl": "keras"}), "dlkit", "003-cnn", "cmd")
        with self.assertRaisesRegex(run.RunError, "not JSON"):
            run.parse_result("progress\nnot json\n", "dlkit", "003-cnn", "cmd")
        with self.assertRaisesRegex(run.RunError, "'test_accuracy'"):
            bad = self.valid()
            del bad["test_accuracy"]
            run.parse_result(json.dumps(bad), "dlkit", "003-cnn", "cmd")
        self.assertEqual(run.parse_result("Epoch 1/1\n" + json.dumps(self.valid()) + "\n\n", "dlkit", "003-cnn", "cmd")["epochs"], 1)

    def test_per_pair_ratios_follow_drift(self):
        k = lambda s: {**self.valid(), "impl": "keras", "samples_per_second": 60000 / s}
        d = lambda s: {**self.valid(), "samples_per_second": 60000 / s}
        row = run.summarize("003-cnn", [(k(4.0), d(2.0)), (k(9.0), d(3.0)), (k(5.0), d(5.0))])
        self.assertEqual(row["pairs"], "1.00 / 2.00 / 3.00 (3)")
        self.assertEqual((row["keras_s"], row["dlkit_s"], row["ratio"]), ("5.00", "3.00", "1.67"))

    def valid(self):
        return {
            "impl": "dlkit", "model": "003-cnn", "epochs": 1, "batch_size": 200, "train_samples": 60000,
            "seconds_per_epoch": [2.0], "samples_per_second": 30000.0, "test_accuracy": 0.98,
        }


if __name__ == "__main__":
    unittest.main()
