"""Ranks: rank views of a distributed sampler, gathered summaries, and a real 2-process gloo group."""

from __future__ import annotations

import json
import socket

import loaders as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

import loadercheck
from loadercheck.distributed import bottom_k, gathered_report, rank_coverage_result, sampler_rank_views, union_estimate
from loadercheck.options import Options
from loadercheck.results import Status


def dataset(labels):
    labels = np.asarray(labels)
    return L.ArrayDataset(torch.from_numpy(L.features_for(labels)), torch.from_numpy(labels))


class IgnoresRank(Sampler):
    """A 'distributed' sampler that forgets to split: every rank reads every index."""

    def __init__(self, data, num_replicas=2, rank=0):
        self.data, self.num_replicas, self.rank, self.epoch = data, num_replicas, rank, 0

    def __iter__(self):
        return iter(torch.randperm(len(self.data), generator=torch.Generator().manual_seed(self.epoch)).tolist())

    def __len__(self):
        return len(self.data)

    def set_epoch(self, epoch):
        self.epoch = epoch


def _result(report):
    return rank_coverage_result(report, Options(), alpha=2.5e-5, min_effect=0.05)


# ---------------------------------------------------------------------- rank views without a cluster
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_views_are_disjoint_covering_and_fair(drop_last):
    ds = dataset(L.shuffled_labels(1003, 10))  # not divisible: padding (or dropping) at every world size
    sampler = DistributedSampler(ds, num_replicas=4, rank=2, shuffle=True, seed=1, drop_last=drop_last)
    views = sampler_rank_views(DataLoader(ds, batch_size=16, sampler=sampler))
    assert [v.world_size for v in views.views] == [2, 4, 8]
    for v in views.views:
        assert v.overlap == v.expected_overlap and v.missing == v.expected_missing
    assert _result(views).status is Status.PASS


def test_sampler_ignoring_rank_fails_on_overlap():
    ds = dataset(L.shuffled_labels(400, 4))
    report = loadercheck.check(DataLoader(ds, batch_size=16, sampler=IgnoresRank(ds)))
    result = report["rank-coverage"]
    assert result.status is Status.FAIL and "read by more than one rank" in result.message
    assert "DistributedSampler" in result.hint


def test_unshuffled_split_of_interleaved_classes_fails_on_label_mix():
    ds = dataset(np.arange(800) % 2)  # 0,1,0,1,...: with 2 ranks and shuffle=False, rank 0 gets only class 0
    sampler = DistributedSampler(ds, num_replicas=2, rank=0, shuffle=False)
    result = loadercheck.check(DataLoader(ds, batch_size=16, sampler=sampler))["rank-coverage"]
    assert result.status is Status.FAIL and "different label mixes" in result.message
    assert result.details["label_mix_pvalue_2"] < 1e-10


def test_no_rank_information_no_result():
    report = loadercheck.check(L.from_labels(L.shuffled_labels(320, 4), 32))
    with pytest.raises(KeyError):
        report["rank-coverage"]


# ---------------------------------------------------------------------- sketches and gathered summaries
def test_bottom_k_union_is_exact_when_small_and_close_when_large():
    a, b = np.arange(0, 3000), np.arange(2000, 5000)
    sa, da = bottom_k(a)
    sb, db = bottom_k(b)
    assert union_estimate([sa, sb], [da, db]) == (5000.0, True)
    big_a, big_b = np.arange(0, 200_000), np.arange(100_000, 300_000)
    (sa, da), (sb, db) = bottom_k(big_a), bottom_k(big_b)
    est, exact = union_estimate([sa, sb], [da, db])
    assert not exact and abs(est - 300_000) / 300_000 < 0.05  # KMV: relative error about 1/sqrt(k)


def _summary(rank, ids, labels, whole=True, size=None):
    sketch, distinct = bottom_k(np.asarray(ids))
    values, counts = np.unique(labels, return_counts=True)
    return {"rank": rank, "samples": len(ids), "label_counts": {repr(int(v)): int(c) for v, c in zip(values, counts)},
            "identity": "fingerprints", "sketch": sketch, "distinct": distinct, "whole_epoch": whole,
            "dataset_size": size, "replacement": False}


