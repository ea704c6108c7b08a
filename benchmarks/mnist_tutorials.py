"""What the Keras and PyTorch references of the benchmark share: the tutorial
recipes of `crates/dlkit/src/tutorials/zoo.rs`, MNIST read from gzipped IDX files, and the
tutorials' preprocessing in NumPy. Needs NumPy only, no framework.

MNIST is read from `$DLKIT_DATASETS/mnist/*.gz` (default /work/shared/datasets),
never downloaded.
"""

import gzip
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_DATASETS = "/work/shared/datasets"
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
TEST_SAMPLES = 10000


@dataclass(frozen=True)
class Recipe:
    """One tutorial model with its training settings, as in dlkit's zoo."""

    id: str
    tutorial: str
    # "flat", "channels_first", "channels_last", "normalized_rows",
    # "normalized_rows_channels_last" (see prepare_x).
    input: str
    sparse: bool  # integer labels + sparse CE, else one-hot + categorical CE
    optimizer: str  # "adam" or "adadelta"
    batch_size: int
    epochs: int  # the tutorial's, for --list only

    @property
    def validates_on_test(self):
        # 002 and 003 pass validation_data=(X_test, y_test) to fit.
        return self.tutorial in ("002", "003")


RECIPES = [
    Recipe("000-mnist-cnn", "000", "channels_last", False, "adadelta", 128, 12),
    Recipe("001-cnn", "001", "channels_first", False, "adam", 32, 10),
    Recipe("002-mlp", "002", "flat", False, "adam", 200, 10),
    Recipe("002-simple-cnn", "002", "channels_first", False, "adam", 200, 10),
    Recipe("002-larger-cnn", "002", "channels_first", False, "adam", 200, 10),
    Recipe("002-branching-cnn", "002", "channels_first", False, "adam", 200, 10),
    Recipe("003-cnn", "003", "channels_first", False, "adam", 200, 8),
    Recipe("004-dnn", "004", "normalized_rows", True, "adam", 32, 5),
    Recipe("004-lstm", "004", "normalized_rows", True, "adam", 32, 5),
    Recipe("004-cnn", "004", "normalized_rows_channels_last", True, "adam", 32, 5),
]


def program():
    """The running script's name, for error messages."""
    return Path(sys.argv[0]).name or "benchmark"


def recipe(model_id):
    for r in RECIPES:
        if r.id == model_id:
            return r
    ids = ", ".join(r.id for r in RECIPES)
    raise SystemExit(f"{program()}: no tutorial model {model_id!r}; there are: {ids}")


def list_recipes():
    for r in RECIPES:
        print(f"{r.id:17} batch {r.batch_size:3}, {r.epochs:2} epochs, {r.optimizer}, {r.input}")


# --- MNIST from IDX files -------------------------------------------------


def read_idx(path, magic):
    """The array in one gzipped IDX file (unsigned bytes, big-endian dims)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: {len(data)} bytes, too short for an IDX header")
    found = int.from_bytes(data[0:4], "big")
    if found != magic:
        raise ValueError(f"{path}: IDX magic {found:#010x}, expected {magic:#010x}")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: dims {dims} need {expected} bytes of data, the file has {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist():
    """((x_train, y_train), (x_test, y_test)) as uint8, like keras.datasets.mnist.load_data()."""
    root = Path(os.environ.get("DLKIT_DATASETS", DEFAULT_DATASETS)) / "mnist"

    def pair(prefix):
        x = read_idx(root / f"{prefix}-images-idx3-ubyte.gz", IMAGES_MAGIC)
        y = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz", LABELS_MAGIC)
        if len(x) != len(y):
            raise ValueError(f"{root}: {len(x)} {prefix} images but {len(y)} labels")
        return x, y

    try:
        return pair("train"), pair("t10k")
    except FileNotFoundError as e:
        raise SystemExit(
            f"{program()}: {e.filename} not found; set DLKIT_DATASETS to the folder "
            "that holds mnist/*.gz"
        ) from None


# --- the tutorials' preprocessing -----------------------------------------


def normalize(x, axis):
    """keras.utils.normalize(x, axis) for a NumPy array (its own NumPy branch):
    divides by the L2 norm along `axis`, leaving all-zero slices as they are."""
    norm = np.atleast_1d(np.linalg.norm(x, 2, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def prepare_x(x, kind):
    """The tutorial's float32 input from raw (N, 28, 28) uint8 images."""
    n = x.shape[0]
    if kind == "flat":
        return x.reshape(n, 784).astype("float32") / 255.0
    if kind == "channels_first":
        return x.reshape(n, 1, 28, 28).astype("float32") / 255.0
    if kind == "channels_last":
        return x.reshape(n, 28, 28, 1).astype("float32") / 255.0
    # normalize returns float64 for the tutorial's uint8 input; dlkit computes
    # in f32, and float32 input spares the frameworks a cast in every step.
    if kind == "normalized_rows":
        return normalize(x, axis=1).astype("float32")
    if kind == "normalized_rows_channels_last":
        return normalize(x.reshape(n, 28, 28, 1).astype("float32"), axis=1).astype("float32")
    raise ValueError(f"unknown input preparation {kind!r}")


def prepare_y(y, sparse):
    """Integer labels for the sparse losses, else one-hot rows (to_categorical)."""
    if sparse:
        return y.astype("int32")
    return np.eye(10, dtype="float32")[y]
