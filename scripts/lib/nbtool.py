"""Run the project's notebooks on the `rust` (evcxr) kernel and tabulate their results.

Used by scripts/notebooks, scripts/test and binder/postBuild:

    nbtool.py warmup                      compile dlkit in a kernel slot (first-cell timing)
    nbtool.py execute [--out DIR] [--smoke] [NOTEBOOK ...]
                                          run notebooks top to bottom (in place by default)
    nbtool.py results [--write FILE] [NOTEBOOK ...]
                                          results table from executed notebooks

A notebook reports a result by displaying a value whose rich output carries a
JSON bundle of type `application/vnd.dlkit.result+json` (one object, or a list
of objects) with the keys in RESULT_KEYS, in the units dlkit::report::Comparison
writes: an accuracy as a fraction in [0, 1], an error in percent, in [0, 100].
The table adds the notebook's wall
time, which `execute` stores in the notebook's metadata under "dlkit".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbchecks

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
KERNEL = "rust"
RESULT_MIME = "application/vnd.dlkit.result+json"
RESULT_KEYS = {
    "tutorial": str,
    "model": str,
    "metric": str,
    "published": (int, float, type(None)),  # null: the tutorial quotes no figure
    "ours": (int, float),
}
# dlkit leaves it out of a result that was given no training time
OPTIONAL_RESULT_KEYS = {"train_seconds": (int, float)}
METRICS = ("accuracy", "error")
DEFAULT_DEP = ':dep dlkit = { path = "../crates/dlkit-dylib", package = "dlkit-dylib" }'


# evcxr 0.22 answers "ok" to a cell whose code fails at run time: an error
# returned with `?` and a panic only show up as text on stderr (a compile error
# is a real error reply). dlkit writes nothing to stderr, so stderr output means
# the cell failed, unless the cell carries this tag (a panic fails regardless).
STDERR_OK_TAG = "dlkit-stderr-ok"


class NotebookError(Exception):
    """A notebook that cannot be run or read; the message names it."""


def runtime_error(outputs, tags) -> str | None:
    """The stderr text of a cell's outputs if it shows a run-time failure, else None."""
    stderr = "".join(
        o.get("text", "") for o in outputs
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )
    if not stderr.strip():
        return None
    if STDERR_OK_TAG in tags and "panicked at" not in stderr:
        return None
    return stderr


# --- rich output --------------------------------------------------------------
#
# evcxr shows a cell's last expression with `(E).evcxr_display()` (dlkit's
# figures as image/png, its tables as text/html) and silently falls back to the
# Debug text when any compile error of that round touches the line: for
# example a last expression that moves stored variables (evcxr then also drops
# them from the session; dlkit::report::table takes references for that
# reason). The checks look at outputs only. A cell fails when
#   * it shows the Debug text of a dlkit value that has a display of its own
#     (`DigitGrid { ...`, `HtmlTable { ...`, see DISPLAY_TYPES), or dlkit's
#     text for a plot that could not be drawn; or
#   * its committed outputs hold a figure (image/png) or a table (text/html)
#     that this run's outputs lack.
# A cell whose plain-text result is intended carries the tag PLAIN_OK_TAG.

PLAIN_OK_TAG = "dlkit-plain-ok"
FIGURE_MIME = "image/png"
TABLE_MIME = "text/html"
RICH_MIMES = {FIGURE_MIME: "a figure", TABLE_MIME: "a table"}
# dlkit's types with an evcxr_display method (test_harness.py checks this list
# against crates/dlkit/src): their Debug text as a cell's result means evcxr
# fell back; and the text a plot shows when drawing it failed.
DISPLAY_TYPES = ("Comparison", "ConfusionMatrix", "DigitGrid", "Figure", "Filters", "HistoryPlot",
                 "HtmlTable", "Imshow", "Misclassified", "Picture", "ResultsTable",
                 "SamplePrediction", "Summary", "TensorView")
DEBUG_OF_DISPLAY = re.compile(r"^\s*(?:(?:Ok|Some)\()*(%s)\s*[{(]" % "|".join(DISPLAY_TYPES))
PLOT_FAILED = "the plot could not be drawn"
_RAW_STRING = re.compile(r'b?r(#*)"')
_IDENT = re.compile(r"\w")


