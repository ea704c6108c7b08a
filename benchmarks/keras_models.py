"""Keras 3 (TensorFlow CPU) reference for the dlkit training-speed benchmark.

Trains one of the tutorial models of `crates/dlkit/src/tutorials/zoo.rs` with the same
data preparation, batch size, optimizer and loss, times every epoch, evaluates
on the 10k test images (timing a second, warm `evaluate` for inference
throughput) and prints one JSON line on stdout (Keras' own per-epoch lines go
to stderr):

    python benchmarks/keras_models.py --model 002-simple-cnn --epochs 2 [--threads 2]
    python benchmarks/keras_models.py --list

An epoch's time is the wall time from Keras' `on_epoch_begin` to its
`on_epoch_end` callback: every training step (data feeding, forward, backward,
optimizer update) and, for the 002 and 003 models, which validate on the test
set each epoch as their tutorials do, that validation pass too. The first
epoch also pays for tracing the `tf.function`s of the train (and validation)
step; use 3 or more epochs so the median leaves it out.

By default TensorFlow's oneDNN kernels are on (`--onednn`) and the
channels-first recipes are built channels-last on the same data
(`--channels-first` for the tutorials' layout); README.md says why.

MNIST is read from `$DLKIT_DATASETS/mnist/*.gz` (default /work/shared/datasets),
never downloaded.
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

# Before TensorFlow is imported: its C++ logging reads this once.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"

from mnist_tutorials import list_recipes, load_mnist, prepare_y, recipe  # noqa: E402
from mnist_tutorials import prepare_x as prepare_x_as_in_tutorial  # noqa: E402

EVAL_BATCH = 256


def prepare_x(x, kind, channels_last_only):
    if kind == "channels_first" and channels_last_only:
        kind = "channels_last"  # with one channel, NCHW -> NHWC is a reshape
    return prepare_x_as_in_tutorial(x, kind)


# --- the models -----------------------------------------------------------


def build_model(r, channels_last_only):
    import keras
    from keras import layers

    # Stock TensorFlow on CPU trains NCHW convolutions only through oneDNN
    # (Eigen's conv backprop is NHWC-only); see --channels-last.
    cf = None if channels_last_only else "channels_first"
    image = (28, 28, 1) if channels_last_only else (1, 28, 28)
    relu = "relu"

    def conv(filters, k, activation=relu, data_format=None):
        return layers.Conv2D(filters, (k, k), activation=activation, data_format=data_format)

    def pool(data_format=None):
        return layers.MaxPooling2D((2, 2), data_format=data_format)

    if r.id == "000-mnist-cnn":
        stack = [
            keras.Input((28, 28, 1)),
            conv(32, 3),
            conv(64, 3),
            pool(),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation=relu),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    elif r.id == "001-cnn":
        stack = [
            keras.Input(image),
            conv(32, 3, data_format=cf),
            conv(32, 3, data_format=cf),
            pool(cf),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation=relu),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    elif r.id == "002-mlp":
        # The old init='normal': RandomNormal(0, 0.05) for kernels and biases.
        def normal():
            return keras.initializers.RandomNormal(mean=0.0, stddev=0.05)

        stack = [
            keras.Input((784,)),
            layers.Dense(784, activation=relu, kernel_initializer=normal(), bias_initializer=normal()),
            layers.Dense(10, activation="softmax", kernel_initializer=normal(), bias_initializer=normal()),
        ]
    elif r.id == "002-simple-cnn":
        stack = [
            keras.Input(image),
            conv(32, 5, data_format=cf),
            pool(cf),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(128, activation=relu),
            layers.Dense(10, activation="softmax"),
        ]
    elif r.id == "002-larger-cnn":
        stack = [
            keras.Input(image),
            conv(30, 5, data_format=cf),
            pool(cf),
            conv(15, 3, data_format=cf),
            pool(cf),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(128, activation=relu),
            layers.Dense(50, activation=relu),
            layers.Dense(10, activation="softmax"),
        ]
    elif r.id == "002-branching-cnn":
        # Notebook 002's functional model: two Same-padded branches on a 5x5 stem,
        # stacked on the channel axis of the layout in use.
        channel_axis = -1 if channels_last_only else 1
        inputs = keras.Input(image)
        stem = conv(16, 5, data_format=cf)(inputs)
        small = layers.Conv2D(15, (3, 3), padding="same", activation=relu, data_format=cf)(stem)
        wide = layers.Conv2D(15, (5, 5), padding="same", activation=relu, data_format=cf)(stem)
        x = layers.Concatenate(axis=channel_axis)([small, wide])
        x = pool(cf)(x)
        x = conv(15, 3, data_format=cf)(x)
        x = pool(cf)(x)
        x = layers.Dropout(0.2)(x)
        x = layers.Flatten()(x)
        x = layers.Dense(128, activation=relu)(x)
        x = layers.Dense(50, activation=relu)(x)
        outputs = layers.Dense(10, activation="softmax")(x)
        stack = None
    elif r.id == "003-cnn":
        stack = [
            keras.Input(image),
            conv(16, 5, data_format=cf),
            pool(cf),
            conv(16, 5, data_format=cf),
            pool(cf),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(128, activation=relu),
            layers.Dropout(0.2),
            layers.Dense(10),
            layers.Activation("softmax"),
        ]
    elif r.id == "004-dnn":
        stack = [
            keras.Input((28, 28)),
            layers.Flatten(),
            layers.Dense(128, activation=relu),
            layers.Dense(128, activation=relu),
            layers.Dense(10, activation="softmax"),
        ]
    elif r.id == "004-lstm":
        stack = [
            keras.Input((28, 28)),
            layers.LSTM(128, activation=relu, return_sequences=True),
            layers.Dropout(0.2),
            layers.LSTM(128, activation=relu),
            layers.Dropout(0.2),
            layers.Dense(32, activation=relu),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    elif r.id == "004-cnn":
        stack = [
            keras.Input((28, 28, 1)),
            conv(32, 3, activation=None),  # the tutorial's conv has no activation
            pool(),
            layers.Flatten(),
            layers.Dense(100, activation=relu),
            layers.Dense(10, activation="softmax"),
        ]
    else:
        raise ValueError(f"no Keras model for {r.id!r}")

    name = r.id.replace("-", "_")
    if stack is None:
        model = keras.Model(inputs, outputs, name=name)
    else:
        model = keras.Sequential(stack, name=name)
    if r.optimizer == "adadelta":
        # Keras 2's Adadelta(lr=1.0) of the classic mnist_cnn; Keras 3's default lr is 0.001.
        optimizer = keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7)
    else:
        optimizer = keras.optimizers.Adam()  # lr 1e-3, betas 0.9/0.999, epsilon 1e-7
    loss = "sparse_categorical_crossentropy" if r.sparse else "categorical_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


# --- timing ---------------------------------------------------------------


def epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall seconds of each epoch, validation included (Keras runs it before on_epoch_end)."""

        def __init__(self):
            super().__init__()
            self.seconds = []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


