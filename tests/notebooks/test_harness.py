"""Tests of the notebook harness itself.

* nbval really fails a notebook whose tagged output differs (the accuracy-floor
  convention), one whose cell errors, and one whose figure or table falls back
  to text: run on the fixtures in fixtures/failing/.
* The committed outputs of notebooks/ show every figure and table richly.
* A result bundle displayed by a notebook reaches the results table through the
  evcxr kernel (scripts/lib/nbtool.py), and malformed bundles are refused.
* Every notebook in notebooks/ follows the conventions the harness relies on.
* The set-up files (scripts, .ci/run, binder/) are well-formed.

The tests that start a kernel need the `rust` kernelspec (scripts/test installs it).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = HERE / "fixtures"
sys.path.insert(0, str(REPO / "scripts" / "lib"))
import nbchecks  # noqa: E402
import nbtool  # noqa: E402

NBVAL_TAGS = {"nbval-check-output", "nbval-ignore-output", "nbval-skip", "nbval-raises-exception"}
KNOWN_TAGS = NBVAL_TAGS | {nbtool.STDERR_OK_TAG, nbtool.PLAIN_OK_TAG}


def run_nbval(notebook: Path, smoke: bool) -> subprocess.CompletedProcess:
    """nbval on one notebook, with this suite's configuration, in a child pytest."""
    env = dict(os.environ, DLKIT_HARNESS_SELFTEST="1")
    if smoke:
        env["DLKIT_SMOKE"] = "1"
    else:
        env.pop("DLKIT_SMOKE", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(HERE / "pytest.ini"), "--rootdir", str(REPO),
         "-q", str(notebook)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=3600,
    )


def failed_cells(result: subprocess.CompletedProcess) -> list[str]:
    """The nbval items ("Cell N") of the FAILED lines, sorted; the messages after
    them may hold `::` themselves (`report::table`), so match the item name."""
    return sorted(m[1] for l in result.stdout.splitlines() if l.startswith("FAILED")
                  for m in [re.search(r"\.ipynb::(Cell \d+)", l)] if m)


def summary(result: subprocess.CompletedProcess) -> str:
    lines = [l for l in result.stdout.splitlines() if l.strip()]
    return lines[-1] if lines else ""


# --- nbval fails when it must ------------------------------------------------