def test_gathered_summaries_overlap_coverage_and_balance():
    labels = L.shuffled_labels(1000, 10)
    disjoint = gathered_report([_summary(0, np.arange(0, 500), labels[:500], size=1000),
                                _summary(1, np.arange(500, 1000), labels[500:], size=1000)])
    assert _result(disjoint).status is Status.PASS
    same = gathered_report([_summary(0, np.arange(1000), labels, size=1000),
                            _summary(1, np.arange(1000), labels, size=1000)])
    result = _result(same)
    assert result.status is Status.FAIL and "1,000 samples (50%) are read by more than one rank" in result.message
    partial = gathered_report([_summary(0, np.arange(0, 400), labels[:400], size=1000),
                               _summary(1, np.arange(500, 900), labels[500:900], size=1000)])
    assert "200 samples are read by no rank" in _result(partial).message
    skewed = gathered_report([_summary(0, np.arange(0, 500), np.sort(labels)[:500]),
                              _summary(1, np.arange(500, 1000), np.sort(labels)[500:])])
    assert "different label mixes" in _result(skewed).message


# ---------------------------------------------------------------------- a real 2-process gloo group
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _all_done(dist):
    """Every rank waits for the others before any leaves: rank 0 hosts the TCP store, and a gloo
    rank still tearing down when rank 0's process has exited can abort (SIGABRT, "terminate called
    without an active exception"; seen in 2 of 15 runs)."""
    dist.barrier()


def _worker(rank, world, port, out):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        ds = dataset(L.shuffled_labels(640, 8))
        sharded = DataLoader(ds, batch_size=32, sampler=DistributedSampler(ds, shuffle=True, seed=0))
        everyone = DataLoader(ds, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(rank))
        results = {}
        for name, loader in (("sharded", sharded), ("everyone", everyone)):
            report = loadercheck.check(loader, distributed=True)
            result = report["rank-coverage"]
            results[name] = {"status": str(result.status), "message": result.message,
                             "notes": list(report.stream.notes)}
        if rank == 0:
            with open(out, "w") as f:
                json.dump(results, f)
        _all_done(dist)
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_group(tmp_path):
    mp = pytest.importorskip("torch.multiprocessing")
    out = tmp_path / "rank0.json"
    mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    results = json.loads(out.read_text())
    assert results["sharded"]["status"] == "pass", results
    assert "disjoint" in results["sharded"]["message"]
    assert any("gathered from every rank" in n for n in results["sharded"]["notes"])
    assert results["everyone"]["status"] == "fail" and "read by more than one rank" in results["everyone"]["message"]


def test_distributed_without_a_process_group_is_a_clear_error():
    with pytest.raises(loadercheck.LoaderCheckError, match="initialised torch.distributed process group"):
        loadercheck.check(L.from_labels(L.shuffled_labels(64, 4), 8), distributed=True)


# ---------------------------------------------------------------------- guard() under a 2-process gloo group
def _loadercheck_log() -> list[str]:
    """The messages the "loadercheck" logger emits in this process from now on."""
    import logging

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logging.getLogger("loadercheck").addHandler(handler)
    return records


def _guard_worker(rank, world, port, out, on_fail):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    records = _loadercheck_log()
    try:
        # rank 0 reads a label-sorted shard, rank 1 a shuffled one: one bad rank is enough to stop both
        labels = L.sorted_labels(2048, 8) if rank == 0 else L.shuffled_labels(2048, 8)
        batches = L.from_labels(labels, 32)
        guarded = loadercheck.guard(batches, on_fail=on_fail)
        outcome, stopped_at = "finished", None
        try:
            for i, _ in enumerate(guarded):
                stopped_at = i + 1
        except loadercheck.LoaderCheckFailed:
            outcome = "raised"
        with open(f"{out}.{rank}", "w") as f:
            json.dump({"outcome": outcome, "stopped_at": stopped_at, "verdict": str(guarded.report.verdict),
                       "decided_at": guarded._watch.decided_at, "logged": len(records),
                       "world": guarded._watch.world}, f)
        _all_done(dist)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("on_fail", ["raise", "log"])
