"""The Lightning callback on a real (tiny, CPU) Trainer: sorted feed raises or warns, shuffled passes."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

# Lightning 2.6 on torch 2.13 warns about its own use of a deprecated torch pytree API
pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec.*is deprecated")

from loadercheck import LoaderCheckFailed, LoaderCheckWarning  # noqa: E402
from loadercheck.errors import LoaderCheckError  # noqa: E402
from loadercheck.integrations.lightning import LoaderCheck  # noqa: E402
from loadercheck.results import Status  # noqa: E402


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 10)
        self.steps = 0

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.steps += 1
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loader(shuffle, n=640):
    from torch.utils.data import DataLoader, TensorDataset

    y = torch.arange(n) % 10
    y = y.sort().values  # label-sorted data; only the sampler can shuffle it
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=shuffle)


def fit(callback, shuffle, epochs=2):
    model = Tiny()
    trainer = L.Trainer(
        max_epochs=epochs, accelerator="cpu", devices=1, callbacks=[callback], logger=False,
        enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(model, train_dataloaders=loader(shuffle))
    return model


def test_sorted_loader_raises_out_of_fit():
    callback = LoaderCheck(batches=8)
    with pytest.raises(LoaderCheckFailed, match="not well shuffled") as info:
        fit(callback, shuffle=False)
    assert info.value.report.verdict is Status.FAIL
    assert callback.report.stream.batches <= 8  # consumed batches only, nothing drawn ahead


def test_default_window_stops_a_sorted_fit_within_8_steps():
    callback = LoaderCheck()  # the default window (500 batches): the early looks decide
    with pytest.raises(LoaderCheckFailed, match="early look"):
        fit(callback, shuffle=False)
    assert callback.watch.decided_at <= 8 and callback.report.stream.batches <= 8
    assert callback.report.loader.type_name == "DataLoader"
    assert "(Lightning)" in callback.report.target


def test_sorted_loader_warns_and_training_goes_on():
    callback = LoaderCheck(on_fail="warn", batches=8)
    with pytest.warns(LoaderCheckWarning, match="not well shuffled"):
        model = fit(callback, shuffle=False)
    assert model.steps == 40  # both epochs trained
    assert callback.report.verdict is Status.FAIL


def test_shuffled_loader_passes_and_epochs_differ():
    callback = LoaderCheck()
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoaderCheckWarning)
        model = fit(callback, shuffle=True)
    assert model.steps == 40
    assert callback.report.verdict is Status.PASS
    assert callback.report.stream.batches == 20  # the whole (short) first epoch
    assert callback.cross_epoch is not None and callback.cross_epoch.status is Status.PASS


def test_bad_on_fail_is_rejected():
    with pytest.raises(LoaderCheckError, match="on_fail must be one of"):
        LoaderCheck(on_fail="ignore")


# ---------------------------------------------------------------------- a resumed run that replays its epoch
def _resume(tmp_path, make_loader, *, on_fail="raise"):
    from lightning.pytorch.callbacks import ModelCheckpoint

    common = dict(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                  default_root_dir=str(tmp_path))  # Lightning's own checkpoints, if any, never land in the repo
    first = LoaderCheck(on_fail="log")
    checkpoints = ModelCheckpoint(dirpath=str(tmp_path), every_n_train_steps=5, save_top_k=-1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        L.Trainer(max_steps=7, callbacks=[first, checkpoints], **common).fit(Tiny(), train_dataloaders=make_loader())
    ckpt = next(p for p in tmp_path.glob("*.ckpt") if "step=5" in p.name)
    second = LoaderCheck(on_fail=on_fail)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="(?!.*resume).*")
        L.Trainer(max_steps=10, callbacks=[second], **common).fit(Tiny(), train_dataloaders=make_loader(),
                                                                    ckpt_path=str(ckpt))
    return second


def _seeded_shuffle():
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.randn(640, 4, generator=torch.Generator().manual_seed(0))
    y = torch.arange(640) % 10
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1))


def test_a_resume_that_restarts_the_epoch_fails(tmp_path):
    # a plain DataLoader is not resumable: Lightning resumes at batch 5 but the data starts over
    with pytest.raises(LoaderCheckFailed, match="resume-replay") as info:
        _resume(tmp_path, _seeded_shuffle)
    assert "started the epoch again" in info.value.report.checks[0].message


def test_a_resume_on_fresh_data_passes(tmp_path):
    from torch.utils.data import DataLoader, TensorDataset

    calls = iter(range(100))

    def fresh():  # a different seed per run: the resumed epoch does not replay the trained batches
        seed = next(calls)
        x = torch.randn(640, 4, generator=torch.Generator().manual_seed(0))
        return DataLoader(TensorDataset(x, torch.arange(640) % 10), batch_size=32, shuffle=True,
                          generator=torch.Generator().manual_seed(seed))

    _resume(tmp_path, fresh)  # does not raise


def test_a_shuffled_fit_is_bit_identical_with_and_without_the_callback():
    def run(callbacks):
        L.seed_everything(0, verbose=False)
        model = Tiny()
        trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=1, callbacks=callbacks, logger=False,
                            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore")
            trainer.fit(model, train_dataloaders=loader(shuffle=True))
        return model.state_dict()

    plain, checked = run([]), run([LoaderCheck()])
    assert plain.keys() == checked.keys()
    assert all(torch.equal(plain[k], checked[k]) for k in plain)
