"""The project's `rust` kernel as a user meets it, driven through jupyter_client.

* Jupyter's interrupt during `fit` stops the training after its batch: the cell
  ends with the History so far and the notebook's variables survive.
* An interrupt while no `fit` runs ends the process that runs the cells (as
  evcxr's own interrupt does); the kernel answers the next cell.
* A dlkit rebuilt while a kernel has the old one loaded is refused with a
  message that says to restart the kernel, instead of being silently ignored.

Each test starts its own kernel in a free slot (crates/dlkit-kernel).
"""

import os
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "scripts" / "lib"))
import nbtool  # noqa: E402

DEP = ':dep dlkit = { path = "../../crates/dlkit-dylib", package = "dlkit-dylib" }'


class Kernel:
    """A started `rust` kernel and its client; `run` executes one cell."""

    def __init__(self):
        from jupyter_client.manager import start_new_kernel
        os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
        self.manager, self.client = start_new_kernel(
            kernel_name="rust", cwd=str(HERE), startup_timeout=120)

    def run(self, code, timeout=1800, on_output=None):
        """Executes `code`; returns (reply status, stdout, stderr, text/plain result)."""
        return nbtool.execute_code(self.client, code, timeout, on_output)

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel():
    k = Kernel()
    status, _, err, _ = k.run(DEP)
    assert status == "ok", err
    yield k
    k.close()


TRAINING_SET_UP = """
use dlkit::prelude::*;
use dlkit::layers::Activation::{Relu, Softmax};
let x = Tensor::arange(0f32, 2048f32, &Device::Cpu)?.reshape((256, 8))?.sin()?;
let labels: Vec<u8> = (0..256u32).map(|i| (i % 3) as u8).collect();
let y = Tensor::from_vec(labels, 256, &Device::Cpu)?;
let mut model = Sequential::with_seed(1);
model.add(Dense::new(32).input_dim(8).activation(Relu))?;
model.add(Dense::new(3).activation(Softmax))?;
model.compile(Loss::SparseCategoricalCrossentropy, Adam::default(), &[Metric::Accuracy])?;
y.max(0)?.to_scalar::<u8>()?
"""


def test_interrupt_stops_fit_and_keeps_the_variables(kernel):
    status, _, err, shown = kernel.run(TRAINING_SET_UP)
    assert status == "ok" and not err, err
    assert shown == "2", f"labels 0..=2 expected, max is {shown}"

    interrupted = []

    def interrupt_once_training_runs(stdout):
        # verbose(2) prints one line per epoch: interrupt after the second
        if not interrupted and "Epoch 2/" in stdout:
            interrupted.append(time.monotonic())
            kernel.manager.interrupt_kernel()

    status, out, err, shown = kernel.run(
        "let history = model.fit(&x, &y, FitOptions::new().epochs(1_000_000).batch_size(32)"
        ".verbose(2))?;\nhistory.epochs()",
        timeout=600, on_output=interrupt_once_training_runs)
    assert interrupted, f"training never printed its second epoch:\n{out}\n{err}"
    assert status == "ok" and not err, err
    assert "interrupted in epoch" in out, out
    assert shown is not None and 2 <= int(shown) < 1_000_000, shown
    assert time.monotonic() - interrupted[0] < 30, "fit did not stop soon after the interrupt"

    # The model, the data and the history are all still there.
    status, out, err, shown = kernel.run(
        "let scores = model.evaluate(&x, &y)?;\n"
        "(history.stopped_early.is_some(), scores.loss.is_finite())")
    assert status == "ok" and not err, err
    assert shown == "(true, true)", shown


def test_interrupt_outside_fit_ends_the_running_code(kernel):
    started = []

    def interrupt_when_started(stdout):
        if not started and "sleeping" in stdout:
            started.append(1)
            kernel.manager.interrupt_kernel()

    t0 = time.monotonic()
    status, out, err, _ = kernel.run(
        'let kept = 5;\nprintln!("sleeping");\nstd::thread::sleep(std::time::Duration::from_secs(120));',
        timeout=300, on_output=interrupt_when_started)
    assert started, out
    assert time.monotonic() - t0 < 90, "the interrupt did not end the sleeping cell"
    # The kernel itself survived and answers.
    status, out, err, shown = kernel.run("40 + 2")
    assert status == "ok" and shown == "42", (status, out, err, shown)


