"""Checking must not change the user's run (SPEC §7): same seed -> bit-identical weights after N steps.

The run: ``torch.manual_seed``, a shuffled DataLoader (its RandomSampler draws its seed from the
global torch RNG every epoch), a tiny model with dropout (so training itself consumes RNG), SGD.
Compared with an unchecked run: ``check(loader)`` before training, and training through
``guard(loader)`` (window inside epoch 1, the cross-epoch window in epoch 2, then stepped aside).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import loadercheck  # noqa: E402

STEPS = 45  # 3 epochs of 16 batches, minus a few: ends inside epoch 3


def _loader(generator=None):
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)  # the data itself, fixed
    x = torch.randn(256, 8, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=generator)


def _model():
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 4)
    )


def _train(*, before_model=None, before_loop=None, wrap=None, generator_seed=None):
    torch.manual_seed(1234)
    generator = None if generator_seed is None else torch.Generator().manual_seed(generator_seed)
    loader = _loader(generator)
    if before_model is not None:
        before_model(loader)
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if before_loop is not None:
        before_loop(loader)
    feed = wrap(loader) if wrap is not None else loader
    seen = []
    step = 0
    while step < STEPS:
        for x, y in feed:
            seen.append(y)
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            step += 1
            if step == STEPS:
                break
    return [p.detach().clone() for p in model.parameters()], torch.cat(seen)


def _assert_identical(run, reference):
    weights, labels = run
    ref_weights, ref_labels = reference
    assert torch.equal(labels, ref_labels), "the checked run trained on a different order"
    for w, r in zip(weights, ref_weights):
        assert torch.equal(w, r)


@pytest.fixture(scope="module")
def unchecked():
    return _train()


def test_the_reference_run_is_deterministic(unchecked):
    _assert_identical(_train(), unchecked)


def test_check_before_building_the_model(unchecked):
    reports = []
    _assert_identical(_train(before_model=lambda loader: reports.append(loadercheck.check(loader))), unchecked)
    assert reports[0].stream.epochs == 2  # check() really drew two epochs


def test_check_just_before_the_loop(unchecked):
    _assert_identical(_train(before_loop=loadercheck.check), unchecked)


def test_training_through_guard(unchecked):
    guards = []

    def wrap(loader):
        guards.append(loadercheck.guard(loader, batches=6))
        return guards[0]

    _assert_identical(_train(wrap=wrap), unchecked)
    assert guards[0].report is not None and guards[0].cross_epoch is not None  # both windows were checked


def test_guard_with_the_loaders_own_generator():
    # guard() draws nothing, so even a loader with its own seeded generator is untouched
    reference = _train(generator_seed=7)
    _assert_identical(_train(generator_seed=7, wrap=lambda loader: loadercheck.guard(loader, batches=6)), reference)
