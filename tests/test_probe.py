"""The probe: feed order vs shuffled training on the same samples, with fixed seeds, on CPU.

The streams are built by hand (labels, batch sizes, per-batch inputs as the sampling layer keeps
them). Sizes are small so that the whole file runs in well under a minute on 2 CPU cores.
"""

import random
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from loadercheck.errors import LoaderCheckError  # noqa: E402
from loadercheck.options import Options  # noqa: E402
from loadercheck.probe import FAIL_RATIO, PROBE_ID, build_features, decide, run_probe  # noqa: E402
from loadercheck.results import Epoch, LabelKind, LoaderInfo, Status, Stream  # noqa: E402

K, PER_CLASS, B = 10, 320, 32


def image_stream(order: str, *, seed: int = 0, noise: float = 2.0, per_class: int = PER_CLASS, b: int = B,
                 shape=(3, 8, 8)) -> Stream:
    """The classic case in small: 10 classes of 3x8x8 'images' (class prototypes plus noise)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(K).repeat_interleave(per_class)
    protos = torch.randn(K, *shape, generator=g)
    x = protos[labels] + noise * torch.randn(labels.numel(), *shape, generator=g)
    if order == "shuffled":
        perm = torch.randperm(labels.numel(), generator=g)
        x, labels = x[perm], labels[perm]
    return _stream(x, labels.numpy(), b)


def _stream(inputs, labels: np.ndarray, b: int, continuous: bool = False) -> Stream:
    n = labels.size - labels.size % b
    sizes = np.full(n // b, b, dtype=np.int64)
    batches = [inputs[i:i + b] for i in range(0, n, b)]
    if continuous:
        return Stream((Epoch(labels[:n].astype(np.float64), sizes),), LabelKind.CONTINUOUS, (),
                      LoaderInfo("DataLoader"), inputs=batches)
    return Stream((Epoch(labels[:n].astype(np.int64), sizes),), LabelKind.CATEGORICAL,
                  tuple(range(int(labels.max()) + 1)), LoaderInfo("DataLoader"), inputs=batches)


@pytest.fixture(scope="module")
def sorted_result():
    return run_probe(image_stream("sorted"), Options(probe=True))


def test_probe_fails_the_sorted_feed_with_a_large_gap(sorted_result):
    r = sorted_result
    assert r.id == PROBE_ID == "probe"
    assert r.status is Status.FAIL, r.message
    assert r.effect >= 3 * FAIL_RATIO
    assert r.details["accuracy_gap"] > 0.3
    assert r.details["seeds_feed_worse"] == 3
    assert "feed order costs" in r.message and "points of held-out accuracy" in r.message
    assert r.hint and "shuffle" in r.hint


def test_probe_details_carry_curves_and_budget(sorted_result):
    d = sorted_result.details
    assert len(d["curve_feed"]) == len(d["curve_shuffled"]) == len(d["curve_steps"]) == 21
    assert d["curve_steps"][0] == 0 and d["curve_steps"][-1] == d["steps"] == 100
    assert d["curve_feed"][0] == pytest.approx(d["curve_shuffled"][0])  # paired: the same initial weights
    assert d["seeds"] == 3 and d["device"] == "cpu" and d["seconds"] > 0
    assert d["train_samples"] + d["heldout_samples"] == K * PER_CLASS
    assert all(isinstance(v, float) for v in d["curve_feed"])
    assert sorted_result.to_dict()["details"]["curve_shuffled"][-1] < 0.5


@pytest.mark.parametrize("seed, noise", [(0, 2.0), (1, 4.0), (2, 8.0)])
def test_probe_passes_shuffled_feeds(seed, noise):
    r = run_probe(image_stream("shuffled", seed=seed, noise=noise), Options(probe=True, seed=seed))
    assert r.status is Status.PASS, r.message
    assert r.effect < 1.1


def test_rng_threads_grad_mode_and_inputs_are_left_as_they_were():
    stream = image_stream("sorted", per_class=64)
    before = [t.clone() for t in stream.inputs]
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    threads = torch.get_num_threads()
    with torch.no_grad():
        r = run_probe(stream, Options(probe=True, probe_seeds=1))
        assert not torch.is_grad_enabled()
    assert r.status is not Status.SKIP, r.message
    assert random.getstate() == states[0]
    after_np = np.random.get_state()
    assert after_np[0] == states[1][0] and np.array_equal(after_np[1], states[1][1]) and after_np[2:] == states[1][2:]
    assert torch.equal(torch.get_rng_state(), states[2])
    assert torch.get_num_threads() == threads
    assert all(torch.equal(a, b) for a, b in zip(before, stream.inputs))


def test_same_seed_same_result():
    stream = image_stream("sorted", per_class=64)
    a = run_probe(stream, Options(probe=True, probe_seeds=1, seed=7))
    b = run_probe(stream, Options(probe=True, probe_seeds=1, seed=7))
    assert a.details["curve_feed"] == b.details["curve_feed"]
    assert a.details["curve_shuffled"] == b.details["curve_shuffled"]


def test_skip_with_reason_on_string_inputs():
    labels = np.repeat(np.arange(4), 64)
    words = [f"sample {i}" for i in range(labels.size)]
    stream = _stream(words, labels, 16)
    r = run_probe(stream, Options(probe=True))
    assert r.status is Status.SKIP
    assert "not numeric" in r.message and "str" in r.message


@pytest.mark.parametrize("inputs, reason", [
    (None, "holds no inputs"),
    ([object()] * 20, "not supported"),
    ([None] * 20, "no inputs were found"),
])
def test_skip_without_usable_inputs(inputs, reason):
    labels = np.tile(np.arange(4), 80)
    stream = Stream((Epoch(labels, np.full(20, 16)),), LabelKind.CATEGORICAL, (0, 1, 2, 3), LoaderInfo("x"),
                    inputs=inputs)
    r = run_probe(stream, Options(probe=True))
    assert r.status is Status.SKIP and reason in r.message


def test_skip_when_rows_do_not_match_labels_or_one_class():
    stream = image_stream("shuffled", per_class=32)
    bad = Stream(stream.epochs, stream.kind, stream.classes, stream.loader, inputs=[t[:-1] for t in stream.inputs])
    r = run_probe(bad, Options(probe=True))
    assert r.status is Status.SKIP and "one input row per label" in r.message
    one = Stream((Epoch(np.zeros(320, dtype=np.int64), np.full(10, 32)),), LabelKind.CATEGORICAL, (0,),
                 LoaderInfo("x"), inputs=[torch.zeros(32, 4)] * 10)
    assert "one class" in run_probe(one, Options(probe=True)).message


def test_continuous_targets_sorted_fail_and_shuffled_pass():
    rng = np.random.default_rng(0)
    n, d = 2560, 32
    w = rng.standard_normal(d)
    x = rng.standard_normal((n, d))
    y = x @ w / np.sqrt(d) + 0.3 * rng.standard_normal(n)
    order = np.argsort(y)
    sorted_r = run_probe(_stream(x[order].astype(np.float32), y[order], 32, continuous=True), Options(probe=True))
    shuffled_r = run_probe(_stream(x.astype(np.float32), y, 32, continuous=True), Options(probe=True))
    assert sorted_r.status is Status.FAIL, sorted_r.message
    assert "R\u00b2" in sorted_r.message and sorted_r.details["metric"] == "r2"
    assert sorted_r.details["r2_gap"] > 0.2
    assert shuffled_r.status is Status.PASS, shuffled_r.message
    assert shuffled_r.details["r2_shuffled"] > 0.5


def test_token_ids_become_hashed_bag_of_tokens():
    rng = np.random.default_rng(1)
    k, per, length, vocab, b = 4, 400, 24, 5000, 16
    labels = np.repeat(np.arange(k), per)
    # each class draws half its tokens from its own vocabulary slice
    own = rng.integers(0, vocab // k, size=(labels.size, length)) + labels[:, None] * (vocab // k)
    common = rng.integers(0, vocab, size=(labels.size, length))
    ids = np.where(rng.random((labels.size, length)) < 0.5, own, common)
    batches = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.ones(labels.size, length)}
    inputs = [{key: v[i:i + b] for key, v in batches.items()} for i in range(0, labels.size, b)]
    stream = Stream((Epoch(labels, np.full(labels.size // b, b)),), LabelKind.CATEGORICAL, tuple(range(k)),
                    LoaderInfo("DataLoader"), inputs=inputs)
    feats = build_features(stream)
    assert "hashed bag" in feats.description and feats.x.shape == (labels.size, 256)
    r = run_probe(stream, Options(probe=True))
    assert r.status is Status.FAIL, r.message
    assert "hashed bag" in r.details["features"]


def test_wide_inputs_are_projected_and_batches_subsampled():
    stream = image_stream("shuffled", per_class=200, shape=(3, 32, 32), b=400)
    feats = build_features(stream)
    assert "random projection" in feats.description and feats.x.shape[1] == 256
    assert feats.batch_sizes.max() == 256  # batches over MAX_BATCH are subsampled
    assert np.isfinite(feats.x).all()


def test_probe_steps_prefix_and_multiple_passes():
    stream = image_stream("shuffled", per_class=64)  # 20 batches
    short = run_probe(stream, Options(probe=True, probe_steps=10, probe_seeds=1))
    assert short.details["steps"] == 10 and short.details["passes"] == 1
    assert short.details["train_samples"] + short.details["heldout_samples"] == 10 * B
    long = run_probe(stream, Options(probe=True, probe_steps=50, probe_seeds=1))
    assert long.details["steps"] == 50 and long.details["passes"] == 3


def test_decision_rule():
    assert decide(np.array([2.0, 2.1]), np.array([1.0, 1.0]), 2.3)[0] is Status.FAIL
    assert decide(np.array([2.0, 0.9]), np.array([1.0, 1.0]), 2.3)[0] is Status.PASS  # not worse in every seed
    assert decide(np.array([1.15, 1.15]), np.array([1.0, 1.0]), 2.3)[0] is Status.WARN
    # a large ratio of two tiny losses (an easy task) is noise, not harm
    assert decide(np.array([0.004, 0.004]), np.array([0.001, 0.001]), 2.3)[0] is Status.PASS
    assert decide(np.array([2.0, 2.1]), np.array([1.0, 1.0]), 2.3, ordered=True)[0] is Status.PASS


def test_ordered_feed_is_measured_but_not_judged(sorted_result):
    r = run_probe(image_stream("sorted"), Options(probe=True, ordered=True, probe_seeds=1))
    assert r.status is Status.PASS and "declared ordered" in r.message


@pytest.mark.parametrize("field, value, match", [
    ("probe_steps", 0, "probe_steps must be a positive integer"),
    ("probe_steps", 2.5, "probe_steps must be a positive integer"),
    ("probe_seeds", 0, "probe_seeds must be an integer from 1 to 100"),
    ("probe_seeds", True, "probe_seeds must be an integer from 1 to 100"),
])
def test_probe_options_are_validated(field, value, match):
    with pytest.raises(LoaderCheckError, match=match):
        Options(**{field: value})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_cuda_requested_without_cuda_skips_with_reason():
    r = run_probe(image_stream("sorted", per_class=32), Options(probe=True, device="cuda"))
    assert r.status is Status.SKIP and "cuda" in r.message


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_probe_on_cuda_fails_sorted_and_restores_cuda_rng():
    torch.cuda.manual_seed_all(5)
    state = torch.cuda.get_rng_state_all()
    r = run_probe(image_stream("sorted"), Options(probe=True, device="cuda"))
    assert r.status is Status.FAIL and r.details["device"] == "cuda"
    assert all(torch.equal(a, b) for a, b in zip(state, torch.cuda.get_rng_state_all()))


def test_importing_the_probe_does_not_import_torch():
    code = "import sys, loadercheck.probe, loadercheck.render.html; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_check_with_probe_on_a_real_dataloader():
    import importlib.util
    from pathlib import Path

    import loadercheck

    path = Path(__file__).resolve().parents[1] / "examples" / "classic.py"
    spec = importlib.util.spec_from_file_location("classic_example", path)
    classic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(classic)
    report = loadercheck.check(classic.sorted_loader(), probe=True, probe_seeds=1, seed=3)
    probe = report["probe"]
    assert probe.status is Status.FAIL, probe.message
    assert probe.details["accuracy_gap"] > 0.3
    shuffled = loadercheck.check(classic.shuffled_loader(), probe=True, probe_seeds=1, seed=3)
    assert shuffled["probe"].status is Status.PASS, shuffled["probe"].message