def _code_only(source: str) -> str:
    """`source` without evcxr commands, comments and the contents of string and
    char literals (emptied, so that a name inside them does not count)."""
    text = "\n".join("" if l.lstrip().startswith(":") else l for l in source.splitlines())
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif (m := _RAW_STRING.match(text, i)) and not (i and _IDENT.match(text[i - 1])):
            end = text.find('"' + m.group(1), m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""')
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'" and (text.startswith("\\", i + 1) or (i + 2 < n and text[i + 2] == "'")):
            j = text.find("'", i + 3 if text.startswith("\\", i + 1) else i + 2)
            out.append("' '")
            i = n if j < 0 else j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _mimes(outputs) -> set[str]:
    return {m for o in outputs if o.get("output_type") in ("execute_result", "display_data")
            for m in o.get("data", {})}


def missing_rich_output(outputs, tags, committed=()) -> str | None:
    """Why a cell showed text where a figure or a table belongs, else None.

    `committed` are the cell's outputs as committed (none for a cell never run).
    """
    if PLAIN_OK_TAG in tags:
        return None
    cause = ("evcxr falls back to the Debug text when a compile error of that round touches"
             " the last line, e.g. when the last expression moves stored variables (pass"
             " references: `report::table(&[&a, &b])`)")
    for o in outputs:
        if o.get("output_type") not in ("execute_result", "display_data"):
            continue
        data = o.get("data", {})
        if set(data) - {"text/plain"}:
            continue
        text = data.get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else text
        found = DEBUG_OF_DISPLAY.match(text)
        if found:
            return (f"the cell shows the Debug text of a dlkit `{found.group(1)}` instead of its"
                    f" own display ({text[:80]!r}...): {cause}. Tag the cell {PLAIN_OK_TAG} if"
                    " plain text is intended.")
        if text.startswith(PLOT_FAILED):
            return f"the cell's plot was not drawn: {text[:300]}"
    shown = _mimes(outputs)
    for mime, kind in RICH_MIMES.items():
        if mime in _mimes(committed) and mime not in shown:
            return (f"the committed run of this cell showed {kind} ({mime}) but this run shows"
                    f" {sorted(shown) or 'nothing'}: {cause}. Tag the cell {PLAIN_OK_TAG} if"
                    " that is intended.")
    return None


_NOT_FOUND = re.compile(r"cannot find value `(\w+)` in this scope")


def dropped_variable(outputs, earlier_sources: list[str]) -> str | None:
    """Explains a compile error about a variable that an earlier cell defined.

    evcxr keeps a cell's variables for the next cells, but drops one silently
    when a cell moves it (e.g. passes it by value in its last expression), and
    `let` bindings of a cell that failed at run time are not kept either; the
    next cell that uses it fails with rustc's "cannot find value `x` in this
    scope". (A variable whose type a cell redefined is reported on stderr:
    "The type of the variable x was redefined, so was lost.")
    """
    for o in outputs:
        if o.get("output_type") != "error":
            continue
        text = o.get("evalue", "") + "\n" + "\n".join(o.get("traceback", []))
        for name in dict.fromkeys(_NOT_FOUND.findall(text)):
            binding = re.compile(r"\blet\s+(?:mut\s+)?[^=;]*?\b%s\b[^=;]*=" % re.escape(name))
            for number, source in reversed(list(enumerate(earlier_sources))):
                if binding.search(_code_only(source)):
                    return (f"`{name}` was defined in Cell {number}, but evcxr no longer has it:"
                            f" a cell after it moved it (evcxr then drops a stored variable"
                            f" silently, e.g. when a last expression passes it by value: pass a"
                            f" reference), or Cell {number} failed at run time")
    return None


def execute_code(client, code: str, timeout: float = 1800, on_output=None):
    """Runs one cell through a started jupyter_client `client`, the way JupyterLab
    does, and waits for the kernel to be idle again.

    Returns (reply status, stdout, stderr, text/plain of the last result or
    display); an `error` message's traceback (or value) counts as stderr.
    `on_output(stdout so far)` is called after every stream message, e.g. to
    interrupt the kernel at a given point of the output.
    """
    msg_id = client.execute(code)
    stdout, stderr, result = [], [], None
    deadline = time.monotonic() + timeout
    while True:
        msg = client.get_iopub_msg(timeout=max(1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            (stdout if content["name"] == "stdout" else stderr).append(content["text"])
            if on_output:
                on_output("".join(stdout))
        elif kind in ("execute_result", "display_data"):
            result = content["data"].get("text/plain", result)
        elif kind == "error":
            stderr.append("\n".join(content.get("traceback", [])) or content.get("evalue", ""))
        elif kind == "status" and content["execution_state"] == "idle":
            break
    # The reply to this request: a client waiting for a kernel to start may have asked
    # for kernel_info more than once, and the extra answers wait in the same queue.
    while True:
        reply = client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    return reply["content"]["status"], "".join(stdout), "".join(stderr), result


def discover(paths: list[str]) -> list[Path]:
    """The notebooks named on the command line, or all of notebooks/*.ipynb."""
    if paths:
        found = [Path(p).resolve() for p in paths]
        missing = [str(p) for p in found if not p.is_file()]
        if missing:
            raise NotebookError(f"no such notebook: {', '.join(missing)}")
        return found
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def kernel_environment(smoke: bool) -> None:
    """The kernel inherits this process's environment: set the smoke switch there."""
    if smoke:
        os.environ["DLKIT_SMOKE"] = "1"
    else:
        os.environ.pop("DLKIT_SMOKE", None)
    # Prefer the kernelspec installed in this (virtual) environment over a
    # user-wide `rust` kernel that may point at another evcxr.
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")


def run_notebook(nb, cwd: Path, timeout: int, label: str):
    """Execute `nb` in place on the rust kernel with `cwd` as working directory.

    Returns (wall seconds, seconds per code cell). Raises NotebookError naming
    the notebook and the failing cell.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=timeout,
        startup_timeout=120,
        record_timing=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    cell_seconds: list[float] = []
    start = time.monotonic()
    with client.setup_kernel():
        code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        # "Cell N" counts code cells from 0, as nbval names its test items
        for number, (index, cell) in enumerate(code_cells):
            t0 = time.monotonic()
            committed = list(cell.outputs)
            try:
                client.execute_cell(cell, index)
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
                why = dropped_variable(cell.outputs, [c.source for _, c in code_cells[:number]])
                why = f" {why}." if why else ""
                raise NotebookError(f"{label}: Cell {number} failed:{why}\n{err}") from err
            tags = cell.metadata.get("tags", [])
            stderr = runtime_error(cell.outputs, tags)
            if stderr is not None:
                raise NotebookError(
                    f"{label}: Cell {number} failed at run time (evcxr reports it on stderr only;"
                    f" tag the cell {STDERR_OK_TAG} if that output is expected):\n{stderr}"
                )
            missing = missing_rich_output(cell.outputs, tags, committed)
            if missing is not None:
                raise NotebookError(f"{label}: Cell {number} has no rich output: {missing}")
            cell_seconds.append(time.monotonic() - t0)
            first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            print(f"    Cell {number:>3}  {cell_seconds[-1]:8.1f} s  {first_line[:60]}", flush=True)
    return time.monotonic() - start, cell_seconds


def cmd_warmup(args) -> int:
    """Compile dlkit and its dependencies in the first free kernel slot.

    Runs the first code cell's `:` commands (the `:dep` line and settings) of
    the first notebook, so the build uses exactly the notebooks' flags, then
    one cell that calls into candle through dlkit.
    """
    import nbformat

    setup = DEFAULT_DEP
    notebooks = discover([])
    if notebooks:
        nb = nbformat.read(notebooks[0], as_version=4)
        first = next((c for c in nb.cells if c.cell_type == "code"), None)
        if first is not None:
            commands = [l for l in first.source.splitlines() if l.strip().startswith(":")]
            if commands:
                setup = "\n".join(commands)
    probe = (
        "let t = dlkit::Tensor::arange(0f32, 6f32, &dlkit::Device::Cpu)?.reshape((2, 3))?;\n"
        "let total = t.sum_all()?.to_scalar::<f32>()?;\n"
        "assert_eq!(total, 15.0);\n"
        "total"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(probe)]
    kernel_environment(smoke=False)
    print(f"  warm-up cells (cwd {NOTEBOOKS.relative_to(REPO)}/):", flush=True)
    NOTEBOOKS.mkdir(exist_ok=True)
    wall, cells = run_notebook(nb, NOTEBOOKS, args.timeout, "warm-up")
    print(f"  time to first cell: {cells[0]:.1f} s; first dlkit call: {cells[1]:.1f} s;"
          f" session: {wall:.1f} s", flush=True)
    return 0


def cmd_execute(args) -> int:
    """Run notebooks top to bottom and save them with their outputs."""
    import nbformat

    if args.smoke and not args.out:
        print("--smoke needs --out: committed notebooks carry full runs only", file=sys.stderr)
        return 2
    notebooks = discover(args.notebooks)
    if not notebooks:
        print(f"no notebooks in {NOTEBOOKS}", file=sys.stderr)
        return 1
    kernel_environment(args.smoke)
    out_dir = Path(args.out).resolve() if args.out else None
    failed = []
    written = []
    for path in notebooks:
        print(f"  {path.name} ({'smoke' if args.smoke else 'full'} run)", flush=True)
        nb = nbformat.read(path, as_version=4)
        started = dt.datetime.now(dt.timezone.utc)
        try:
            if args.smoke:
                nbchecks.apply_smoke_parameters(nb, path.name)
            wall, _ = run_notebook(nb, path.parent, args.timeout, path.name)
            check_floors(nb, args.smoke, path.name)
        except (NotebookError, nbchecks.ChecksError) as err:
            # Keep the failed run for inspection, never over the committed notebook.
            keep = REPO / ".evcxr" / "failed" / path.name
            write_atomically(keep, nbformat.writes(nb))
            print(f"  FAILED: {err}\n  partial run saved to {keep}", file=sys.stderr, flush=True)
            failed.append(path.name)
            continue
        nb.metadata["dlkit"] = {
            "executed_at": started.isoformat(timespec="seconds"),
            "wall_seconds": round(wall, 1),
            "smoke": bool(args.smoke),
        }
        target = out_dir / path.name if out_dir else path
        write_atomically(target, nbformat.writes(nb))
        written.append(target)
        print(f"  {path.name}: {wall / 60:.1f} min -> {target}", flush=True)
    if written:
        table_path = (out_dir or NOTEBOOKS) / "RESULTS.md"
        sources = sorted(set(written) | (set() if out_dir else set(discover([]))))
        write_atomically(table_path, results_markdown(sources))
        print(f"  results table -> {table_path}", flush=True)
    if failed:
        print(f"  {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def result_bundles(path: Path) -> list[dict]:
    """Every result a notebook displayed, validated, once per model in cell order
    (a table of results shown earlier repeats them)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    found = {}
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells):
        for entry in bundles_in_outputs(cell.get("outputs", []), f"{path.name}: Cell {number}"):
            found.setdefault((entry["tutorial"], entry["model"]), entry)
    return list(found.values())


def bundles_in_outputs(outputs, where: str) -> list[dict]:
    """The result bundles among one cell's outputs, validated."""
    found = []
    for output in outputs:
        data = output.get("data", {})
        if RESULT_MIME not in data:
            continue
        value = data[RESULT_MIME]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as err:
                raise NotebookError(f"{where}: {RESULT_MIME} is not valid JSON ({err})") from err
        for entry in value if isinstance(value, list) else [value]:
            found.append(validate_result(entry, where))
    return found


def check_floors(nb, smoke: bool, label: str) -> None:
    """Fail a finished run whose results miss the floors in the notebook's metadata."""
    kind = "smoke" if smoke else "full"
    try:
        table = nbchecks.floors(nb.metadata, kind, label)
    except nbchecks.ChecksError as err:
        raise NotebookError(str(err)) from err
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    bundles = [entry for number, cell in enumerate(code_cells)
               for entry in bundles_in_outputs(cell.get("outputs", []), f"{label}: Cell {number}")]
    problems = nbchecks.failures(bundles, table, kind)
    problems += nbchecks.missing_results(bundles, table, kind)
    if problems:
        raise NotebookError(f"{label}: " + "; ".join(problems))


def validate_result(entry, where: str) -> dict:
    """Check one bundle has every key with the right type; the message says what is wrong."""
    if not isinstance(entry, dict):
        raise NotebookError(f"{where}: a result must be a JSON object, found {type(entry).__name__}")
    for key, kind in (RESULT_KEYS | OPTIONAL_RESULT_KEYS).items():
        if key not in entry:
            if key in OPTIONAL_RESULT_KEYS:
                continue
            raise NotebookError(f"{where}: result {entry} lacks the key '{key}'")
        value = entry[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise NotebookError(f"{where}: result key '{key}' = {value!r} has the wrong type")
        if isinstance(value, float) and not math.isfinite(value):
            raise NotebookError(f"{where}: result key '{key}' = {value!r} is not finite")
    if entry["metric"] not in METRICS:
        raise NotebookError(f"{where}: metric '{entry['metric']}' is not one of {METRICS}")
    top = 1 if entry["metric"] == "accuracy" else 100
    for key in ("published", "ours"):
        value = entry[key]
        if value is not None and not 0 <= value <= top:
            unit = "a fraction in [0, 1]" if top == 1 else "in percent, in [0, 100]"
            raise NotebookError(f"{where}: {entry['metric']} '{key}' = {value!r} must be {unit}")
    return entry


def in_percent(entry: dict, key: str) -> float | None:
    """An accuracy (a fraction) or an error (already in percent) as percent."""
    value = entry[key]
    if value is None or entry["metric"] == "error":
        return value
    return 100 * value


def percent(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f} %"


# Half the smallest step the table shows (0.01 pp): figures equal when rounded
# to two decimals in percent match (the same rule as dlkit::report::Comparison).
MATCH_PP = 0.005


def lead_pp(entry: dict) -> float | None:
    """How far ours is ahead of the published figure in percentage points, both
    rounded as shown; positive is better (higher accuracy, lower error)."""
    ours, published = in_percent(entry, "ours"), in_percent(entry, "published")
    if published is None:
        return None
    gap = round(ours, 2) - round(published, 2)
    return gap if entry["metric"] == "accuracy" else -gap


def verdict(entry: dict) -> str:
    """Our figure against the published one, in the words the notebooks show."""
    lead = lead_pp(entry)
    if lead is None:
        return "n/a (no published figure)"
    if abs(lead) < MATCH_PP:
        return "matches the tutorial"
    if lead > 0:
        return f"better than the tutorial (by {lead:.2f} pp)"
    return f"worse than the tutorial (by {-lead:.2f} pp)"


def minutes_of(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.1f}"


def results_markdown(notebooks: list[Path]) -> str:
    """The results table (markdown) of the given executed notebooks."""
    import nbformat

    rows = []
    notes = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        meta = nb.metadata.get("dlkit", {})
        wall = meta.get("wall_seconds")
        minutes = f"{wall / 60:.1f}" if isinstance(wall, (int, float)) else "not run"
        if meta.get("smoke"):
            notes.append(f"{path.name} holds a smoke run (DLKIT_SMOKE=1), not a full run.")
        bundles = result_bundles(path)
        if not bundles:
            notes.append(f"{path.name} displayed no {RESULT_MIME} result.")
        for entry in bundles:
            rows.append(
                f"| {entry['tutorial']} | {path.name} | {entry['model']} | {entry['metric']} "
                f"| {percent(in_percent(entry, 'published'))} | {percent(in_percent(entry, 'ours'))} | {verdict(entry)} "
                f"| {minutes_of(entry.get('train_seconds'))} | {minutes} |"
            )
    lines = [
        "# Results",
        "",
        "Written by `scripts/notebooks --execute` from the executed notebooks' "
        f"`{RESULT_MIME}` outputs; full runs on the kernel `rust` (evcxr).",
        "*Training* is the time spent in `fit`; *notebook* is the whole run, compiling included.",
        "",
        "| Tutorial | Notebook | Model | Metric | Published | Ours | Verdict "
        "| Training (min) | Notebook (min) |",
        "| --- | --- | --- | --- | ---: | ---: | --- | ---: | ---: |",
        *rows,
    ]
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def cmd_results(args) -> int:
    notebooks = discover(args.notebooks)
    table = results_markdown(notebooks)
    if args.write:
        write_atomically(Path(args.write), table)
        print(f"  results table -> {args.write}")
    else:
        print(table, end="")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nbtool.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=int, default=4 * 3600,
                        help="seconds one cell may take (default: 4 h)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("warmup", help="compile dlkit in a kernel slot").set_defaults(run=cmd_warmup)
    ex = sub.add_parser("execute", help="run notebooks top to bottom")
    ex.add_argument("--out", help="write executed copies here instead of in place")
    ex.add_argument("--smoke", action="store_true", help="set DLKIT_SMOKE=1 (needs --out)")
    ex.add_argument("notebooks", nargs="*")
    ex.set_defaults(run=cmd_execute)
    res = sub.add_parser("results", help="results table of executed notebooks")
    res.add_argument("--write", help="write the table to this file")
    res.add_argument("notebooks", nargs="*")
    res.set_defaults(run=cmd_results)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except NotebookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
