"""The Hugging Face callback on a real (tiny, CPU, built-from-config) Trainer; no downloads."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from loadercheck import LoaderCheckFailed, LoaderCheckWarning  # noqa: E402
from loadercheck.errors import LoaderCheckError  # noqa: E402
from loadercheck.integrations.hf import LoaderCheckCallback, length_grouped  # noqa: E402
from loadercheck.results import Status  # noqa: E402

N, CLASSES = 128, 4


class Sequences(torch.utils.data.Dataset):
    """Label-sorted samples; a sample of class c has length 4 + 3c (so length grouping sorts by class)."""

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.labels = sorted(i % CLASSES for i in range(N))
        self.ids = [torch.randint(1, 30, (4 + 3 * c,), generator=g) for c in self.labels]

    def __len__(self):
        return N

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def collate(features):
    width = max(len(f["input_ids"]) for f in features)
    ids = torch.zeros(len(features), width, dtype=torch.long)
    mask = torch.zeros(len(features), width, dtype=torch.long)
    for row, f in enumerate(features):
        ids[row, : len(f["input_ids"])] = f["input_ids"]
        mask[row, : len(f["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([f["labels"] for f in features])}


def tiny_model():
    config = transformers.BertConfig(
        vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
        max_position_embeddings=32, num_labels=CLASSES,
    )
    return transformers.BertForSequenceClassification(config)


class SequentialTrainer(transformers.Trainer):
    """A Trainer that feeds the dataset in its stored (label-sorted) order."""

    def _get_train_sampler(self, *args, **kwargs):
        return torch.utils.data.SequentialSampler(self.train_dataset)


def train(tmp_path, callback, *, trainer_class=transformers.Trainer, epochs=2, **args):
    model = tiny_model()
    training_args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=16, num_train_epochs=epochs, report_to=[],
        use_cpu=True, save_strategy="no", logging_strategy="no", disable_tqdm=True, seed=0, **args,
    )
    trainer = trainer_class(model=model, args=training_args, train_dataset=Sequences(), data_collator=collate,
                            callbacks=[callback])
    trainer.train()
    return trainer, model


def test_sorted_feed_raises_out_of_train(tmp_path):
    callback = LoaderCheckCallback(batches=6)
    with pytest.raises(LoaderCheckFailed, match="not well shuffled") as info:
        train(tmp_path, callback, trainer_class=SequentialTrainer)
    assert info.value.report.verdict is Status.FAIL
    assert callback.report.stream.batches <= 6
    assert "(Trainer)" in callback.report.target
    assert callback._handle is None  # the forward hook is gone from the model


def test_default_window_stops_a_sorted_train_within_8_steps(tmp_path):
    callback = LoaderCheckCallback()  # the default window (500 batches): the early looks decide
    with pytest.raises(LoaderCheckFailed, match="early look"):
        train(tmp_path, callback, trainer_class=SequentialTrainer)
    assert callback.watch.decided_at <= 8 and callback.report.stream.batches <= 8


def test_sorted_feed_warns_and_training_goes_on(tmp_path):
    callback = LoaderCheckCallback(on_fail="warn", batches=6)
    with pytest.warns(LoaderCheckWarning, match="not well shuffled"):
        trainer, model = train(tmp_path, callback, trainer_class=SequentialTrainer)
    assert trainer.state.global_step == 2 * N // 16
    assert callback.report.verdict is Status.FAIL
    assert not model._forward_pre_hooks  # the model is left as found


def test_default_trainer_feed_passes(tmp_path):
    callback = LoaderCheckCallback()
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoaderCheckWarning)
        trainer, model = train(tmp_path, callback)
    assert callback.report.verdict is Status.PASS
    assert callback.report.stream.batches == N // 16  # the whole first epoch, as trained on
    assert callback.cross_epoch is not None and callback.cross_epoch.status is Status.PASS
    assert not model._forward_pre_hooks


def test_group_by_length_is_declared_ordered_not_failed(tmp_path):
    args = {"train_sampling_strategy": "group_by_length"}
    if not hasattr(transformers.TrainingArguments, "train_sampling_strategy"):  # transformers < 5
        args = {"group_by_length": True}
    callback = LoaderCheckCallback()
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoaderCheckWarning)
        train(tmp_path, callback, epochs=1, **args)
    report = callback.report
    assert report.verdict is not Status.FAIL and report.config["ordered"] is True
    assert any("group_by_length" in note for note in report.stream.notes)
    assert any("declared ordered" in c.message for c in report.checks)  # the grouping is visible, not judged


def test_length_grouped_reads_both_spellings():
    class Old:
        group_by_length = True

    class New:
        train_sampling_strategy = "group_by_length"

    class Plain:
        train_sampling_strategy = "random"

    assert length_grouped(Old()) and length_grouped(New()) and not length_grouped(Plain())


def test_bad_on_fail_is_rejected():
    with pytest.raises(LoaderCheckError, match="on_fail must be one of"):
        LoaderCheckCallback(on_fail="never")


def test_a_shuffled_train_is_bit_identical_with_and_without_the_callback(tmp_path):
    from transformers import TrainerCallback

    transformers.set_seed(0)  # the model's initial weights come from the global RNG
    _, plain = train(tmp_path / "plain", TrainerCallback())
    transformers.set_seed(0)
    _, checked = train(tmp_path / "checked", LoaderCheckCallback())
    a, b = plain.state_dict(), checked.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------- a resumed run that replays its epoch
def _resume(tmp_path, *, on_fail="raise", **resume_args):
    """Train 5 steps with a checkpoint at step 3, then resume from it for 2 more (real Trainer, CPU)."""
    common = dict(output_dir=str(tmp_path), per_device_train_batch_size=16, report_to=[], use_cpu=True,
                  logging_strategy="no", disable_tqdm=True, seed=0, num_train_epochs=1)
    first = LoaderCheckCallback(on_fail="log")
    args = transformers.TrainingArguments(max_steps=5, save_strategy="steps", save_steps=3, **common)
    transformers.Trainer(model=tiny_model(), args=args, train_dataset=Sequences(), data_collator=collate,
                         callbacks=[first]).train()
    checkpoint = tmp_path / "checkpoint-3"
    assert (checkpoint / "trainer_state.json").is_file()
    second = LoaderCheckCallback(on_fail=on_fail)
    args = transformers.TrainingArguments(max_steps=7, save_strategy="no", **common, **resume_args)
    trainer = transformers.Trainer(model=tiny_model(), args=args, train_dataset=Sequences(), data_collator=collate,
                                   callbacks=[second])
    trainer.train(resume_from_checkpoint=str(checkpoint))
    return first, second, trainer


def test_the_checkpoint_carries_the_epochs_first_batch_digests(tmp_path):
    import json

    first, _, _ = _resume(tmp_path)
    saved = json.loads((tmp_path / "checkpoint-3" / "trainer_state.json").read_text())["stateful_callbacks"]
    ledger = saved["LoaderCheckCallback"]["attributes"]["_checkpoint_ledger"]
    assert ledger["epoch"] == 0 and ledger["batches"] == 3 and len(ledger["digests"]) == 3
    assert len(set(ledger["digests"])) == 3 and ledger["digests"] == first._ledger["digests"][:3]


def test_a_resume_that_restarts_the_epoch_fails(tmp_path):
    # ignore_data_skip=True: the Trainer does not fast-forward; its seeded sampler deals the epoch again
    with pytest.raises(LoaderCheckFailed, match="resume-replay") as info:
        _resume(tmp_path, ignore_data_skip=True)
    assert "started the epoch again" in info.value.report.checks[0].message
    assert "at batch 4" in info.value.report.checks[0].message


def test_a_resume_that_skips_the_trained_batches_passes(tmp_path):
    _, second, trainer = _resume(tmp_path)  # the default: the Trainer skips the 3 trained batches
    assert trainer.state.global_step == 7 and second._restored is None


def test_a_resume_that_restarts_the_epoch_warns_with_on_fail_warn(tmp_path):
    with pytest.warns(LoaderCheckWarning, match="resume-replay"):
        _, _, trainer = _resume(tmp_path, on_fail="warn", ignore_data_skip=True)
    assert trainer.state.global_step == 7  # training went on


def test_a_callback_restored_by_the_trainer_keeps_its_options(tmp_path):
    callback = LoaderCheckCallback(on_fail="warn", alpha=1e-4, batches=6)
    state = callback.state()
    assert state["args"] == {"on_fail": "warn", "fingerprints": False, "alpha": 1e-4, "batches": 6}
    rebuilt = LoaderCheckCallback(**state["args"])  # what restore_callback_states_from_checkpoint=True does
    assert rebuilt.options == callback.options and rebuilt.on_fail == "warn"


def test_replay_looks_run_at_every_epoch_start(tmp_path):
    callback = LoaderCheckCallback(batches=4)  # 8 batches per epoch, 4 epochs; shuffled by the Trainer
    trainer, model = train(tmp_path, callback, epochs=4)
    assert callback.cross_epoch is not None and callback.cross_epoch.details["epoch"] == 4  # the latest replay look
    assert not model._forward_pre_hooks
