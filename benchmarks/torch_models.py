"""PyTorch (CPU, eager) reference for the dlkit training-speed benchmark.

Trains one of the tutorial models of `crates/dlkit/src/tutorials/zoo.rs` with the same
data preparation, batch size, optimizer, loss and (Keras') initialisers as
keras_models.py, times every epoch, evaluates on the 10k test images (timing a
second, warm pass for inference throughput) and prints one JSON line on stdout
in the schema of keras_models.py, with "impl": "pytorch" (per-epoch progress
lines go to stderr):

    python benchmarks/torch_models.py --model 002-simple-cnn --epochs 2 [--threads 2]
    python benchmarks/torch_models.py --list

An epoch's time is the wall time of one pass over the shuffled training set
(batch gathering, forward, loss, backward, optimizer step) and, for the 002 and
003 models, which validate on the test set each epoch as their tutorials do,
that validation pass too, as in keras_models.py.

Differences from Keras that do not change the arithmetic: the models end in
logits and the loss applies the softmax (`F.cross_entropy`, which also takes
the one-hot targets of the categorical recipes), and every image model is
channels-first, PyTorch's native layout (with one channel, the channels-last
recipes' data is the same bytes; only the order of the flattened features
differs).
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_tutorials import list_recipes, load_mnist, prepare_x, prepare_y, recipe

EVAL_BATCH = 256


# --- the models -----------------------------------------------------------


class ReluLSTM(nn.Module):
    """Keras' LSTM(units, activation="relu"): sigmoid gates, relu on the
    candidate and on the cell state's output. nn.LSTM has tanh only.

    Weights are kept in Keras' layout (kernel (inputs, 4 units), recurrent
    kernel (units, 4 units), gates in the order i, f, c, o) and initialised as
    Keras does: glorot_uniform kernel, orthogonal recurrent kernel, zero bias
    with ones for the forget gate (unit_forget_bias).
    """

    def __init__(self, inputs, units, return_sequences=False):
        super().__init__()
        self.units = units
        self.return_sequences = return_sequences
        self.kernel = nn.Parameter(torch.empty(inputs, 4 * units))
        self.recurrent_kernel = nn.Parameter(torch.empty(units, 4 * units))
        self.bias = nn.Parameter(torch.zeros(4 * units))
        nn.init.xavier_uniform_(self.kernel)
        # orthogonal_ on a wide matrix makes its rows orthonormal, as Keras' Orthogonal does.
        nn.init.orthogonal_(self.recurrent_kernel)
        with torch.no_grad():
            self.bias[units : 2 * units] = 1.0

    def forward(self, x):
        n, steps, _ = x.shape
        # The input's share of every step's gates in one product, outside the loop.
        x_gates = torch.matmul(x, self.kernel) + self.bias
        h = x.new_zeros(n, self.units)
        c = x.new_zeros(n, self.units)
        outputs = []
        for t in range(steps):
            z = torch.addmm(x_gates[:, t], h, self.recurrent_kernel)
            i, f, g, o = z.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.relu(g)
            h = torch.sigmoid(o) * torch.relu(c)
            if self.return_sequences:
                outputs.append(h)
        return torch.stack(outputs, dim=1) if self.return_sequences else h


class BranchingCNN(nn.Module):
    """Notebook 002's functional model: a 5x5 stem, a 3x3 and a 5x5 branch
    (Same padding keeps both 24x24) concatenated on the channel axis, then the
    larger CNN's remaining layers; ends in logits."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 5)
        self.small = nn.Conv2d(16, 15, 3, padding="same")
        self.wide = nn.Conv2d(16, 15, 5, padding="same")
        self.head = nn.Sequential(
            nn.MaxPool2d(2), nn.Conv2d(30, 15, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.2),
            nn.Flatten(), nn.Linear(15 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 50), nn.ReLU(),
            nn.Linear(50, 10),
        )

    def forward(self, x):
        stem = torch.relu(self.stem(x))
        joined = torch.cat([torch.relu(self.small(stem)), torch.relu(self.wide(stem))], dim=1)
        return self.head(joined)