def test_guard_ranks_take_one_decision(tmp_path, on_fail):
    mp = pytest.importorskip("torch.multiprocessing")
    out = tmp_path / "guard"
    mp.spawn(_guard_worker, args=(2, _free_port(), str(out), on_fail), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"guard.{r}").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert [r["verdict"] for r in ranks] == ["fail", "fail"]  # rank 1's own shard was fine: it follows rank 0
    # 256-sample class blocks; each rank at alpha / 2, every early look at its own level
    assert ranks[0]["decided_at"] == ranks[1]["decided_at"] <= 32
    if on_fail == "raise":
        assert [r["outcome"] for r in ranks] == ["raised", "raised"]
        # the batch that completed the deciding look is not handed to training: both stop before it
        assert ranks[0]["stopped_at"] == ranks[1]["stopped_at"] == ranks[0]["decided_at"] - 1
    else:
        assert [r["outcome"] for r in ranks] == ["finished", "finished"]
        assert ranks[0]["logged"] >= 1 and ranks[1]["logged"] == 0  # logged once, on rank 0


# ---------------------------------------------------------------------- the training callbacks under a 2-process gloo group
class _Forward(torch.nn.Module):
    """A model whose forward takes a Trainer-style batch (keyword inputs), for the HF callback's hook."""

    def forward(self, input_ids=None, labels=None):
        return input_ids.float().sum()


def _drive_callback(kind, batches, on_fail):
    """Feed ``batches`` through a callback's own hooks as its framework would (one epoch); returns
    (the callback, how many batches training took before it stopped)."""
    from types import SimpleNamespace

    taken = 0
    if kind == "lightning":
        from loadercheck.integrations.lightning import LoaderCheck

        callback = LoaderCheck(on_fail=on_fail)
        trainer = SimpleNamespace(current_epoch=0, train_dataloader=batches)
        module = SimpleNamespace()
        callback.on_train_start(trainer, module)
        callback.on_train_epoch_start(trainer, module)
        for i, (x, y) in enumerate(batches):
            callback.on_train_batch_start(trainer, module, (torch.as_tensor(x), torch.as_tensor(y)), i)
            taken += 1
        callback.on_train_epoch_end(trainer, module)
        return callback, taken
    from loadercheck.integrations.hf import LoaderCheckCallback

    callback = LoaderCheckCallback(on_fail=on_fail)
    model = _Forward().train()
    state = SimpleNamespace(global_step=0, epoch=0.0, stateful_callbacks={})
    args = SimpleNamespace(gradient_accumulation_steps=1)
    callback.on_train_begin(args, state, None, model=model, train_dataloader=batches)
    callback.on_epoch_begin(args, state, None)
    try:
        for x, y in batches:
            model(input_ids=torch.as_tensor(x), labels=torch.as_tensor(y))
            taken += 1
        callback.on_epoch_end(args, state, None)
    finally:
        callback.on_train_end(args, state, None)
    return callback, taken


def _callback_worker(rank, world, port, out, kind, on_fail):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    records = _loadercheck_log()
    try:
        # rank 0 trains on a label-sorted shard, rank 1 on a shuffled one: one bad rank stops both
        labels = L.sorted_labels(2048, 8) if rank == 0 else L.shuffled_labels(2048, 8)
        outcome, taken, callback = "finished", None, None
        try:
            callback, taken = _drive_callback(kind, L.from_labels(labels, 32), on_fail)
        except loadercheck.LoaderCheckFailed as exc:
            outcome, verdict = "raised", str(exc.report.verdict)
        if callback is not None:
            verdict = str(callback.report.verdict)
            watch = callback.watch
        with open(f"{out}.{rank}", "w") as f:
            json.dump({"outcome": outcome, "taken": taken, "verdict": verdict, "logged": len(records),
                       "world": watch.world if callback is not None else None}, f)
        _all_done(dist)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("kind", ["lightning", "hf"])
@pytest.mark.parametrize("on_fail", ["raise", "log"])
def test_callback_ranks_take_one_decision(tmp_path, kind, on_fail):
    pytest.importorskip("lightning.pytorch" if kind == "lightning" else "transformers")
    mp = pytest.importorskip("torch.multiprocessing")
    out = tmp_path / "callback"
    mp.spawn(_callback_worker, args=(2, _free_port(), str(out), kind, on_fail), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"callback.{r}").read_text()) for r in (0, 1)]
    assert [r["verdict"] for r in ranks] == ["fail", "fail"]  # rank 1's own shard was fine: it follows rank 0
    if on_fail == "raise":
        assert [r["outcome"] for r in ranks] == ["raised", "raised"]  # all ranks raise
    else:
        assert [r["outcome"] for r in ranks] == ["finished", "finished"] and [r["world"] for r in ranks] == [2, 2]
        assert ranks[0]["logged"] == 1 and ranks[1]["logged"] == 0  # logged once, on rank 0
