"""Tests of benchmarks/reproduce.py with fake commands (stdlib unittest):

    python3 -m unittest discover -s benchmarks/tests
"""

import contextlib
import io
import json
import shlex
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import reproduce  # noqa: E402
import run  # noqa: E402

FAKE = f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'fake_seeded.py'))}"


def fake(impl, accuracy, extra=""):
    return (f"{FAKE} --impl {impl} --model {{model}} --epochs {{epochs}} --seed {{seed}} "
            f"--accuracy {accuracy} {extra}")


def rows(text, heading):
    """The data rows of the table after `heading`, as lists of cells."""
    part = text.split(heading, 1)[1].split("\n\n", 2)[1]
    lines = [line for line in part.splitlines() if line.startswith("| ")][1:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


class StudentT(unittest.TestCase):
    def test_known_quantiles(self):
        # Standard t tables.
        for p, df, t in [(0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 10, 2.228),
                         (0.975, 30, 2.042), (0.975, 120, 1.980), (0.995, 5, 4.032), (0.95, 8, 1.860)]:
            self.assertAlmostEqual(reproduce.t_quantile(p, df), t, places=3, msg=f"t({p}, {df})")

    def test_large_df_tends_to_normal(self):
        self.assertAlmostEqual(reproduce.t_quantile(0.975, 1e7), 1.95996, places=4)

    def test_symmetry_and_cdf_inverse(self):
        self.assertAlmostEqual(reproduce.t_quantile(0.025, 7), -reproduce.t_quantile(0.975, 7), places=10)
        for df in (1.5, 3.23, 9.0, 57.4):
            self.assertAlmostEqual(reproduce.t_cdf(reproduce.t_quantile(0.9, df), df), 0.9, places=10)

    def test_fractional_df_lies_between_neighbours(self):
        t = reproduce.t_quantile(0.975, 4.5)
        self.assertLess(reproduce.t_quantile(0.975, 5), t)
        self.assertLess(t, reproduce.t_quantile(0.975, 4))


class Welch(unittest.TestCase):
    def test_hand_computed_example(self):
        # a = 1 2 3, b = 4 5 6: variances 1, se² = 1/3 + 1/3, df = (2/3)² / (2 · (1/3)² / 2) = 4,
        # half width = t(0.975, 4) · sqrt(2/3) = 2.7764 · 0.81650 = 2.2670.
        diff, low, high, df = reproduce.welch_interval([1, 2, 3], [4, 5, 6])
        self.assertEqual(diff, -3)
        self.assertAlmostEqual(df, 4.0, places=12)
        self.assertAlmostEqual(low, -5.2670, places=3)
        self.assertAlmostEqual(high, -0.7330, places=3)

    def test_unequal_variances(self):
        # a = 1 2 3 4 (var 5/3), b = 2 4 6 (var 4): se² = 5/12 + 4/3 = 1.75,
        # df = 1.75² / ((5/12)²/3 + (4/3)²/2) = 3.2347.
        diff, low, high, df = reproduce.welch_interval([1, 2, 3, 4], [2, 4, 6])
        self.assertAlmostEqual(df, 3.2347, places=4)
        half = reproduce.t_quantile(0.975, df) * 1.75 ** 0.5
        self.assertAlmostEqual(high - low, 2 * half, places=9)
        self.assertAlmostEqual(diff, -1.5)

    def test_no_variance(self):
        self.assertEqual(reproduce.welch_interval([2, 2], [1, 1]), (1, 1, 1, None))

    def test_needs_two_per_side(self):
        with self.assertRaises(ValueError):
            reproduce.welch_interval([1], [1, 2])


class Verdicts(unittest.TestCase):
    def test_accuracy(self):
        self.assertEqual(reproduce.verdict("accuracy", 0.1, 0.3), "better")
        self.assertEqual(reproduce.verdict("accuracy", -0.3, -0.1), "worse")
        self.assertEqual(reproduce.verdict("accuracy", -0.1, 0.3), "same as Keras")

    def test_error_lower_is_better(self):
        self.assertEqual(reproduce.verdict("error", -0.3, -0.1), "better")
        self.assertEqual(reproduce.verdict("error", 0.1, 0.3), "worse")
        self.assertEqual(reproduce.verdict("error", -0.1, 0.1), "same as Keras")

    def test_reaches_published_to_the_test_image(self):
        self.assertTrue(reproduce.reaches(0.9825999784469604, 1 - 0.0174))  # float32 of 98.26 %
        self.assertFalse(reproduce.reaches(0.9825, 1 - 0.0174))
        self.assertTrue(reproduce.reaches(0.99249998, 0.9925))


def record(model, side, seed, accuracy, epochs=None, **extra):
    epochs = epochs if epochs is not None else reproduce.TUTORIALS[model][0]
    return {"model": model, "side": side, "impl": side, "seed": seed, "epochs": epochs,
            "train_samples": 60000, "test_accuracy": accuracy, "commit": "abc1234", "dirty": False, **extra}


class Table(unittest.TestCase):
    def test_row_in_error_for_002_and_verdict(self):
        recs = [record("002-mlp", "keras", s, a) for s, a in [(1, 0.980), (2, 0.981), (3, 0.982)]]
        recs += [record("002-mlp", "dlkit", s, a) for s, a in [(1, 0.984), (2, 0.985), (3, 0.986)]]
        text = reproduce.build_table(recs, ["002-mlp"], command="cmd", now="2026-12-01 00:00")
        [row] = rows(text, "Full runs")
        self.assertEqual(row[:4], ["002-mlp", "10", "error", "1.74"])
        self.assertEqual(row[4], "1.90 ± 0.10 (3)")
        self.assertEqual(row[5], "1.50 ± 0.10 (3)")
        # error difference −0.40 pp, half width t(0.975, 4) · sqrt(2 · 0.01 / 3) = 0.2267
        self.assertEqual(row[6], "-0.40 [-0.63, -0.17]")
        self.assertEqual(row[7], "better")
        self.assertEqual(row[8], "3/3")  # every dlkit error (1.4–1.6 %) is at most 1.74 %
        self.assertIn("Command: `cmd`", text)
        self.assertIn("abc1234", text)
        self.assertNotIn("gaps", text)  # every notebook model is in the sweep

    def test_accuracy_model_same_and_reach_fraction(self):
        recs = [record("003-cnn", "keras", s, a) for s, a in [(1, 0.990), (2, 0.993)]]
        recs += [record("003-cnn", "dlkit", s, a) for s, a in [(1, 0.991), (2, 0.9925)]]
        [row] = rows(reproduce.build_table(recs, ["003-cnn"]), "Full runs")
        self.assertEqual(row[2:4], ["accuracy", "99.16"])
        self.assertEqual(row[7], "same as Keras")
        self.assertEqual(row[8], "1/2")

    def test_no_published_figure(self):
        recs = [record("004-dnn", side, s, 0.97 + 0.001 * s) for side in ("keras", "dlkit") for s in (1, 2)]
        [row] = rows(reproduce.build_table(recs, ["004-dnn"]), "Full runs")
        self.assertEqual(row[3], "none quoted")
        self.assertEqual(row[8], "n/a")

    def test_test_runs_are_never_mixed_with_full_runs(self):
        recs = [record("002-mlp", side, s, 0.98) for side in ("keras", "dlkit") for s in (1, 2)]
        recs += [record("002-mlp", side, s, 0.90, epochs=1) for side in ("keras", "dlkit") for s in (1, 2, 3)]
        text = reproduce.build_table(recs, ["002-mlp"])
        [full] = rows(text, "Full runs")
        [test] = rows(text, "Test runs")
        self.assertEqual(full[4], "2.00 ± 0.00 (2)")
        self.assertEqual((test[1], test[4]), ("1", "10.00 ± 0.00 (3)"))

    def test_one_seed_gives_no_interval(self):
        recs = [record("002-mlp", "keras", 1, 0.98), record("002-mlp", "dlkit", 1, 0.98)]
        [row] = rows(reproduce.build_table(recs, ["002-mlp"]), "Full runs")
        self.assertEqual(row[6], "–")
        self.assertTrue(row[7].startswith("–"))


class Runner(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        (self.dir / "data" / "mnist").mkdir(parents=True)
        self.results = self.dir / "results.jsonl"
        self.calls = self.dir / "calls.txt"

    def tearDown(self):
        self.tmp.cleanup()

    def main(self, *argv, keras_extra="", dlkit_extra=""):
        out, err = io.StringIO(), io.StringIO()
        calls = f"--calls {shlex.quote(str(self.calls))}"
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = reproduce.main([
                "--build-cmd", "", "--results", str(self.results), "--datasets", str(self.dir / "data"),
                "--keras-cmd", fake("keras", 0.980, f"{calls} {keras_extra}"),
                "--dlkit-cmd", fake("dlkit", 0.982, f"{calls} {dlkit_extra}"),
                *argv,
            ])
        return status, out.getvalue(), err.getvalue()

    def calls_made(self):
        return self.calls.read_text().splitlines() if self.calls.exists() else []

    def lines(self):
        return [json.loads(line) for line in self.results.read_text().splitlines()]

    def test_full_epochs_alternating_sides_and_records(self):
        status, out, _ = self.main("--models", "003-cnn", "--seeds", "3", "--out", str(self.dir / "t.md"))
        self.assertEqual(status, 0)
        self.assertEqual(self.calls_made(), [
            "keras 003-cnn 1 8", "dlkit 003-cnn 1 8",
            "dlkit 003-cnn 2 8", "keras 003-cnn 2 8",
            "keras 003-cnn 3 8", "dlkit 003-cnn 3 8",
        ])
        recs = self.lines()
        self.assertEqual(len(recs), 6)
        for r in recs:
            self.assertTrue(r["full"])
            self.assertEqual((r["epochs"], r["tutorial_epochs"]), (8, 8))
            self.assertIn("commit", r)
            self.assertIn("recorded", r)
            self.assertEqual(r["datasets"], str(self.dir / "data"))
        self.assertEqual((self.dir / "t.md").read_text(), out)
        [row] = rows(out, "Full runs")
        self.assertEqual(row[4], "98.02 ± 0.01 (3)")
        self.assertEqual(row[5], "98.22 ± 0.01 (3)")
        self.assertEqual(row[7], "better")

    def test_resume_skips_runs_already_recorded(self):
        self.main("--models", "002-mlp", "--seeds", "2")
        self.assertEqual(len(self.calls_made()), 4)
        self.calls.unlink()
        status, _, _ = self.main("--models", "002-mlp", "--seeds", "3")
        self.assertEqual(status, 0)
        self.assertEqual(self.calls_made(), ["keras 002-mlp 3 10", "dlkit 002-mlp 3 10"])
        self.assertEqual(len(self.lines()), 6)
        self.calls.unlink()
        self.main("--models", "002-mlp", "--seeds", "3")
        self.assertEqual(self.calls_made(), [])

    def test_epochs_override_is_a_separate_setting(self):
        self.main("--models", "002-mlp", "--seeds", "2", "--epochs", "1")
        self.assertTrue(all(not r["full"] and r["epochs"] == 1 for r in self.lines()))
        self.calls.unlink()
        _, out, _ = self.main("--models", "002-mlp", "--seeds", "2")  # the full runs are still to do
        self.assertEqual(len(self.calls_made()), 4)
        self.assertEqual(len(rows(out, "Full runs")), 1)
        self.assertEqual(len(rows(out, "Test runs")), 1)

    def test_dry_run_and_table_only_run_nothing(self):
        self.main("--models", "002-mlp", "--seeds", "2")
        self.calls.unlink()
        status, out, _ = self.main("--models", "002-mlp", "004-dnn", "--seeds", "2", "--dry-run")
        self.assertEqual(status, 0)
        self.assertEqual(out.splitlines(), [
            "004-dnn keras seed 1 epochs 5", "004-dnn dlkit seed 1 epochs 5",
            "004-dnn dlkit seed 2 epochs 5", "004-dnn keras seed 2 epochs 5",
        ])
        status, out, _ = self.main("--models", "002-mlp", "004-dnn", "--table-only")
        self.assertEqual(status, 0)
        self.assertEqual(self.calls_made(), [])
        self.assertEqual(len(rows(out, "Full runs")), 1)
        self.assertIn("No full runs yet for: 004-dnn", out)

    def test_slow_models_get_slow_seeds(self):
        _, out, _ = self.main("--models", "001-cnn", "002-mlp", "--seeds", "5", "--slow-seeds", "3", "--dry-run")
        self.assertEqual(sum(line.startswith("001-cnn") for line in out.splitlines()), 6)
        self.assertEqual(sum(line.startswith("002-mlp") for line in out.splitlines()), 10)

    def test_failed_run_is_not_recorded_and_retried_later(self):
        status, out, _ = self.main("--models", "002-mlp", "--seeds", "2", dlkit_extra="--fail-seed 2")
        self.assertEqual(status, 1)
        self.assertIn("Failed runs", out)
        self.assertEqual(sorted((r["side"], r["seed"]) for r in self.lines()),
                         [("dlkit", 1), ("keras", 1), ("keras", 2)])
        self.calls.unlink()
        status, _, _ = self.main("--models", "002-mlp", "--seeds", "2")
        self.assertEqual(status, 0)
        self.assertEqual(self.calls_made(), ["dlkit 002-mlp 2 10"])

    def test_cut_line_is_ignored(self):
        self.main("--models", "002-mlp", "--seeds", "2")
        with open(self.results, "a") as f:
            f.write('{"model": "002-mlp", "side": "dl')  # a write cut short by a kill
        self.calls.unlink()
        status, _, err = self.main("--models", "002-mlp", "--seeds", "2")
        self.assertEqual(status, 0)
        self.assertEqual(self.calls_made(), [])
        self.assertIn("1 unreadable line", err)

    def test_branching_model_is_swept_as_a_slow_model(self):
        self.assertIn("002-branching-cnn", reproduce.parse_args(["--models", "all"]).models)
        _, out, _ = self.main("--models", "all", "--seeds", "5", "--slow-seeds", "3", "--dry-run")
        lines = out.splitlines()
        self.assertEqual(sum(line.startswith("002-branching-cnn ") for line in lines), 6)
        self.assertIn("002-branching-cnn keras seed 1 epochs 10", lines)
        self.assertEqual(sum(line.startswith("002-larger-cnn ") for line in lines), 10)

    def test_branching_model_row_is_in_error_with_no_published_figure(self):
        recs = [record("002-branching-cnn", side, s, 0.992 + 0.001 * s)
                for side in ("keras", "dlkit") for s in (1, 2)]
        [row] = rows(reproduce.build_table(recs, ["002-branching-cnn"]), "Full runs")
        self.assertEqual(row[:4], ["002-branching-cnn", "10", "error", "none quoted"])
        self.assertEqual(row[8], "n/a")

    def test_unknown_model_is_refused(self):
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
            reproduce.parse_args(["--models", "002-no-such-cnn"])
        self.assertIn("002-branching-cnn", err.getvalue())  # the list of models


class SameAsTheRecipes(unittest.TestCase):
    """reproduce.TUTORIALS copies epochs and published figures; they must match zoo.rs and the references."""

    def test_matches_zoo_rs(self):
        import re
        text = (HERE.parents[1] / "crates" / "dlkit" / "src" / "tutorials" / "zoo.rs").read_text()
        found = {}
        for m in re.finditer(r'id: "([^"]+)",.*?epochs: (\d+),\s*published_accuracy: (None|Some\(([^)]*)\))',
                             text, re.S):
            published = None
            if m.group(4) is not None:
                expr = m.group(4).replace(" ", "")
                published = 1.0 - float(expr[4:]) if expr.startswith("1.0-") else float(expr)
            found[m.group(1)] = (int(m.group(2)), published)
        self.assertEqual(sorted(found), sorted(reproduce.TUTORIALS))
        # run.py and reproduce.py list the models in the zoo's order.
        self.assertEqual(list(reproduce.TUTORIALS), list(found))
        self.assertEqual(run.MODELS, list(found))
        for model, (epochs, _, published) in reproduce.TUTORIALS.items():
            self.assertEqual(found[model][0], epochs, model)
            if published is None:
                self.assertIsNone(found[model][1], model)
            else:
                self.assertAlmostEqual(found[model][1], published, places=12, msg=model)

    def test_matches_keras_reference_epochs(self):
        import re
        text = (HERE.parent / "mnist_tutorials.py").read_text()
        found = {m.group(1): int(m.group(2))
                 for m in re.finditer(r'Recipe\("([^"]+)",[^)]*?, (\d+)\),', text)}
        self.assertEqual(found, {m: e for m, (e, _, _) in reproduce.TUTORIALS.items()})


if __name__ == "__main__":
    unittest.main()
