"""pytest set-up of the notebook execution tests (nbval on the `rust` kernel).

* nbval runs every collected notebook on the kernel `rust` (whatever its
  metadata says), masks varying output with nbval-sanitize.cfg, and gives a cell
  a generous timeout: a cold evcxr build of candle takes minutes.
* A cell whose code fails at run time fails its test even though evcxr
  replies "ok" (see nbtool.runtime_error): anything on stderr counts, unless
  the cell is tagged `dlkit-stderr-ok` (a panic counts regardless).
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
from nbtool import STDERR_OK_TAG, runtime_error  # noqa: E402


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail an nbval cell that failed at run time although evcxr replied "ok".

    evcxr 0.22 reports an error returned with `?`, and a panic, only as stderr
    text; nbval alone would pass such a cell.
    """
    result = yield
    outputs = getattr(item, "test_outputs", None)
    cell = getattr(item, "cell", None)
    if outputs is not None and cell is not None:
        stderr = runtime_error(outputs, cell.metadata.get("tags", []))
        if stderr is not None:
            pytest.fail(
                "cell failed at run time (evcxr reports it on stderr only; tag the cell "
                f"{STDERR_OK_TAG} if that output is expected):\n{stderr}",
                pytrace=False,
            )
    return result