def keras_init(model):
    """Keras' defaults where PyTorch's differ: glorot_uniform kernels, zero biases."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def build_model(r):
    """The recipe's layers, ending in logits (the loss applies the softmax)."""
    relu = nn.ReLU

    def conv(cin, cout, k, activation=True):
        layers = [nn.Conv2d(cin, cout, k)]
        return layers + [relu()] if activation else layers

    def dense(nin, nout, activation=True):
        layers = [nn.Linear(nin, nout)]
        return layers + [relu()] if activation else layers

    def pool():
        return nn.MaxPool2d(2)

    def flatten():
        return nn.Flatten()

    if r.id == "000-mnist-cnn":
        stack = [*conv(1, 32, 3), *conv(32, 64, 3), pool(), nn.Dropout(0.25), flatten(),
                 *dense(64 * 12 * 12, 128), nn.Dropout(0.5), *dense(128, 10, activation=False)]
    elif r.id == "001-cnn":
        stack = [*conv(1, 32, 3), *conv(32, 32, 3), pool(), nn.Dropout(0.25), flatten(),
                 *dense(32 * 12 * 12, 128), nn.Dropout(0.5), *dense(128, 10, activation=False)]
    elif r.id == "002-mlp":
        stack = [*dense(784, 784), *dense(784, 10, activation=False)]
    elif r.id == "002-simple-cnn":
        stack = [*conv(1, 32, 5), pool(), nn.Dropout(0.2), flatten(),
                 *dense(32 * 12 * 12, 128), *dense(128, 10, activation=False)]
    elif r.id == "002-larger-cnn":
        stack = [*conv(1, 30, 5), pool(), *conv(30, 15, 3), pool(), nn.Dropout(0.2), flatten(),
                 *dense(15 * 5 * 5, 128), *dense(128, 50), *dense(50, 10, activation=False)]
    elif r.id == "002-branching-cnn":
        stack = None
    elif r.id == "003-cnn":
        stack = [*conv(1, 16, 5), pool(), *conv(16, 16, 5), pool(), nn.Dropout(0.2), flatten(),
                 *dense(16 * 4 * 4, 128), nn.Dropout(0.2), *dense(128, 10, activation=False)]
    elif r.id == "004-dnn":
        stack = [flatten(), *dense(784, 128), *dense(128, 128), *dense(128, 10, activation=False)]
    elif r.id == "004-lstm":
        stack = [ReluLSTM(28, 128, return_sequences=True), nn.Dropout(0.2), ReluLSTM(128, 128),
                 nn.Dropout(0.2), *dense(128, 32), nn.Dropout(0.2), *dense(32, 10, activation=False)]
    elif r.id == "004-cnn":
        # The tutorial's conv has no activation.
        stack = [*conv(1, 32, 3, activation=False), pool(), flatten(),
                 *dense(32 * 13 * 13, 100), *dense(100, 10, activation=False)]
    else:
        raise ValueError(f"no PyTorch model for {r.id!r}")

    model = BranchingCNN() if stack is None else nn.Sequential(*stack)
    if r.id == "002-mlp":
        # The old init='normal': N(0, 0.05) for kernels and biases.
        for p in model.parameters():
            nn.init.normal_(p, mean=0.0, std=0.05)
    else:
        keras_init(model)
    return model


def make_optimizer(r, params):
    if r.optimizer == "adadelta":
        # Keras 2's Adadelta(lr=1.0) of the classic mnist_cnn, with Keras' rho and epsilon.
        return torch.optim.Adadelta(params, lr=1.0, rho=0.95, eps=1e-7)
    # Keras' Adam: lr 1e-3, betas 0.9/0.999, epsilon 1e-7 (PyTorch's default is 1e-8;
    # Keras adds it before the bias correction of the second moment, a negligible difference).
    return torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7)


# --- data, training, evaluation ------------------------------------------


