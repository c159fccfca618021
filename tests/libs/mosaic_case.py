"""MosaicML streaming cases, run in a subprocess by tests/test_adapters.py (prints one JSON line).

streaming's ``__init__`` imports torchvision, whose only wheels on this package index are CUDA
builds that fail to load beside the CPU torch; streaming never uses it for the MDS integer columns
written here, so a minimal stand-in module is registered first. Everything else is the real library.
Kept in its own process so the stand-in never reaches other tests.
"""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types


def _torchvision_stand_in() -> None:
    try:
        import torchvision  # noqa: F401
        return
    except Exception:
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    root = types.ModuleType("torchvision")
    root.__path__ = []
    root.__version__ = "0.0.0+stand-in"
    datasets = types.ModuleType("torchvision.datasets")
    datasets.VisionDataset = type("VisionDataset", (), {"__init__": lambda self, *a, **k: None})
    transforms = types.ModuleType("torchvision.transforms")
    transforms.__path__ = []
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.to_tensor = lambda pic: (_ for _ in ()).throw(RuntimeError("stand-in"))
    root.datasets, root.transforms, transforms.functional = datasets, transforms, functional
    for module in (root, datasets, transforms, functional):
        module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None, is_package=hasattr(module, "__path__"))
        sys.modules[module.__name__] = module


def write_store(path: str, n: int, classes: int, samples_per_shard: int, sorted_: bool = True) -> None:
    import numpy as np
    from streaming import MDSWriter

    labels = np.arange(n) * classes // n
    if not sorted_:
        labels = np.random.default_rng(0).permutation(labels)
    # two int columns take 20 bytes per sample in MDS: size_limit sets the samples per shard
    with MDSWriter(out=path, columns={"x": "int", "label": "int"}, size_limit=20 * samples_per_shard + 240) as writer:
        for i in range(n):
            writer.write({"x": i, "label": int(labels[i])})


def main(case: str, root: str) -> dict:
    _torchvision_stand_in()
    from streaming import StreamingDataLoader, StreamingDataset

    import loadercheck

    if case == "workers":  # a mixed store read by 2 DataLoader workers: StreamingDataset partitions itself
        write_store(f"{root}/mixed", 2000, 10, 200, sorted_=False)
        ds = StreamingDataset(local=f"{root}/mixed", shuffle=True, shuffle_seed=0, batch_size=32)
        report = loadercheck.check(StreamingDataLoader(ds, batch_size=32, num_workers=2))
    elif case in ("py1br-prefix", "py1br-whole"):
        write_store(f"{root}/big", 100_000, 10, 10_000)
        ds = StreamingDataset(local=f"{root}/big", shuffle=True, shuffle_algo="py1br", shuffle_block_size=50_000,
                              shuffle_seed=9176, batch_size=32, num_canonical_nodes=1)
        loader = StreamingDataLoader(ds, batch_size=32, num_workers=0)
        if case == "py1br-whole":
            report = loadercheck.check(loader, from_sampler=True)
        else:
            report = loadercheck.check(loader)
    elif case == "order-matches":  # the order read from the configuration is the order the loader yields
        write_store(f"{root}/s", 2000, 10, 183)
        ds = StreamingDataset(local=f"{root}/s", shuffle=True, shuffle_algo="py1e", shuffle_seed=3, batch_size=32)
        loader = StreamingDataLoader(ds, batch_size=32, num_workers=2)
        from loadercheck.epoch_index import read_index_order

        order = read_index_order(loader, epochs=1)
        got = [x for batch in loader for x in batch["x"].tolist()]
        return {"matches": order.indices[0].tolist() == got, "n": len(got)}
    else:
        raise SystemExit(f"unknown case {case}")
    return {"verdict": str(report.verdict), "checks": {c.id: str(c.status) for c in report.checks},
            "loader_config": report["loader-config"].message, "notes": list(report.stream.notes),
            "hints": {c.id: c.hint for c in report.checks if c.hint}, "samples": report.stream.samples,
            "library": report.loader.library}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