def test_rebuilt_dlkit_is_refused_while_loaded(kernel):
    status, _, err, shown = kernel.run("dlkit::Tensor::new(&[1f32, 2.], &dlkit::Device::Cpu)?.dims().len()")
    assert status == "ok" and shown == "1", (status, err, shown)
    # Any change of dlkit's sources makes cargo rebuild the shared library;
    # the facade's own source is the cheapest one to change.
    source = REPO / "crates" / "dlkit-dylib" / "src" / "lib.rs"
    os.utime(source)
    status, out, err, shown = kernel.run("1 + 1")
    message = out + err
    assert status != "ok" or shown != "2", (status, out, err, shown)
    assert "dlkit has changed since this notebook kernel" in message, message
    assert "Restart the kernel" in message, message
    # After a restart the new build loads.
    kernel.manager.restart_kernel(now=True)
    kernel.client.wait_for_ready(timeout=120)
    status, _, err, _ = kernel.run(DEP)
    assert status == "ok", err
    status, out, err, shown = kernel.run("dlkit::Tensor::new(&[1f32], &dlkit::Device::Cpu)?.dims().len()")
    assert status == "ok" and shown == "1", (status, out, err, shown)


def test_backup_and_restore_resumes_after_a_kernel_restart(kernel, tmp_path):
    backup = tmp_path / "backup"
    fit = (f'model.fit(&x, &y, FitOptions::new().epochs({{epochs}}).batch_size(32).verbose(2)'
           f'.callback(BackupAndRestore::new("{backup}")))?')
    status, _, err, _ = kernel.run(TRAINING_SET_UP)
    assert status == "ok" and not err, err

    # First half: interrupted after its second epoch, the backup stays.
    interrupted = []

    def interrupt_after_two_epochs(stdout):
        if not interrupted and "Epoch 3/" in stdout:
            interrupted.append(1)
            kernel.manager.interrupt_kernel()

    status, out, err, shown = kernel.run(
        "let first = " + fit.format(epochs=1_000_000) + ";\nfirst.epochs()",
        timeout=600, on_output=interrupt_after_two_epochs)
    assert interrupted and status == "ok" and not err, (out, err)
    done = int(shown)
    assert done >= 2 and (backup / "backup.safetensors").is_file(), (shown, list(tmp_path.iterdir()))

    # The kernel restarts: every variable is gone, the backup is on disk.
    kernel.manager.restart_kernel(now=True)
    kernel.client.wait_for_ready(timeout=120)
    status, _, err, _ = kernel.run(DEP)
    assert status == "ok", err
    status, _, err, _ = kernel.run(TRAINING_SET_UP)
    assert status == "ok" and not err, err

    # Second half: the same cell resumes and ends where an uninterrupted run ends.
    total = done + 2
    status, out, err, shown = kernel.run(
        "let resumed = " + fit.format(epochs=total) + ";\n"
        "let mut fresh = Sequential::with_seed(1);\n"
        "fresh.add(Dense::new(32).input_dim(8).activation(Relu))?;\n"
        "fresh.add(Dense::new(3).activation(Softmax))?;\n"
        "fresh.compile(Loss::SparseCategoricalCrossentropy, Adam::default(), &[Metric::Accuracy])?;\n"
        f"let straight = fresh.fit(&x, &y, FitOptions::new().epochs({total}).batch_size(32).verbose(0))?;\n"
        "(resumed.epochs(), resumed.loss() == straight.loss())")
    assert status == "ok" and not err, (out, err)
    assert shown == f"({total}, true)", (shown, out)
    assert not (backup / "backup.safetensors").exists(), "the backup outlived a finished fit"
