"""A plain PyTorch CPU script doing the work of `optbench train` on the lecture's MLP: the reference
`make bench` times `optbench train` against.

    python benchmarks/reference_torch.py DATA_DIR [--steps 2000] [--optimizer adam] [--lr 0.001]

Deliberately written as a PyTorch user would write it, independent of optbench: the four raw IDX
files read with NumPy, a 784-100-100-100-100-10 ReLU network of `torch.nn.Linear` layers with He
(Kaiming normal) weights and zero biases, cross-entropy, `torch.optim`, batches of 128 drawn without
replacement from the first 50,000 training images, and every 100 updates the loss and accuracy on the
other 10,000 (validation) and on the test set. torch runs eagerly with its default threads. It
writes nothing; it prints the final numbers and its own training time.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

SIZES = (784, 100, 100, 100, 100, 10)
BATCH = 128
VALIDATION = 10_000
EVAL_EVERY = 100


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (big-endian header: zero, zero, type, rank; then the dimensions) as an array."""
    raw = path.read_bytes()
    rank = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=rank, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(tuple(int(d) for d in dims))


def load(data_dir: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(data_dir / f"{prefix}-images-idx3-ubyte")
    labels = read_idx(data_dir / f"{prefix}-labels-idx1-ubyte")
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255)
    return x, torch.from_numpy(labels.astype(np.int64))


def build_model() -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(SIZES)):
        linear = nn.Linear(n_in, n_out)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(SIZES) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


# The ignores cover a venv without torch, where the decorator is untyped, and one with it, where not.
@torch.no_grad()  # type: ignore[untyped-decorator, unused-ignore]
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y).item()
    return loss, (logits.argmax(dim=1) == y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    torch.manual_seed(args.seed)
    x_all, y_all = load(args.data_dir, "train")
    x_test, y_test = load(args.data_dir, "t10k")
    order = torch.randperm(len(x_all))
    train_rows, val_rows = order[VALIDATION:], order[:VALIDATION]
    x_train, y_train = x_all[train_rows], y_all[train_rows]
    x_val, y_val = x_all[val_rows], y_all[val_rows]

    model = build_model()
    optimizer_class = torch.optim.Adam if args.optimizer == "adam" else torch.optim.SGD
    optimizer = optimizer_class(model.parameters(), lr=args.lr)
    losses = []
    perm = torch.randperm(len(x_train))
    pos = 0
    for step in range(1, args.steps + 1):
        if pos + BATCH > len(perm):
            perm, pos = torch.randperm(len(x_train)), 0
        rows = perm[pos : pos + BATCH]
        pos += BATCH
        loss = nn.functional.cross_entropy(model(x_train[rows]), y_train[rows])
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
        optimizer.step()
        losses.append(loss.item())
        if step % EVAL_EVERY == 0 or step == args.steps:
            val = evaluate(model, x_val, y_val)
            test = evaluate(model, x_test, y_test)
    elapsed = time.perf_counter() - start
    print(
        f"final loss {np.mean(losses[-100:]):.4f}, val_acc {val[1]:.4f}, test_acc {test[1]:.4f}, "
        f"{elapsed:.2f} s, {torch.get_num_threads()} threads"
    )


if __name__ == "__main__":
    main()