@contextlib.contextmanager
def native_stderr_silenced():
    """Sends file descriptor 2 to /dev/null: TensorFlow's C++ start-up messages
    (e.g. "oneDNN custom operations are on") are written before its logging
    reads TF_CPP_MIN_LOG_LEVEL. Python's own stderr is restored afterwards."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def configure_tensorflow(threads, inter_op_threads):
    with native_stderr_silenced():
        import keras  # noqa: F401  (loads TensorFlow's libraries, quietly)
        import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)
    return tf


def onednn_enabled():
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def run(args):
    r = recipe(args.model)
    tf = configure_tensorflow(args.threads, args.inter_op_threads)
    import keras

    keras.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = load_mnist()
    if args.train_samples is not None:
        x_train, y_train = x_train[: args.train_samples], y_train[: args.train_samples]
    cl = not args.channels_first
    x_train, x_test = prepare_x(x_train, r.input, cl), prepare_x(x_test, r.input, cl)
    y_train, y_test = prepare_y(y_train, r.sparse), prepare_y(y_test, r.sparse)

    model = build_model(r, cl)
    timer = epoch_timer()
    # Keras' per-epoch lines are useful to watch but must not mix with the JSON on stdout.
    with contextlib.redirect_stdout(sys.stderr):
        model.fit(
            x_train,
            y_train,
            batch_size=r.batch_size,
            epochs=args.epochs,
            validation_data=(x_test, y_test) if r.validates_on_test else None,
            callbacks=[timer],
            verbose=2,
        )
        _, accuracy = model.evaluate(x_test, y_test, batch_size=EVAL_BATCH, verbose=0)
        # That first call may also trace the test step (at this batch size):
        # inference is timed on a second, warm call.
        started = time.perf_counter()
        model.evaluate(x_test, y_test, batch_size=EVAL_BATCH, verbose=0)
        evaluate_seconds = time.perf_counter() - started

    n = len(x_train)
    conv_format = {
        "channels_first": "channels_last" if cl else "channels_first",
        "channels_last": "channels_last",
        "normalized_rows_channels_last": "channels_last",
    }.get(r.input)
    result = {
        "impl": "keras",
        "model": r.id,
        "epochs": args.epochs,
        "batch_size": r.batch_size,
        "train_samples": n,
        "seconds_per_epoch": timer.seconds,
        "samples_per_second": n / statistics.median(timer.seconds),
        "test_accuracy": float(accuracy),
        "test_samples": len(x_test),
        "evaluate_seconds": evaluate_seconds,
        "evaluate_batch_size": EVAL_BATCH,
        "threads": args.threads,
        "keras_config": {
            "inter_op_threads": args.inter_op_threads,
            "onednn": onednn_enabled(),
            "conv_data_format": conv_format,
            "jit_compile": bool(model.jit_compile),
        },
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
    print(json.dumps(result), flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="tutorial model id (see --list)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads (default 2)")
    p.add_argument(
        "--inter-op-threads",
        type=int,
        default=None,
        help="TensorFlow inter-op threads (default: same as --threads)",
    )
    p.add_argument(
        "--channels-first",
        action="store_true",
        help="build the channels-first recipes channels-first, as the tutorials do; needs "
        "oneDNN (TensorFlow's own CPU conv backprop is NHWC-only) and is slower than the "
        "default, which builds them channels-last on transposed data",
    )
    p.add_argument(
        "--onednn",
        choices=["on", "off", "default"],
        default="on",
        help="TensorFlow's oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS): TensorFlow turns them "
        "on by itself only on CPUs with AVX-512 VNNI/BF16/AMX; 'default' leaves that choice "
        "to TensorFlow (default: on)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train-samples", type=int, default=None, help="train on the first N images only")
    p.add_argument("--list", action="store_true", help="list the model ids and exit")
    args = p.parse_args(argv)
    if args.list:
        return args
    if not args.model:
        p.error("give --model <id> (see --list)")
    if args.epochs < 1 or args.threads < 1:
        p.error("--epochs and --threads must be at least 1")
    if args.inter_op_threads is None:
        args.inter_op_threads = args.threads
    if args.train_samples is not None and not 1 <= args.train_samples <= 60000:
        p.error("--train-samples must be in 1..=60000")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        list_recipes()
        return
    # Read by TensorFlow when it loads, which happens only inside run().
    if args.onednn != "default":
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if args.onednn == "on" else "0"
    run(args)


if __name__ == "__main__":
    main()