def tensors(x, y, r):
    """(inputs, loss targets, integer labels) as torch tensors, images channels-first."""
    x = prepare_x(x, r.input)
    if x.ndim == 4:
        x = x.reshape(len(x), 1, 28, 28)  # one channel: NHWC and NCHW are the same bytes
    targets = prepare_y(y, r.sparse)
    if r.sparse:
        targets = targets.astype(np.int64)  # F.cross_entropy's class indices
    return torch.from_numpy(x), torch.from_numpy(targets), torch.from_numpy(y.astype(np.int64))


def train_epoch(model, optimizer, x, targets, labels, batch_size, generator):
    """One pass over the shuffled data (as Keras' fit shuffles); mean loss and accuracy."""
    model.train()
    n = len(x)
    order = torch.randperm(n, generator=generator)
    loss_sum = torch.zeros(())
    correct = torch.zeros((), dtype=torch.int64)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        logits = model(x[idx])
        loss = F.cross_entropy(logits, targets[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        # Running metrics, as Keras keeps for its epoch line.
        loss_sum += loss.detach() * len(idx)
        correct += (logits.detach().argmax(dim=1) == labels[idx]).sum()
    return loss_sum.item() / n, correct.item() / n


def evaluate(model, x, targets, labels, batch_size):
    """Mean loss and accuracy on (x, targets), no gradients, dropout off."""
    model.eval()
    n = len(x)
    loss_sum = 0.0
    correct = 0
    with torch.no_grad():
        for start in range(0, n, batch_size):
            logits = model(x[start : start + batch_size])
            loss_sum += F.cross_entropy(logits, targets[start : start + batch_size], reduction="sum").item()
            correct += (logits.argmax(dim=1) == labels[start : start + batch_size]).sum().item()
    return loss_sum / n, correct / n


def run(args):
    r = recipe(args.model)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = load_mnist()
    if args.train_samples is not None:
        x_train, y_train = x_train[: args.train_samples], y_train[: args.train_samples]
    x_train, t_train, l_train = tensors(x_train, y_train, r)
    x_test, t_test, l_test = tensors(x_test, y_test, r)

    model = build_model(r)
    optimizer = make_optimizer(r, model.parameters())
    seconds = []
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        loss, accuracy = train_epoch(model, optimizer, x_train, t_train, l_train, r.batch_size, generator)
        line = f"loss: {loss:.4f} - accuracy: {accuracy:.4f}"
        if r.validates_on_test:
            # Keras validates at the training batch size unless told otherwise.
            val_loss, val_accuracy = evaluate(model, x_test, t_test, l_test, r.batch_size)
            line += f" - val_loss: {val_loss:.4f} - val_accuracy: {val_accuracy:.4f}"
        seconds.append(time.perf_counter() - started)
        print(f"Epoch {epoch}/{args.epochs} - {seconds[-1]:.2f}s - {line}", file=sys.stderr, flush=True)

    _, test_accuracy = evaluate(model, x_test, t_test, l_test, EVAL_BATCH)
    # Timed on a second pass, as keras_models.py does for its traced test step.
    started = time.perf_counter()
    evaluate(model, x_test, t_test, l_test, EVAL_BATCH)
    evaluate_seconds = time.perf_counter() - started

    n = len(x_train)
    result = {
        "impl": "pytorch",
        "model": r.id,
        "epochs": args.epochs,
        "batch_size": r.batch_size,
        "train_samples": n,
        "seconds_per_epoch": seconds,
        "samples_per_second": n / statistics.median(seconds),
        "test_accuracy": test_accuracy,
        "test_samples": len(x_test),
        "evaluate_seconds": evaluate_seconds,
        "evaluate_batch_size": EVAL_BATCH,
        "threads": torch.get_num_threads(),
        "torch_config": {
            "interop_threads": torch.get_num_interop_threads(),
            "mkldnn": torch.backends.mkldnn.is_available(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "conv_data_format": "channels_first" if x_train.ndim == 4 else None,
        },
        "versions": {"torch": torch.__version__},
    }
    print(json.dumps(result), flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="tutorial model id (see --list)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads (default 2)")
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
    if args.train_samples is not None and not 1 <= args.train_samples <= 60000:
        p.error("--train-samples must be in 1..=60000")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        list_recipes()
        return
    run(args)


if __name__ == "__main__":
    main()