def test_smoke_run_below_accuracy_floor_fails():
    notebook = FIXTURES / "failing" / "below_floor.ipynb"
    result = run_nbval(notebook, smoke=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "below the smoke run's floor of 90.00 %" in result.stdout, result.stdout
    assert "'argmax of fixed logits' reached a test accuracy of 75.00 %" in result.stdout
    # the result cell fails, the three cells before it pass
    assert re.search(r"\b1 failed, 3 passed\b", summary(result)), result.stdout
    failed = [l for l in result.stdout.splitlines() if l.startswith("FAILED")]
    assert len(failed) == 1 and "Cell 3" in failed[0], result.stdout


def test_full_run_of_the_same_notebook_passes():
    # The same fixture reaches its floor on the full data: the failure above is
    # the floor's doing, not the fixture's.
    notebook = FIXTURES / "failing" / "below_floor.ipynb"
    result = run_nbval(notebook, smoke=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b4 passed\b", summary(result)), result.stdout


def test_cell_errors_fail():
    # evcxr answers "ok" to the `?` error and the panic; conftest.py must fail them.
    notebook = FIXTURES / "failing" / "cell_errors.ipynb"
    result = run_nbval(notebook, smoke=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"\b3 failed, 3 passed\b", summary(result)), result.stdout
    failed = failed_cells(result)
    assert failed == ["Cell 2", "Cell 3", "Cell 4"], result.stdout
    assert "Shape mismatch" in result.stdout  # the `?` error
    assert "index out of bounds" in result.stdout  # the panic
    assert "cannot find value `undefined_name`" in result.stdout  # the compile error


def test_execute_refuses_a_notebook_that_fails_at_run_time(tmp_path, monkeypatch):
    # The maintainers' full runs (scripts/notebooks --execute) must stop at the
    # first cell that failed at run time and never write the notebook.
    monkeypatch.delenv("DLKIT_SMOKE", raising=False)
    notebook = FIXTURES / "failing" / "cell_errors.ipynb"
    assert nbtool.main(["execute", "--out", str(tmp_path), str(notebook)]) == 1
    assert not (tmp_path / notebook.name).exists()


def test_rich_output_falling_back_to_text_fails():
    # evcxr falls back to Debug text for the first cell that uses `?` and for a
    # last expression that moves stored variables; conftest.py must fail both,
    # and explain the compile error of the cell that then misses the variables.
    notebook = FIXTURES / "failing" / "rich_output_fallback.ipynb"
    result = run_nbval(notebook, smoke=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"\b2 failed, 3 passed\b", summary(result)), result.stdout
    failed = failed_cells(result)
    assert failed == ["Cell 3", "Cell 4"], result.stdout
    assert "Debug text of a dlkit `HtmlTable`" in result.stdout  # the moving expression
    assert "`left` was defined in Cell 2, but evcxr no longer has it" in result.stdout


def test_a_smoke_run_over_its_memory_budget_fails(monkeypatch):
    # The budget check of conftest.py, pointed at a fixture with a budget no kernel fits.
    monkeypatch.setenv("DLKIT_MEMORY_BUDGET_DIR", str(FIXTURES))
    monkeypatch.setenv("DLKIT_MEMORY_BUDGET_MB", "300")
    result = run_nbval(FIXTURES / "question_mark_figure.ipynb", smoke=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "memory over budget: the session's processes peaked at" in result.stdout, result.stdout
    assert "over the budget of 300 MB" in result.stdout, result.stdout
    assert "kernel " in result.stdout  # the share of each kind of process is named


def test_execute_refuses_a_figure_shown_as_text(tmp_path, monkeypatch):
    monkeypatch.delenv("DLKIT_SMOKE", raising=False)
    notebook = FIXTURES / "failing" / "rich_output_fallback.ipynb"
    assert nbtool.main(["execute", "--out", str(tmp_path), str(notebook)]) == 1
    assert not (tmp_path / notebook.name).exists()


def output(mime_text: dict, kind="execute_result"):
    return {"output_type": kind, "data": mime_text, "metadata": {}}


PNG = output({"image/png": "iVBORw0KGgo=", "text/plain": "Figure (460×466 pixels)"})
HTML = output({"text/html": "<table></table>", "text/plain": "┌─┐"})


TEXT = output({"text/plain": "(960, 420)"})


@pytest.mark.parametrize("outputs, committed, tags, problem", [
    # a figure or a table shown: fine, with or without committed outputs
    ([PNG], [PNG], [], None),
    ([HTML], [], [], None),
    # the Debug text of a dlkit display type: evcxr fell back, whatever was committed
    ([output({"text/plain": "Imshow { image: Gray {"})], [PNG], [], "Debug text of a dlkit `Imshow`"),
    ([output({"text/plain": "Ok(Summary { name: \"sequential\""})], [], [],
     "Debug text of a dlkit `Summary`"),
    ([output({"text/plain": "HtmlTable { headers: ["})], [], [], "Debug text of a dlkit `HtmlTable`"),
    ([output({"text/plain": "Comparison { tutorial: \"002\""})], [], [],
     "Debug text of a dlkit `Comparison`"),
    ([output({"text/plain": "Picture(photo.jpg: 300×360 RGB)"})], [], [], "dlkit `Picture`"),
    ([output({"text/plain": "the plot could not be drawn: no data"})], [], [], "plot was not drawn"),
    # the committed run showed a figure or a table, this one shows text or nothing
    ([], [PNG], [], "showed a figure (image/png) but this run shows nothing"),
    ([TEXT], [HTML], [], "showed a table (text/html) but this run shows ['text/plain']"),
    # text where text was committed, or nothing committed at all
    ([TEXT], [TEXT], [], None),
    ([TEXT], [], [], None),
    ([output({"text/plain": "Some(3)"})], [], [], None),
    # plain text on purpose
    ([output({"text/plain": "Imshow {"})], [PNG], [nbtool.PLAIN_OK_TAG], None),
])
def test_rich_output_detection(outputs, committed, tags, problem):
    found = nbtool.missing_rich_output(outputs, tags, committed)
    if problem is None:
        assert found is None, found
    else:
        assert found is not None and problem in found, found


def test_display_types_are_the_library_ones():
    # Every dlkit type with an evcxr_display method, and no other, is known to
    # the harness (its Debug text as a cell's result means evcxr fell back).
    found = set()
    for path in (REPO / "crates" / "dlkit" / "src").rglob("*.rs"):
        text = path.read_text()
        found |= set(re.findall(r"figure_methods!\((\w+)\)", text))
        impl = None
        for line in text.splitlines():
            m = re.match(r"impl(?:<[^>]*>)?\s+(\w+)(?:<[^>]*>)?\s*\{", line)
            impl = m.group(1) if m else impl
            if impl and re.match(r"\s*pub fn evcxr_display\(&self\)", line):
                found.add(impl)
    assert found == set(nbtool.DISPLAY_TYPES)


def test_the_passing_fixtures_show_a_figure_and_a_table():
    # Their committed outputs are what the normal run (conftest.py) holds them to.
    figure = nbformat.read(FIXTURES / "question_mark_figure.ipynb", as_version=4)
    code = [c for c in figure.cells if c.cell_type == "code"]
    # the first cell after :dep is the session's first `?` and ends in a figure
    assert len(code) == 2 and code[0].source.startswith(":dep dlkit")
    assert "?" in code[1].source and nbtool.FIGURE_MIME in nbtool._mimes(code[1].outputs)
    table = nbformat.read(FIXTURES / "table_of_results.ipynb", as_version=4)
    code = [c for c in table.cells if c.cell_type == "code"]
    assert nbtool.TABLE_MIME in nbtool._mimes(code[3].outputs)
    assert "mlp_result" in code[4].source and "cnn_result" in code[4].source


@pytest.mark.parametrize("outputs, tags, failed", [
    ([], [], False),
    ([{"output_type": "stream", "name": "stdout", "text": "Epoch 1/1\n"}], [], False),
    ([{"output_type": "stream", "name": "stderr", "text": "Shape mismatch\n"}], [], True),
    ([{"output_type": "stream", "name": "stderr", "text": "a note\n"}], [nbtool.STDERR_OK_TAG], False),
    ([{"output_type": "stream", "name": "stderr", "text": "thread '<unnamed>' panicked at src/lib.rs:3:1\n"}],
     [nbtool.STDERR_OK_TAG], True),
])
def test_runtime_error_detection(outputs, tags, failed):
    assert (nbtool.runtime_error(outputs, tags) is not None) == failed


# --- results table -----------------------------------------------------------

def test_result_bundle_reaches_the_table(tmp_path, monkeypatch):
    """Runs the passing fixture on the kernel and reads its bundle back."""
    monkeypatch.delenv("DLKIT_SMOKE", raising=False)  # restored after the test
    source = FIXTURES / "tensor_basics.ipynb"
    code = nbtool.main(["execute", "--out", str(tmp_path), "--smoke", str(source)])
    assert code == 0
    executed = tmp_path / source.name
    nb = nbformat.read(executed, as_version=4)
    bundles = [o["data"][nbtool.RESULT_MIME] for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []) if nbtool.RESULT_MIME in o.get("data", {})]
    # evcxr passes the custom mime type through and jupyter stores it as JSON
    assert bundles == [{"tutorial": "fixture", "model": "argmax of fixed logits",
                        "metric": "accuracy", "published": 0.75, "ours": 1,
                        "train_seconds": 1.5}]
    assert nb.metadata["dlkit"]["smoke"] is True
    assert nb.metadata["dlkit"]["wall_seconds"] > 0
    table = (tmp_path / "RESULTS.md").read_text()
    row = next(l for l in table.splitlines() if l.startswith("| fixture |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:8] == ["fixture", "tensor_basics.ipynb", "argmax of fixed logits", "accuracy",
                         "75.00 %", "100.00 %", "better than the tutorial (by 25.00 pp)", "0.0"]
    assert float(cells[8]) == pytest.approx(nb.metadata["dlkit"]["wall_seconds"] / 60, abs=0.06)
    assert "smoke run" in table  # a smoke run is flagged in the table's notes


def notebook_with_outputs(tmp_path, outputs, name="x.ipynb"):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("result")
    cell.outputs = [nbformat.v4.new_output("execute_result", data=d, execution_count=1)
                    for d in outputs]
    nb.cells = [cell]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


# An error is in percent, an accuracy a fraction (as dlkit::report::Comparison writes them).
GOOD = {"tutorial": "002", "model": "Simple CNN", "metric": "error", "published": 1.1,
        "ours": 0.98, "train_seconds": 123.4}


def test_results_accept_lists_and_json_strings(tmp_path):
    second = dict(GOOD, model="Larger CNN", ours=0.95)
    path = notebook_with_outputs(tmp_path, [
        {"text/plain": "Simple CNN", nbtool.RESULT_MIME: GOOD},
        {nbtool.RESULT_MIME: json.dumps([second])},
    ])
    assert [b["model"] for b in nbtool.result_bundles(path)] == ["Simple CNN", "Larger CNN"]
    table = nbtool.results_markdown([path])
    assert ("| 002 | x.ipynb | Simple CNN | error | 1.10 % | 0.98 % "
            "| better than the tutorial (by 0.12 pp) | 2.1 | not run |") in table
    assert "| Published | Ours | Verdict |" in table


def test_results_table_words_follow_the_metric(tmp_path):
    rows = [dict(GOOD, model="MLP", published=1.74, ours=1.88),
            dict(GOOD, model="branching CNN", published=None, ours=0.80),
            dict(GOOD, model="codealong CNN", metric="accuracy", published=0.9916, ours=0.9916)]
    path = notebook_with_outputs(tmp_path, [{nbtool.RESULT_MIME: rows}])
    table = nbtool.results_markdown([path])
    assert "| MLP | error | 1.74 % | 1.88 % | worse than the tutorial (by 0.14 pp) |" in table
    assert "| branching CNN | error | none | 0.80 % | n/a (no published figure) |" in table
    assert "| codealong CNN | accuracy | 99.16 % | 99.16 % | matches the tutorial |" in table
    # a result given no training time (dlkit leaves the key out) says so
    untimed = {k: v for k, v in GOOD.items() if k != "train_seconds"}
    path = notebook_with_outputs(tmp_path, [{nbtool.RESULT_MIME: untimed}], name="untimed.ipynb")
    assert "| better than the tutorial (by 0.12 pp) | n/a |" in nbtool.results_markdown([path])


@pytest.mark.parametrize("bad, message", [
    ({k: v for k, v in GOOD.items() if k != "ours"}, "lacks the key 'ours'"),
    (dict(GOOD, metric="loss"), "metric 'loss'"),
    (dict(GOOD, published="1.1 %"), "'published'"),
    (dict(GOOD, ours=float("nan")), "not finite"),
    (dict(GOOD, train_seconds="2 min"), "'train_seconds'"),
    (dict(GOOD, metric="accuracy", ours=99.2), "must be a fraction in [0, 1]"),
    (dict(GOOD, ours=174.0), "must be in percent, in [0, 100]"),
    ("{not json", "not valid JSON"),
])
def test_malformed_results_are_refused(tmp_path, bad, message):
    path = notebook_with_outputs(tmp_path, [{nbtool.RESULT_MIME: bad}], name="bad.ipynb")
    with pytest.raises(nbtool.NotebookError, match=re.escape(message)) as err:
        nbtool.result_bundles(path)
    assert "bad.ipynb: Cell 0" in str(err.value)


def test_verdict_direction_depends_on_the_metric():
    def says(metric, published, ours):
        return nbtool.verdict(dict(GOOD, metric=metric, published=published, ours=ours))
    assert says("accuracy", 0.99, 0.9912) == "better than the tutorial (by 0.12 pp)"
    assert says("accuracy", 0.99, 0.985) == "worse than the tutorial (by 0.50 pp)"
    assert says("error", 1.74, 1.88) == "worse than the tutorial (by 0.14 pp)"
    assert says("error", 1.10, 0.98) == "better than the tutorial (by 0.12 pp)"
    # equal when rounded to the two decimals the table shows
    assert says("accuracy", 0.9916, 0.99164) == "matches the tutorial"
    assert says("error", 0.89, 0.8949) == "matches the tutorial"
    assert says("error", 0.89, 0.88) == "better than the tutorial (by 0.01 pp)"
    assert nbtool.verdict(dict(GOOD, published=None)) == "n/a (no published figure)"
    assert nbtool.verdict(dict(GOOD, metric="accuracy", published=None)) == "n/a (no published figure)"
    assert nbtool.percent(None) == "none"
    assert nbtool.in_percent(dict(GOOD, metric="accuracy", ours=0.9912), "ours") == pytest.approx(99.12)


# --- smoke parameters and floors (scripts/lib/nbchecks.py) ----------------------

def notebook_with(settings, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata[nbchecks.SETTINGS_KEY] = settings
    return nb


def result_cell(*entries):
    cell = nbformat.v4.new_code_cell("table")
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={nbtool.RESULT_MIME: list(entries), "text/plain": "table"})]
    return cell


def test_smoke_parameters_replace_the_parameters_cell_only():
    params = nbformat.v4.new_code_cell("let epochs: usize = 12;", metadata={"tags": ["parameters"]})
    other = nbformat.v4.new_code_cell("let x = 1;")
    nb = notebook_with({"smoke_parameters": "let epochs: usize = 1;"}, [other, params])
    assert nbchecks.apply_smoke_parameters(nb, "n.ipynb")
    assert [c.source for c in nb.cells] == ["let x = 1;", "let epochs: usize = 1;"]
    # none given: nothing to do; given without a parameters cell: an error naming it
    assert not nbchecks.apply_smoke_parameters(notebook_with({}, [params]), "n.ipynb")
    with pytest.raises(nbchecks.ChecksError, match="exactly one code cell tagged 'parameters'"):
        nbchecks.apply_smoke_parameters(notebook_with({"smoke_parameters": "x"}, [other]), "n.ipynb")


@pytest.mark.parametrize("settings, message", [
    ([], "must be an object"),
    ({"smoke": "x"}, "unknown keys"),
    ({"smoke_parameters": "  "}, "must be Rust code"),
    ({"floors": {"quick": {}}}, "takes the keys"),
    ({"floors": {"full": {"CNN": "0.99"}}}, "must be a number"),
    ({"floors": {"full": {"CNN": True}}}, "must be a number"),
])
def test_malformed_test_settings_are_refused(settings, message):
    with pytest.raises(nbchecks.ChecksError, match=message):
        nbchecks.settings({nbchecks.SETTINGS_KEY: settings}, "n.ipynb")


def test_floors_follow_the_metric_in_both_directions():
    accuracy = dict(GOOD, metric="accuracy", model="CNN", ours=0.985, published=None)
    error = dict(GOOD, metric="error", model="MLP", ours=1.88, published=1.74)
    # an accuracy must reach its floor, an error stay at or under its ceiling
    assert nbchecks.failures([accuracy], {"CNN": 0.985}, "full") == []
    assert nbchecks.failures([accuracy], {"CNN": 0.99}, "full") == [
        "'CNN' reached a test accuracy of 98.50 %, below the full run's floor of 99.00 %"]
    assert nbchecks.failures([error], {"MLP": 2.24}, "full") == []
    assert nbchecks.failures([error], {"MLP": 1.80}, "smoke") == [
        "'MLP' ended with a test error of 1.88 %, above the smoke run's ceiling of 1.80 %"]
    # models without a floor are not judged; a floor without a result is named
    assert nbchecks.failures([accuracy, error], {}, "full") == []
    assert nbchecks.unreported([accuracy], {"CNN": 0.9, "LSTM": 0.9}) == ["LSTM"]


def test_a_finished_run_is_held_to_the_floors_of_its_kind():
    cnn = dict(GOOD, metric="accuracy", model="CNN", ours=0.95, published=None)
    settings = {"floors": {"smoke": {"CNN": 0.90}, "full": {"CNN": 0.99}}}
    nb = notebook_with(settings, [result_cell(cnn)])
    nbtool.check_floors(nb, smoke=True, label="n.ipynb")
    with pytest.raises(nbtool.NotebookError, match="below the full run's floor of 99.00 %"):
        nbtool.check_floors(nb, smoke=False, label="n.ipynb")
    lstm = {"floors": {"full": {"CNN": 0.9, "LSTM": 0.9}}}
    with pytest.raises(nbtool.NotebookError, match="'LSTM' has a full run floor but showed no result"):
        nbtool.check_floors(notebook_with(lstm, [result_cell(cnn)]), smoke=False, label="n.ipynb")


def test_a_table_repeating_results_adds_no_rows(tmp_path):
    cnn = dict(GOOD, metric="accuracy", model="CNN", ours=0.95, published=None)
    bn = dict(cnn, model="CNN + BatchNormalization", ours=0.96)
    nb = notebook_with({}, [result_cell(cnn), result_cell(cnn, bn)])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert [e["model"] for e in nbtool.result_bundles(path)] == ["CNN", "CNN + BatchNormalization"]


# --- conventions of the notebooks ---------------------------------------------

# Test plumbing that must stay out of a notebook's cells: the smoke run's
# parameters and the floors live in its metadata (scripts/lib/nbchecks.py).
PLUMBING = re.compile(r"DLKIT_SMOKE|\btrain_samples\b|\baccuracy_floor\b|\berror_ceiling\b")


def check_conventions(path: Path, dep_path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "rust", f"{path.name}: kernel is not 'rust'"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name}: no code cells"
    first = code[0].source.lstrip()
    assert first.startswith(f':dep dlkit = {{ path = "{dep_path}"'), \
        f"{path.name}: the first code cell must be `:dep dlkit = {{ path = \"{dep_path}\", package = \"dlkit-dylib\" }}`"
    for index, cell in enumerate(nb.cells):
        assert "NBVAL_" not in cell.source, \
            f"{path.name}: cell {index}: nbval ignores `NBVAL_` comments; use cell tags"
        unknown = {t for t in cell.metadata.get("tags", [])
                   if t.startswith(("nbval", "dlkit"))} - KNOWN_TAGS
        assert not unknown, f"{path.name}: cell {index}: unknown tags {unknown}"
    for index, cell in enumerate(code):
        assert "once on purpose" not in cell.source, \
            f"{path.name}: Cell {index}: the kernel turns `?` on at start (scripts/lib/init.evcxr);" \
            " notebooks need no `?` workaround"
        assert not PLUMBING.search(cell.source), \
            f"{path.name}: Cell {index}: test plumbing in a cell ({PLUMBING.search(cell.source)[0]});" \
            " smoke parameters and floors go in the metadata 'dlkit-tests'"
    settings = nbchecks.settings(nb.metadata, path.name)
    assert settings and settings.get("smoke_parameters"), \
        f"{path.name}: no smoke parameters in the metadata '{nbchecks.SETTINGS_KEY}'"
    assert nbchecks.parameters_index(nb.cells, path.name) == nb.cells.index(code[1]), \
        f"{path.name}: the cell tagged `parameters` must come right after :dep"
    for kind in nbchecks.RUN_KINDS:
        assert nbchecks.floors(nb.metadata, kind, path.name), f"{path.name}: no {kind} run floors"
    # The committed run reaches its floors, and every model with a floor showed a result.
    nbtool.check_floors(nb, smoke=False, label=path.name)


NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_conventions(path):
    check_conventions(path, "../crates/dlkit-dylib")


def test_fixture_follows_the_conventions():
    check_conventions(FIXTURES / "tensor_basics.ipynb", "../../../crates/dlkit-dylib")


def saved_rich_output_problems(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    problems = {}
    for number, cell in enumerate(code):
        if cell.execution_count is None:
            continue
        tags = cell.metadata.get("tags", [])
        problem = nbtool.missing_rich_output(cell.outputs, tags)
        if problem is not None:
            problems[number] = problem
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_saved_outputs_show_figures_and_tables(path):
    problems = saved_rich_output_problems(path)
    assert not problems, "\n".join(f"{path.name}: Cell {n}: {p}" for n, p in problems.items())


# --- set-up files --------------------------------------------------------------

SHELL_FILES = ["scripts/notebooks", "scripts/test", "scripts/lib/common.sh",
               "scripts/binder-rehearsal", ".ci/run", "binder/postBuild",
               "binder/start"]


@pytest.mark.parametrize("name", SHELL_FILES)
def test_shell_files_parse(name):
    path = REPO / name
    assert path.is_file(), name
    subprocess.run(["bash", "-n", str(path)], check=True)
    if name != "scripts/lib/common.sh":  # sourced, not run
        assert os.access(path, os.X_OK), f"{name} is not executable"
        assert path.read_text().startswith("#!"), f"{name} has no #! line"


def pins(path: Path) -> dict:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path}: {line} is not pinned with =="
            found[name.lower().replace("_", "-")] = version
    return found


def test_binder_pins_match_the_local_ones():
    local = pins(REPO / "scripts" / "requirements.txt")
    binder = pins(REPO / "binder" / "requirements.txt")
    assert binder, "binder/requirements.txt pins nothing"
    for name, version in binder.items():
        assert local.get(name) == version, f"binder pins {name}=={version}, scripts pin {local.get(name)}"


def test_kernelspec_runs_the_launcher():
    out = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, JUPYTER_PREFER_ENV_PATH="1"))
    spec = json.loads(out.stdout)["kernelspecs"]["rust"]["spec"]
    assert spec["argv"][:3] == [str(REPO / ".evcxr" / "bin" / "dlkit-kernel"), "--repo", str(REPO)]
    assert os.access(spec["argv"][0], os.X_OK), f"{spec['argv'][0]} is not executable"
    assert spec["argv"][-1] == "{connection_file}"
    assert os.access(spec["argv"][3], os.X_OK), f"{spec['argv'][3]} is not an executable evcxr_jupyter"
    assert spec["interrupt_mode"] == "signal"


