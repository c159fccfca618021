"""The seed experiment: the same CNN, the same data, the same initial weights; fed sorted by label, or shuffled.

    python examples/ordered_vs_shuffled.py            # prints the table, saves ordered_vs_shuffled.png here
    python examples/ordered_vs_shuffled.py --no-plot  # table only (no matplotlib needed)

The data is synthetic and generated here (no download): 10 classes of 3x16x16 "images", each class
a coloured pattern (a blob at a class-specific place, stripes of a class-specific frequency) under
heavy pixel noise. Stored sorted by label, as datasets often are on disk. Feeding it with
``DataLoader(shuffle=False)`` trains the model on class 0 for a while, then class 1, ...: each
block undoes the last, and the model ends up predicting the class it saw last. With
``shuffle=True`` the same model on the same data learns all ten classes.

At the end, loadercheck's probe measures the same harm on the sorted loader in a few seconds.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

CLASSES = 10
TRAIN_PER_CLASS = 600
TEST_PER_CLASS = 50
BATCH_SIZE = 32
EPOCHS = 2
LR = 1e-3
FIGURE = Path("ordered_vs_shuffled.png")
"""Saved in the working directory (never into the repository's docs/: docs/img holds the published copy)."""


def make_images(per_class: int, seed: int) -> TensorDataset:
    """``per_class`` noisy images of each class, sorted by label."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    patterns = []
    for c in range(CLASSES):
        cy, cx = 3 + 10 * (c % 3) / 2, 3 + 10 * (c // 3) / 3
        blob = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0)
        stripes = torch.sin((xx + yy) * (0.3 + 0.15 * c))
        colour = torch.tensor([(c * 37 % 10) / 10, (c * 53 % 10) / 10, (c * 71 % 10) / 10])[:, None, None]
        patterns.append(colour * blob + 0.5 * stripes)
    patterns = torch.stack(patterns)  # (10, 3, 16, 16)
    labels = torch.arange(CLASSES).repeat_interleave(per_class)
    images = patterns[labels] + 1.2 * torch.randn(labels.numel(), 3, 16, 16, generator=g)
    return TensorDataset(images, labels)


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, CLASSES),
    )


def sorted_loader(train: TensorDataset) -> DataLoader:
    """The bug: shuffle=False on data stored sorted by label."""
    return DataLoader(train, batch_size=BATCH_SIZE, shuffle=False)


def shuffled_loader(train: TensorDataset) -> DataLoader:
    """The fix: shuffle=True (seeded here so the run is reproducible)."""
    return DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(0))


def evaluate(model: nn.Module, test: TensorDataset) -> tuple[float, float]:
    x, y = test.tensors
    model.eval()
    with torch.no_grad():
        out = model(x)
        loss = nn.functional.cross_entropy(out, y).item()
        acc = (out.argmax(1) == y).float().mean().item()
    model.train()
    return loss, acc


def train(model: nn.Module, loader: DataLoader, test: TensorDataset, every: int = 25) -> list[tuple[int, int, float, float]]:
    """Adam for EPOCHS epochs; returns (epoch, step, test loss, test accuracy) every ``every`` steps."""
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    curve = [(0, 0, *evaluate(model, test))]
    step = 0
    for epoch in range(1, EPOCHS + 1):
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % every == 0:
                curve.append((epoch, step, *evaluate(model, test)))
        if curve[-1][1] != step:
            curve.append((epoch, step, *evaluate(model, test)))
    return curve


def save_figure(curves: dict[str, list[tuple[int, int, float, float]]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    colours = {"sorted by label (shuffle=False)": "#d62728", "shuffled (shuffle=True)": "#1f77b4"}
    for i, (column, name) in enumerate(((2, "test loss"), (3, "test accuracy (%)"))):
        ax = fig.add_subplot(1, 2, i + 1)
        for label, curve in curves.items():
            steps = [row[1] for row in curve]
            values = [row[column] * (100 if column == 3 else 1) for row in curve]
            ax.plot(steps, values, color=colours[label], label=label, linewidth=1.8)
        per_epoch = -(-CLASSES * TRAIN_PER_CLASS // BATCH_SIZE)
        for e in range(1, EPOCHS):
            ax.axvline(e * per_epoch, color="#999999", linewidth=0.8, linestyle=":")
        ax.set_xlabel("optimiser step (dotted: epoch boundaries)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if i == 1:
            ax.set_ylim(0, 100)
            ax.legend(loc="center right", fontsize=9)
    fig.suptitle("Same CNN, same data, same initial weights: label-sorted feed vs shuffled feed",
                 x=0.01, ha="left", fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, metadata={"Software": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-plot", action="store_true", help="do not save the figure")
    parser.add_argument("--figure", type=Path, default=FIGURE)
    parser.add_argument("--no-probe", action="store_true", help="skip the loadercheck probe at the end")
    args = parser.parse_args()

    train_set, test_set = make_images(TRAIN_PER_CLASS, seed=0), make_images(TEST_PER_CLASS, seed=1)
    initial = make_model(seed=0)
    curves = {}
    for label, make_loader in (("sorted by label (shuffle=False)", sorted_loader),
                               ("shuffled (shuffle=True)", shuffled_loader)):
        started = time.perf_counter()
        curves[label] = train(copy.deepcopy(initial), make_loader(train_set), test_set)
        print(f"trained {label} in {time.perf_counter() - started:.1f} s")

    print(f"\n{'epoch':>5} {'step':>5} | {'sorted: loss':>12} {'acc':>6} | {'shuffled: loss':>14} {'acc':>6}")
    sorted_curve, shuffled_curve = curves.values()
    for a, b in zip(sorted_curve, shuffled_curve):
        if a[1] % 100 == 0 or a is sorted_curve[-1]:
            print(f"{a[0]:>5} {a[1]:>5} | {a[2]:>12.3f} {100 * a[3]:>5.1f}% | {b[2]:>14.3f} {100 * b[3]:>5.1f}%")
    last_sorted, last_shuffled = sorted_curve[-1], shuffled_curve[-1]
    print(f"\nafter {EPOCHS} epochs: sorted feed {100 * last_sorted[3]:.0f}% test accuracy, "
          f"shuffled feed {100 * last_shuffled[3]:.0f}% (chance: {100 / CLASSES:.0f}%)")

    if not args.no_plot:
        save_figure(curves, args.figure)
        print(f"figure saved to {args.figure}")

    if not args.no_probe:
        import loadercheck

        report = loadercheck.check(sorted_loader(train_set), probe=True)
        print(f"\nloadercheck on the sorted loader: {report.verdict.upper()}; probe: {report['probe'].message}")


if __name__ == "__main__":
    main()
