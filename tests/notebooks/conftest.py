"""pytest set-up of the notebook execution tests (nbval on the `rust` kernel).

* nbval runs every collected notebook on the kernel `rust` (whatever its
  metadata says), masks varying output with nbval-sanitize.cfg, and gives a cell
  a generous timeout: a cold evcxr build of candle takes minutes.
* A cell whose code fails at run time fails its test even though evcxr
  replies "ok" (see nbtool.runtime_error): anything on stderr counts, unless
  the cell is tagged `dlkit-stderr-ok` (a panic counts regardless).
* A cell fails when it shows the Debug text of a dlkit type that has its own
  display (`DigitGrid { ...`, `HtmlTable { ...`; nbtool.DISPLAY_TYPES), which
  is what evcxr shows when a compile error of that round touched the last
  line (e.g. a last expression that moves stored variables: dlkit::report::table
  takes references), or when its committed outputs hold a figure (image/png)
  or a table (text/html) that the run's outputs lack
  (nbtool.missing_rich_output). A cell whose plain text is intended is
  tagged `dlkit-plain-ok`.
* A cell that fails with "cannot find value `x`" for a variable an earlier cell
  defined gets an explanation: evcxr silently dropped `x` (nbtool.dropped_variable).
* These cell checks are a plugin object registered in pytest_configure, not
  hooks of this file, which pytest would apply only to items below
  tests/notebooks/ (not to notebooks/*.ipynb). This file is loaded when
  tests/notebooks (or a path below it) is among pytest's arguments, as in
  scripts/test.
* A smoke run puts the notebook's "dlkit-tests".smoke_parameters in place of
  its cell tagged `parameters`, and every run holds the results the cells
  show to the floors in that metadata (NotebookParametersAndFloors, below;
  scripts/lib/nbchecks.py).
* A smoke run of a notebook in notebooks/ fails at the cell where the
  session's memory (summed PSS of this process tree) went over budget
  (NotebookMemoryBudget, below).
* The fixtures under fixtures/failing/ must fail; they are left out of the
  normal run and run on purpose by test_harness.py (which sets
  DLKIT_HARNESS_SELFTEST=1 for its own nbval runs).
"""

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

collect_ignore = [] if os.environ.get("DLKIT_HARNESS_SELFTEST") == "1" else ["fixtures/failing"]

# The kernelspec installed in .venv wins over a user-wide `rust` kernel.
os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("dlkit-notebook-cell-checks"):
        config.pluginmanager.register(NotebookCellChecks(), "dlkit-notebook-cell-checks")
    if not config.pluginmanager.has_plugin("dlkit-notebook-memory-budget"):
        config.pluginmanager.register(NotebookMemoryBudget(), "dlkit-notebook-memory-budget")
    if not config.pluginmanager.has_plugin("dlkit-notebook-parameters-floors"):
        config.pluginmanager.register(NotebookParametersAndFloors(),
                                      "dlkit-notebook-parameters-floors")
    option = config.option
    if getattr(option, "nbval_kernel_name", None) is None:
        option.nbval_kernel_name = "rust"
    if getattr(option, "nbval_sanitize_with", None) is None:
        option.nbval_sanitize_with = str(HERE / "nbval-sanitize.cfg")
    # nbval's default is 2000 s; a cold first cell compiles candle, and a
    # notebook's smoke training cell is allowed up to half an hour.
    if getattr(option, "nbval_cell_timeout", 2000) == 2000:
        option.nbval_cell_timeout = 3600
    if getattr(option, "nbval_kernel_startup_timeout", 60) == 60:
        option.nbval_kernel_startup_timeout = 120


sys.path.insert(0, str(HERE.parents[1] / "scripts" / "lib"))
import nbchecks  # noqa: E402
from nbtool import (  # noqa: E402
    STDERR_OK_TAG, bundles_in_outputs, dropped_variable, missing_rich_output, runtime_error,
)


class NotebookCellChecks:
    """The checks every nbval cell gets, wherever its notebook lives.

    A conftest.py's own hooks apply only to items below its directory, and
    the notebooks in notebooks/ are not below tests/notebooks/: pytest_configure
    registers this object as a plugin, which applies to every item.
    """

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        """Fail an nbval cell that failed at run time although evcxr replied "ok",
        and one that should show a figure or a table but shows only text.

        evcxr 0.22 reports an error returned with `?`, and a panic, only as
        stderr text; nbval alone would pass such a cell. Its fallback from a
        rich display to the Debug text is silent as well.
        """
        cell = getattr(item, "cell", None)
        try:
            result = yield
        except Exception as err:
            outputs = getattr(item, "test_outputs", None)
            if outputs is not None and cell is not None:
                earlier = [c.source for c in item.parent.nb.cells if c.cell_type == "code"]
                why = dropped_variable(outputs, earlier[:item.cell_num])
                if why is not None:
                    detail = getattr(err, "inner_traceback", None) or ""
                    pytest.fail(f"cell failed: {why}.\n{err}{detail}", pytrace=False)
            raise
        outputs = getattr(item, "test_outputs", None)
        if outputs is not None and cell is not None:
            tags = cell.metadata.get("tags", [])
            stderr = runtime_error(outputs, tags)
            if stderr is not None:
                pytest.fail(
                    "cell failed at run time (evcxr reports it on stderr only; tag the cell "
                    f"{STDERR_OK_TAG} if that output is expected):\n{stderr}",
                    pytrace=False,
                )
            # nbval compares with the committed outputs, which item.cell still holds
            missing = missing_rich_output(outputs, tags, cell.outputs)
            if missing is not None:
                pytest.fail(f"no rich output: {missing}", pytrace=False)
        return result


