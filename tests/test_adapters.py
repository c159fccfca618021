"""Each data library's adapter, against the real library with data generated here: the right verdict
and a fix in the library's own terms (issue: right answers on real pipelines)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest

import loadercheck
from loadercheck import Status
from loadercheck.adapters import describe_loader

HERE = Path(__file__).parent


START_METHOD = __import__("multiprocessing").get_start_method(allow_none=True)


@pytest.fixture(autouse=True)
def keep_the_start_method():
    """litdata sets multiprocessing's start method to spawn for the whole process; later tests
    define DataLoader datasets locally and need the start method the session began with."""
    import multiprocessing

    yield
    if multiprocessing.get_start_method(allow_none=True) != START_METHOD:
        multiprocessing.set_start_method(START_METHOD, force=True)
N, CLASSES = 2000, 10
SORTED = [i * CLASSES // N for i in range(N)]


def statuses(report):
    return {c.id: c.status for c in report.checks}


def order_failed(report) -> bool:
    return any(c.status is Status.FAIL for c in report.checks
               if c.id in ("label-runs", "batch-entropy", "label-autocorrelation", "window-drift"))


def all_text(report) -> str:
    return " ".join(f"{c.message} {c.hint or ''}" for c in report.checks)


# ---------------------------------------------------------------------- Hugging Face datasets
datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def hf_sorted():
    return datasets.Dataset.from_dict({"x": list(range(N)), "label": SORTED}).cast_column(
        "label", datasets.ClassLabel(num_classes=CLASSES))


def test_hf_map_dataset_passed_directly_is_batched_and_judged_like_in_a_dataloader(hf_sorted):
    from torch.utils.data import DataLoader

    direct = loadercheck.check(hf_sorted)
    wrapped = loadercheck.check(DataLoader(hf_sorted, batch_size=32))
    assert direct.verdict == wrapped.verdict == Status.FAIL
    assert direct.stream.batch_size == 32 and direct.stream.batches == N // 32 + 1
    assert any("grouped in order into batches of 32" in n for n in direct.stream.notes)
    assert "ds.shuffle(seed" in direct["label-runs"].hint or "DataLoader(ds, shuffle=True)" in direct["label-runs"].hint
    assert "shuffle buffer" not in direct["label-runs"].hint  # a map-style dataset has no buffer to raise
    assert loadercheck.check(hf_sorted, batch_size=64).stream.batch_size == 64


def test_hf_shuffled_map_dataset_passed_directly_warns_of_its_one_fixed_permutation(hf_sorted):
    report = loadercheck.check(hf_sorted.shuffle(seed=0))
    assert not order_failed(report)
    assert report.verdict is Status.WARN
    replay = report["cross-epoch-order"]
    assert replay.status is Status.WARN and "ds.shuffle(seed=epoch)" in replay.hint
    assert "WebDataset" not in replay.hint


def test_hf_streaming_small_buffer_is_named_directly_and_in_a_dataloader(hf_sorted):
    from torch.utils.data import DataLoader

    stream = hf_sorted.to_iterable_dataset().shuffle(seed=0, buffer_size=10)
    for target in (stream, DataLoader(stream, batch_size=32)):
        report = loadercheck.check(target)
        assert report.verdict is Status.FAIL and order_failed(report)
        assert report.loader.shuffle_buffer == 10 and report.loader.library == "datasets"
        config = report["loader-config"]
        assert config.status is Status.WARN and "holds 10 samples, 0.50% of the 2,000" in config.message
        assert "buffer_size=" in report["label-runs"].hint


def test_hf_streaming_well_shuffled_passes_its_order_checks(hf_sorted):
    stream = hf_sorted.shuffle(seed=1).to_iterable_dataset(num_shards=8).shuffle(seed=0, buffer_size=2000)
    report = loadercheck.check(stream)
    assert not order_failed(report) and report.verdict is not Status.FAIL
    assert report["cross-epoch-order"].status is Status.WARN  # set_epoch never called: the same order twice


def test_hf_the_known_classes_say_when_a_prefix_holds_few_of_them(hf_sorted):
    report = loadercheck.check(hf_sorted, batches=10)
    balance = report["class-balance"]
    assert balance.status is Status.WARN and "of the 10 classes" in balance.message


# ---------------------------------------------------------------------- WebDataset
wds = pytest.importorskip("webdataset")


def write_tar(path: Path, labels: list[int]) -> str:
    with tarfile.open(path, "w") as tar:
        for i, label in enumerate(labels):
            for ext, data in (("cls", str(label).encode()), ("json", json.dumps({"label": label, "idx": i}).encode())):
                info = tarfile.TarInfo(f"{i:06d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return str(path)


@pytest.fixture(scope="module")
def sorted_tar(tmp_path_factory):
    return write_tar(tmp_path_factory.mktemp("wds") / "sorted.tar", [i * CLASSES // 1500 for i in range(1500)])


@pytest.fixture(scope="module")
def shuffled_tar(tmp_path_factory):
    labels = np.random.default_rng(0).permutation([i * CLASSES // 1500 for i in range(1500)]).tolist()
    return write_tar(tmp_path_factory.mktemp("wds") / "shuffled.tar", labels)


def test_webdataset_a_buffer_larger_than_the_data_with_a_small_initial_is_named(sorted_tar):
    warnings.simplefilter("ignore")
    ds = wds.WebDataset(sorted_tar, shardshuffle=False).decode().shuffle(2000, seed=0).to_tuple("json", "cls").batched(32)
    info = describe_loader(ds)
    assert (info.library, info.shuffle_buffer, info.shuffle_initial) == ("webdataset", 2000, 100)
    report = loadercheck.check(ds)
    assert report.verdict is Status.FAIL and order_failed(report)
    text = all_text(report)
    assert "initial=100" in text and ".shuffle(1500, initial=1500)" in text
    assert "initial=100" in report["label-runs"].hint  # the order checks' hint names the cause too
    assert "3,600" not in text and "do not cluster but follow a pattern" not in text
    assert report["loader-config"].status is Status.WARN


def test_webdataset_full_initial_buffer_passes(shuffled_tar):
    warnings.simplefilter("ignore")
    ds = wds.WebDataset(shuffled_tar, shardshuffle=False).decode().shuffle(1500, initial=1500).to_tuple("json", "cls").batched(32)
    report = loadercheck.check(ds)
    assert not order_failed(report) and report["loader-config"].status is Status.PASS


@pytest.mark.parametrize("tar, fails", [("sorted_tar", True), ("shuffled_tar", False)])
def test_webdataset_label_paths_reach_into_batched_json_records(tar, fails, request):
    warnings.simplefilter("ignore")
    ds = wds.WebDataset(request.getfixturevalue(tar), shardshuffle=False).decode().batched(32)
    batch = next(iter(ds))
    assert isinstance(batch["json"], list) and isinstance(batch["json"][0], dict)
    report = loadercheck.check(ds, label="json.label")
    assert report.stream.classes == CLASSES and report.stream.samples == 1500
    assert any("json[i].label" in n for n in report.stream.notes)
    assert order_failed(report) is fails


# ---------------------------------------------------------------------- MosaicML streaming
def mosaic(case: str, tmp_path: Path) -> dict:
    probe = subprocess.run([sys.executable, str(HERE / "libs" / "mosaic_case.py"), case, str(tmp_path)],
                           capture_output=True, text=True, timeout=600)
    if probe.returncode and "No module named 'streaming'" in probe.stderr:
        pytest.skip("mosaicml-streaming is not installed")
    assert probe.returncode == 0, probe.stderr[-3000:]
    return json.loads(probe.stdout.strip().splitlines()[-1])


def test_mosaic_workers_are_partitioned_by_the_dataset_not_flagged(tmp_path):
    found = mosaic("workers", tmp_path)
    assert found["library"] == "streaming" and found["samples"] == 2000
    assert "every worker would deliver every sample" not in found["loader_config"]
    assert found["checks"]["duplicates"] == "pass" and found["verdict"] == "pass"


def test_mosaic_epoch_order_read_from_the_configuration_is_the_order_it_yields(tmp_path):
    found = mosaic("order-matches", tmp_path)
    assert found == {"matches": True, "n": 2000}


@pytest.mark.slow
def test_mosaic_py1br_block_larger_than_the_prefix_fails_on_whole_epochs(tmp_path):
    found = mosaic("py1br-whole", tmp_path)
    assert found["verdict"] == "fail" and found["samples"] == 100_000
    assert any("shuffle configuration" in n for n in found["notes"])
    assert "shuffle_block_size" in " ".join(found["hints"].values())


# ---------------------------------------------------------------------- torch datasets iterated directly
def test_a_torch_dataset_passed_directly_is_batched_and_told_to_use_a_dataloader():
    torch = pytest.importorskip("torch")
    data = torch.utils.data.TensorDataset(torch.randn(N, 4), torch.tensor(SORTED))
    report = loadercheck.check(data)
    assert report.verdict is Status.FAIL and report.stream.batches == -(-N // 32)
    assert "DataLoader(dataset, batch_size=..., shuffle=True)" in report["label-runs"].hint
    assert "sampler ()" not in all_text(report) and ".shuffle(seed)" not in report["cross-epoch-order"].hint


# ---------------------------------------------------------------------- torchdata
def test_torchdata_stateful_dataloader_is_read_as_a_dataloader():
    torch = pytest.importorskip("torch")
    stateful = pytest.importorskip("torchdata.stateful_dataloader")
    data = torch.utils.data.TensorDataset(torch.randn(N, 4), torch.tensor(SORTED))
    report = loadercheck.check(stateful.StatefulDataLoader(data, batch_size=32))
    assert report.verdict is Status.FAIL and "shuffle=True" in report["label-runs"].hint
    assert report.loader.library == "torch" and report.loader.sampler == "SequentialSampler"
    clean = loadercheck.check(stateful.StatefulDataLoader(data, batch_size=32, shuffle=True,
                                                          generator=torch.Generator().manual_seed(0)))
    assert clean.verdict is Status.PASS


def test_torchdata_nodes_graph_is_described_and_judged():
    torch = pytest.importorskip("torch")
    nodes = pytest.importorskip("torchdata.nodes")
    data = [{"x": np.float32(i), "label": SORTED[i]} for i in range(N)]

    def graph(sampler):
        node = nodes.Batcher(nodes.Mapper(nodes.SamplerWrapper(sampler), data.__getitem__), batch_size=32)
        return nodes.Loader(node)

    ordered = graph(torch.utils.data.SequentialSampler(data))
    info = describe_loader(ordered)
    assert info.library == "torchdata" and info.batch_size == 32 and info.shuffle is False
    report = loadercheck.check(ordered)
    assert report.verdict is Status.FAIL and "SamplerWrapper(RandomSampler" in report["label-runs"].hint
    shuffled = graph(torch.utils.data.RandomSampler(data, generator=torch.Generator().manual_seed(0)))
    assert not order_failed(loadercheck.check(shuffled))


# ---------------------------------------------------------------------- grain
def test_grain_map_dataset_sorted_fails_in_grain_terms_and_shuffled_passes():
    grain = pytest.importorskip("grain")
    source = [{"x": np.float32(i), "label": np.int64(SORTED[i])} for i in range(N)]
    ordered = grain.MapDataset.source(source).batch(32)
    report = loadercheck.check(ordered)
    assert report.loader.library == "grain" and report.verdict is Status.FAIL
    assert "ds.shuffle(seed=" in report["label-runs"].hint
    shuffled = grain.MapDataset.source(source).shuffle(seed=0).batch(32)
    info = describe_loader(shuffled)
    assert info.shuffle is True and info.shuffle_seed == 0
    assert not order_failed(loadercheck.check(shuffled))


# ---------------------------------------------------------------------- litdata
def _label_row(i):
    return {"x": i, "label": SORTED[i]}


@pytest.fixture(scope="module")
def litdata_store(tmp_path_factory):
    litdata = pytest.importorskip("litdata")
    out = tmp_path_factory.mktemp("litdata") / "store"
    litdata.optimize(fn=_label_row, inputs=list(range(N)), output_dir=str(out), chunk_size=250, num_workers=1)
    return str(out)


def test_litdata_unshuffled_fails_with_its_own_fix_and_workers_are_not_flagged(litdata_store):
    litdata = pytest.importorskip("litdata")
    report = loadercheck.check(litdata.StreamingDataLoader(litdata.StreamingDataset(litdata_store), batch_size=32,
                                                           num_workers=2))
    assert report.loader.library == "litdata" and report.verdict is Status.FAIL
    assert "StreamingDataset(..., shuffle=True)" in report["label-runs"].hint
    assert "every worker would deliver every sample" not in report["loader-config"].message


def test_cli_batch_size_groups_examples_of_a_dataset_passed_directly(tmp_path, monkeypatch):
    from cli_runner import invoke

    (tmp_path / "hf_feed.py").write_text(
        "import datasets\n"
        f"def sorted_dataset():\n    return datasets.Dataset.from_dict({{'x': list(range({N})), 'label': {SORTED!r}}})\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("hf_feed.py:sorted_dataset", "--batch-size", "50", "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["stream"]["batch_size"] == 50 and doc["stream"]["batches"] == N // 50
    assert doc["loader"]["library"] == "datasets" and doc["loader"]["example_level"] is True
    assert any("batches of 50 (--batch-size)" in note for note in doc["stream"]["notes"])


# ---------------------------------------------------------------------- datasets whose items are batches
def test_a_dataset_whose_items_are_batches_is_not_grouped_again(hf_sorted):
    torch = pytest.importorskip("torch")
    text = datasets.Dataset.from_dict({"text": [f"t{i}" for i in range(N)], "label": SORTED})
    for batched in (text.batch(32), text.to_iterable_dataset().batch(32)):
        report = loadercheck.check(batched)
        assert report.verdict is Status.FAIL and report.stream.batches == -(-N // 32)
        assert any("already hold batches" in n for n in report.stream.notes)

    class Batches(torch.utils.data.Dataset):
        def __len__(self):
            return 50

        def __getitem__(self, i):
            return torch.randn(32, 3), torch.full((32,), i * 10 // 50)

    report = loadercheck.check(Batches())
    assert report.stream.batches == 50 and report.stream.batch_size == 32 and report.verdict is Status.FAIL


def test_tokenized_examples_passed_directly_are_read_as_token_streams():
    rows = {"input_ids": [list(range(5 + i % 7)) for i in range(500)]}
    rows["labels"] = rows["input_ids"]
    report = loadercheck.check(datasets.Dataset.from_dict(rows))
    assert report.stream.target_kind == "tokens" and report.stream.batch_size == 32
    assert report.verdict is not Status.FAIL


def test_mosaic_order_is_not_replayed_for_configurations_it_does_not_follow():
    from types import SimpleNamespace

    from loadercheck.adapters.mosaic import _supported

    _supported(SimpleNamespace(batching_method="random", replication=None, world=SimpleNamespace(num_nodes=1, num_ranks=1)))
    for odd in (SimpleNamespace(batching_method="per_stream"), SimpleNamespace(replication=2),
                SimpleNamespace(world=SimpleNamespace(num_nodes=2, num_ranks=2))):
        with pytest.raises(LookupError):
            _supported(odd)


def test_a_namedtuple_batch_is_not_read_as_records():
    from collections import namedtuple

    from loadercheck.labels import LabelSpec

    Record = namedtuple("Record", "y")
    Batch = namedtuple("Batch", "x y")
    batch = Batch(Record(1), Record(2))
    assert LabelSpec.parse("y").locate(batch, 0)[0] == Record(2)