# --- the kernel launcher's slots and signals, with a stand-in for evcxr_jupyter ---

@pytest.fixture(scope="module")
def launcher() -> Path:
    """crates/dlkit-kernel, built from the sources under test."""
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "dlkit-kernel"],
                   cwd=REPO, check=True, timeout=600)
    return REPO / "target" / "release" / "dlkit-kernel"


def fake_evcxr(tmp_path: Path, body: str = "") -> Path:
    """A stand-in for evcxr_jupyter that reports the slot it was given, runs `body`, exits."""
    fake = tmp_path / "fake-evcxr"
    fake.write_text(f'#!/bin/sh\necho "EVCXR_TMPDIR=$EVCXR_TMPDIR"\n{body}\n')
    fake.chmod(0o755)
    return fake


def start_wrapper(launcher: Path, tmp_path: Path, root: Path, slots: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, DLKIT_EVCXR_DIR=str(root), DLKIT_EVCXR_SLOTS=str(slots))
    return subprocess.run([str(launcher), "--repo", str(REPO), str(fake_evcxr(tmp_path)), "conn.json"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_the_launcher_routes_an_interrupt_to_the_process_running_the_cells(launcher, tmp_path):
    # The stand-in starts two "cell processes" (EVCXR_IS_RUNTIME, as evcxr marks its
    # own): one that ignores SIGINT as it inherits it, one with a handler, as
    # dlkit-dylib installs. Jupyter's interrupt is SIGINT for the whole process group.
    import signal
    log = tmp_path / "log"
    handler = ("import signal, time\n"
               "got = []\n"
               "def on_sigint(*_):\n"
               f"    open({str(log)!r}, 'a').write('handled SIGINT\\n'); got.append(1)\n"
               "signal.signal(signal.SIGINT, on_sigint)\n"
               "while not got: time.sleep(0.05)\n"
               "time.sleep(1)  # still handling SIGINT while the launcher looks\n")
    (tmp_path / "handler.py").write_text(handler)
    body = (f'EVCXR_IS_RUNTIME=1 sleep 60 & plain=$!\n'
            f'EVCXR_IS_RUNTIME=1 {sys.executable} {tmp_path / "handler.py"} & handled=$!\n'
            f'sleep 0.5; echo ready\n'
            f'wait $plain; echo "plain ended: $?" >> {log}\n'
            f'wait $handled; echo "handled ended: $?" >> {log}\n'
            f'echo "evcxr still here" >> {log}\n')
    env = dict(os.environ, DLKIT_EVCXR_DIR=str(tmp_path / "evcxr"), DLKIT_EVCXR_SLOTS="1")
    kernel = subprocess.Popen([str(launcher), "--repo", str(REPO), str(fake_evcxr(tmp_path, body)),
                               "conn.json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        for line in kernel.stdout:
            if line.strip() == "ready":
                break
        os.killpg(kernel.pid, signal.SIGINT)  # what jupyter_client's interrupt_kernel does
        out, err = kernel.communicate(timeout=30)
    finally:
        if kernel.poll() is None:
            os.killpg(kernel.pid, signal.SIGKILL)
    assert kernel.returncode == 0, err
    lines = log.read_text().splitlines()
    # The handler takes the group's SIGINT once; the process that ignores it gets
    # SIGTERM (143 = 128 + 15); evcxr itself, ignoring SIGINT, lives on.
    assert sorted(lines[:-1]) == ["handled SIGINT", "handled ended: 0", "plain ended: 143"], lines
    assert lines[-1] == "evcxr still here", lines
    assert "SIGTERM to the process running the cells" in err, err
    assert "handles SIGINT itself" in err, err


def test_a_kernel_started_while_every_slot_is_held_says_so(launcher, tmp_path):
    import fcntl
    root = tmp_path / "evcxr"
    root.mkdir()
    with open(root / "slot-1.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another notebook's kernel
        result = start_wrapper(launcher, tmp_path, root, slots=1)
    assert result.returncode == 1, result
    assert "all 1 slots" in result.stderr and "are in use by other kernels" in result.stderr
    assert "close a notebook or raise DLKIT_EVCXR_SLOTS" in result.stderr
    assert "EVCXR_TMPDIR" not in result.stdout  # evcxr was never started
    # Once the other kernel is gone, the same start takes the slot.
    result = start_wrapper(launcher, tmp_path, root, slots=1)
    assert result.returncode == 0, result.stderr
    assert f"EVCXR_TMPDIR={root / 'slot-1'}" in result.stdout


def test_a_slot_whose_build_directory_is_gone_is_seeded_again(launcher, tmp_path):
    root = tmp_path / "evcxr"
    warm = root / "slot-2" / "target" / "debug"
    warm.mkdir(parents=True)
    (warm / "libdlkit.rlib").write_bytes(b"compiled")
    # slot 1's target/ was deleted, and a seed copy was cut short by a killed start
    (root / "slot-1").mkdir()
    stale = root / ".seed-slot-1.12345" / "target"
    stale.mkdir(parents=True)
    (stale / "half").write_bytes(b"x")
    result = start_wrapper(launcher, tmp_path, root, slots=2)
    assert result.returncode == 0, result.stderr
    assert "seeding slot-1 from slot-2" in result.stderr
    assert (root / "slot-1" / "target" / "debug" / "libdlkit.rlib").read_bytes() == b"compiled"
    assert not (root / "slot-1" / "target" / "half").exists()  # the half copy is not used
    assert not stale.parent.exists()  # and it is removed
    assert f"EVCXR_TMPDIR={root / 'slot-1'}" in result.stdout
    # With no warm slot anywhere, a start says that it is cold instead of failing.
    cold = tmp_path / "cold"
    result = start_wrapper(launcher, tmp_path, cold, slots=1)
    assert result.returncode == 0, result.stderr
    assert "starts cold" in result.stderr