def smoke_run() -> bool:
    return os.environ.get("DLKIT_SMOKE") == "1"


class NotebookParametersAndFloors:
    """A smoke run's parameters in, and the accuracy floors checked, outside the cells.

    Before the run, the cell tagged `parameters` of a notebook whose metadata
    has "dlkit-tests".smoke_parameters runs that code instead (in a smoke run
    only). After each cell, every result bundle it showed is held to the
    notebook's floor for the run ("dlkit-tests".floors); the last cell also
    fails for a model with a floor that showed no result (scripts/lib/nbchecks.py).
    """

    def __init__(self):
        self.shown: dict[str, list[dict]] = {}

    def pytest_collection_modifyitems(self, items):
        if not smoke_run():
            return
        done = set()
        for item in items:
            nb = getattr(item.parent, "nb", None) if getattr(item, "cell", None) else None
            if nb is None or id(nb) in done:
                continue
            done.add(id(nb))
            # nbval's items hold the notebook's own cell objects
            nbchecks.apply_smoke_parameters(nb, Path(str(item.fspath)).name)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        result = yield
        cell, outputs = getattr(item, "cell", None), getattr(item, "test_outputs", None)
        if cell is None or outputs is None:
            return result
        nb, label = item.parent.nb, Path(str(item.fspath)).name
        kind = "smoke" if smoke_run() else "full"
        table = nbchecks.floors(nb.metadata, kind, label)
        if not table:
            return result
        bundles = bundles_in_outputs(outputs, f"{label}: Cell {item.cell_num}")
        self.shown.setdefault(label, []).extend(bundles)
        missed = nbchecks.failures(bundles, table, kind)
        last_code = max(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        if cell is nb.cells[last_code]:
            missed += nbchecks.missing_results(self.shown.pop(label, []), table, kind)
        if missed:
            pytest.fail("below the floor (notebook metadata 'dlkit-tests'): " + "; ".join(missed),
                        pytrace=False)
        return result


# Whole-tree peak (summed PSS: this pytest process, the kernel with its
# rust-analyzer, the process running the cells, cargo and rustc) that a smoke run
# of a notebook in notebooks/ may reach. Measured on 2026-12-06 under this harness
# (pytest itself 86 MB): the five smoke runs peaked at 1614-1694 MB, evcxr_jupyter
# 1.08-1.10 GB of it at that moment; 1850 MB leaves about 9 % headroom and stays
# under a Binder session's 2 GB. Override with DLKIT_MEMORY_BUDGET_MB (0: no check).
MEMORY_BUDGET_MB = int(os.environ.get("DLKIT_MEMORY_BUDGET_MB", "1850"))


class NotebookMemoryBudget:
    """Fails the cell of a notebooks/ smoke run at which the session's memory went over budget.

    A thread samples the PSS of this process's whole tree four times a second
    (benchmarks/memory.py's TreeSampler); the peak starts afresh with each
    notebook, and is checked after every one of its cells.
    """

    def __init__(self):
        self.sampler = None
        self.notebook = None
        self.peaks: dict[str, tuple[int, dict]] = {}
        # the harness's self-test points this at its fixtures
        self.notebooks_dir = Path(os.environ.get("DLKIT_MEMORY_BUDGET_DIR",
                                                 HERE.parents[1] / "notebooks")).resolve()

    def _watched(self, item) -> bool:
        if MEMORY_BUDGET_MB <= 0 or os.environ.get("DLKIT_SMOKE") != "1":
            return False
        path = Path(str(item.fspath)).resolve()
        return getattr(item, "cell", None) is not None and path.parent == self.notebooks_dir

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        if not self._watched(item):
            return (yield)
        if self.sampler is None:
            sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
            from memory import TreeSampler  # noqa: E402
            self.sampler = TreeSampler(os.getpid())
            self.sampler.start()
        if self.notebook != item.fspath:
            self.notebook = item.fspath
            self.sampler.peak_total, self.sampler.at_peak = 0, {}
        result = yield
        self.sampler.sample()
        peak_mb = round(self.sampler.peak_total / 2**20)
        self.peaks[Path(str(item.fspath)).name] = (peak_mb, dict(self.sampler.at_peak))
        if peak_mb > MEMORY_BUDGET_MB:
            parts = ", ".join(f"{kind} {round(v / 2**20)} MB"
                              for kind, v in self.sampler.at_peak.items() if v)
            pytest.fail(f"memory over budget: the session's processes peaked at {peak_mb} MB "
                        f"(PSS; {parts}) during this notebook's smoke run, over the budget of "
                        f"{MEMORY_BUDGET_MB} MB (tests/notebooks/conftest.py, "
                        "DLKIT_MEMORY_BUDGET_MB); benchmarks/memory.py shows where it goes",
                        pytrace=False)
        return result

    def pytest_terminal_summary(self, terminalreporter):
        if not self.peaks:
            return
        terminalreporter.write_sep("-", f"smoke-run memory peaks (budget {MEMORY_BUDGET_MB} MB)")
        for name, (peak_mb, at_peak) in sorted(self.peaks.items()):
            parts = ", ".join(f"{kind} {round(v / 2**20)}" for kind, v in at_peak.items() if v)
            terminalreporter.write_line(f"{name}: {peak_mb} MB ({parts})")
