"""Feeds that are not single-label classification, end to end on the real libraries (torch, tokenizers,
transformers, datasets) with data generated here: multi-label rows, detection targets (torchvision
and COCO style), segmentation masks, causal-LM and SFT token batches, a Hugging Face dataset with a
``source`` column, and unlabeled (self-supervised, contrastive) feeds.

Each feed comes as a twin pair built from the same samples: read in a stored order that groups them
(by a class, a domain, a length, a source, an input cluster) the feed must fail on the check that
reads that order; read through a shuffling sampler it must pass. Every random choice is seeded.
"""

from __future__ import annotations

import functools
import json
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")
tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

from torch.utils.data import DataLoader, Dataset, TensorDataset  # noqa: E402
from cli_runner import invoke  # noqa: E402

import loadercheck  # noqa: E402
from loadercheck import Status  # noqa: E402
from loadercheck.checks import ORDER_CHECK_IDS  # noqa: E402

SEED = 0


# ---------------------------------------------------------------------- helpers
def stored(dataset, **kwargs) -> DataLoader:
    """The dataset read in its stored order (the ordered twin)."""
    return DataLoader(dataset, shuffle=False, **kwargs)


def shuffled(dataset, **kwargs) -> DataLoader:
    """The same dataset through a seeded RandomSampler (the shuffled twin)."""
    return DataLoader(dataset, shuffle=True, generator=torch.Generator().manual_seed(SEED), **kwargs)


def flagged(report) -> str:
    """The checks that did not pass, for assertion messages."""
    return "; ".join(f"{c.id}={c.status} (p={c.pvalue}): {c.message}" for c in report.checks
                     if c.status is not Status.PASS) or "every check passed"


def assert_fails_on(report, check_id: str, target_kind: str) -> None:
    assert report.stream.target_kind == target_kind, report.stream.notes
    assert report.verdict == "fail", flagged(report)
    assert report[check_id].status == "fail", flagged(report)
    assert report[check_id].hint, "a failing order check names its cause and fix"


def assert_passes(report, target_kind: str) -> None:
    assert report.stream.target_kind == target_kind, report.stream.notes
    assert report.verdict == "pass", flagged(report)


# ---------------------------------------------------------------------- 1. multi-label rows
ML_SAMPLES, TAGS = 1024, 20


@functools.cache
def multi_label_dataset() -> TensorDataset:
    """Multi-hot float rows (20 tags, 2-4 per sample) stored sorted by their first (lowest) tag."""
    g = np.random.default_rng(SEED)
    rows = np.zeros((ML_SAMPLES, TAGS), dtype=np.float32)
    for row in rows:
        row[g.choice(TAGS, int(g.integers(2, 5)), replace=False)] = 1.0
    rows = rows[np.argsort(rows.argmax(axis=1), kind="stable")]
    features = g.normal(size=(ML_SAMPLES, 12)).astype(np.float32)
    return TensorDataset(torch.from_numpy(features), torch.from_numpy(rows))


def test_multi_label_rows_sorted_by_first_tag_fail_label_runs():
    report = loadercheck.check(stored(multi_label_dataset(), batch_size=32))
    assert_fails_on(report, "label-runs", "multi-label")
    assert any("multi-hot" in note for note in report.stream.notes)
    assert report.stream.label_kind == "categorical"


def test_multi_label_rows_shuffled_pass():
    assert_passes(loadercheck.check(shuffled(multi_label_dataset(), batch_size=32)), "multi-label")


# ---------------------------------------------------------------------- 2. detection
DET_IMAGES, DET_CLASSES = 480, 6


class Detection(Dataset):
    """Images 3xHxW of varying size with 0-4 boxes each, stored sorted by their most frequent class.

    ``coco=False``: torchvision targets ``{"boxes": FloatTensor[k, 4], "labels": LongTensor[k]}``;
    ``coco=True``: a list of COCO annotation dicts (``category_id``, ``bbox`` as x, y, w, h).
    """

    def __init__(self, coco: bool):
        g = np.random.default_rng(SEED)
        self.coco = coco
        self.records = []
        for _ in range(DET_IMAGES):
            k = int(g.integers(0, 5))  # about one image in five has no object
            main = int(g.integers(1, DET_CLASSES + 1))
            labels = np.where(g.random(k) < 0.75, main, g.integers(1, DET_CLASSES + 1, k)).astype(np.int64)
            corner = g.uniform(0, 16, (k, 2))
            boxes = np.concatenate([corner, corner + g.uniform(4, 8, (k, 2))], axis=1).astype(np.float32)
            size = (int(g.integers(24, 49)), int(g.integers(24, 49)))
            self.records.append((size, boxes, labels, int(g.integers(1 << 31))))
        self.records.sort(key=lambda r: self.main_class(r[2]))

    @staticmethod
    def main_class(labels: np.ndarray) -> int:
        if labels.size == 0:
            return -1
        values, counts = np.unique(labels, return_counts=True)
        return int(values[np.argmax(counts)])

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        (h, w), boxes, labels, seed = self.records[i]
        image = torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))
        if self.coco:
            return image, [{"id": j, "category_id": int(c), "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                            "area": float((x1 - x0) * (y1 - y0)), "iscrowd": 0}
                           for j, ((x0, y0, x1, y1), c) in enumerate(zip(boxes, labels))]
        return image, {"boxes": torch.from_numpy(boxes).reshape(-1, 4), "labels": torch.from_numpy(labels)}


def detection_collate(batch):
    """torchvision's detection reference collate: a tuple of images and a tuple of targets."""
    return tuple(zip(*batch))


@pytest.mark.parametrize("coco", [False, True], ids=["torchvision", "coco"])
def test_detection_sorted_by_category_fails(coco):
    dataset = Detection(coco)
    images, targets = detection_collate([dataset[i] for i in range(4)])
    assert isinstance(images, tuple) and len({im.shape for im in images}) > 1  # sizes vary: no stacking
    assert any(dataset.main_class(r[2]) == -1 for r in dataset.records)  # images without objects
    report = loadercheck.check(stored(dataset, batch_size=8, collate_fn=detection_collate))
    assert_fails_on(report, "label-runs", "detection")
    assert "-1" in report.class_names  # an image without boxes is coded -1, not dropped


@pytest.mark.parametrize("coco", [False, True], ids=["torchvision", "coco"])
def test_detection_shuffled_passes(coco):
    report = loadercheck.check(shuffled(Detection(coco), batch_size=8, collate_fn=detection_collate))
    assert_passes(report, "detection")
    assert report.stream.samples == DET_IMAGES


# ---------------------------------------------------------------------- 3. segmentation
SEG_IMAGES, SEG_CLASSES, SEG_SIZE = 512, 5, 24


class Segmentation(Dataset):
    """(image 3xHxW, mask HxW): background 0, a main foreground class (sometimes a second, smaller
    one) and a 255 void border; stored sorted by the main class."""

    def __init__(self, dtype=torch.int64):
        g = np.random.default_rng(SEED)
        self.dtype = dtype
        self.items = []
        for _ in range(SEG_IMAGES):
            mask = np.zeros((SEG_SIZE, SEG_SIZE), dtype=np.int64)
            main = int(g.integers(1, SEG_CLASSES + 1))
            r, c = g.integers(2, 6, 2)
            h, w = g.integers(10, 16, 2)
            mask[r : r + h, c : c + w] = main
            if g.random() < 0.5:
                mask[r : r + 3, c : c + 3] = int(g.integers(1, SEG_CLASSES + 1))
            mask[0, :] = mask[-1, :] = mask[:, 0] = mask[:, -1] = 255
            image = g.normal(size=(3, SEG_SIZE, SEG_SIZE)).astype(np.float32)
            self.items.append((main, image, mask))
        self.items.sort(key=lambda item: item[0])

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        _, image, mask = self.items[i]
        return torch.from_numpy(image), torch.from_numpy(mask).to(self.dtype)


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8], ids=["int64", "uint8"])
def test_segmentation_sorted_by_main_class_fails(dtype):
    report = loadercheck.check(stored(Segmentation(dtype), batch_size=16))
    assert_fails_on(report, "label-runs", "segmentation")
    assert set(report.class_names) == {str(c) for c in range(1, SEG_CLASSES + 1)}  # never 0 nor 255


def test_segmentation_shuffled_passes():
    assert_passes(loadercheck.check(shuffled(Segmentation(), batch_size=16)), "segmentation")


# ---------------------------------------------------------------------- 4-5. token feeds
DOMAINS = {
    "cooking": "flour sugar butter oven bake whisk simmer garlic onion pepper salt knife pan roast stew dough",
    "sports": "goal striker keeper referee match league score pitch tackle penalty coach season stadium team",
    "finance": "stock bond yield equity dividend market broker asset loan interest credit inflation budget fund",
    "space": "orbit rocket planet comet galaxy nebula lunar solar probe launch gravity telescope star asteroid",
}
PROMPT_WORDS = "please write explain describe tell me about a short note on the topic of".split()
LM_PER_DOMAIN, SFT_PER_DOMAIN = 250, 100
"""1,000 causal-LM sequences (their groupings are beyond any doubt) and 400 SFT examples: on so few the
domain grouping's verdict rests on the signal checks' permutation safety net, which must resolve
p-values down to the level where a signal decides (Bonferroni over its 4 tests, Holm over the two
signals); with the label checks' 15,999 permutations its floor (4 x 2 x 2/16,000 = 1e-3) sat above
the order checks' alpha and the grouping passed."""


def domain_texts(per_domain: int, seed: int, lengths=(6, 40)) -> list[tuple[str, str]]:
    """``(domain, text)`` pairs, domain after domain; every domain draws its lengths alike."""
    g = np.random.default_rng(seed)
    return [(name, " ".join(g.choice(words.split(), int(g.integers(*lengths)))))
            for name, words in DOMAINS.items() for _ in range(per_domain)]


@functools.cache
def tokenizer():
    """A word-level tokenizer trained here on a generated corpus, wrapped for transformers."""
    model = tokenizers.Tokenizer(tokenizers.models.WordLevel(unk_token="[UNK]"))
    model.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    corpus = [text for _, text in domain_texts(40, seed=99)] + [" ".join(PROMPT_WORDS)]
    model.train_from_iterator(corpus, tokenizers.trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"]))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=model, pad_token="[PAD]", unk_token="[UNK]")


def tokenized(texts: list[str]) -> list[dict]:
    encoded = tokenizer()(texts)
    return [{"input_ids": ids, "attention_mask": mask} for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"])]


@functools.cache
def lm_examples(order: str) -> list[dict]:
    """Causal-LM examples: ``"domain"`` stored domain after domain, ``"length"`` the same kind of
    texts (domains interleaved at random) stored by length."""
    texts = domain_texts(LM_PER_DOMAIN, seed=1)
    if order == "length":
        texts = [texts[i] for i in np.random.default_rng(2).permutation(len(texts))]
        texts.sort(key=lambda dt: len(dt[1].split()))
    return tokenized([text for _, text in texts])


def lm_loader(order: str, shuffle: bool) -> DataLoader:
    collate = transformers.DataCollatorForLanguageModeling(tokenizer(), mlm=False)
    make = shuffled if shuffle else stored
    return make(lm_examples(order), batch_size=16, collate_fn=collate)


@functools.cache
def lm_report(order: str, shuffle: bool):
    return loadercheck.check(lm_loader(order, shuffle))


def test_causal_lm_collator_gives_per_token_labels():
    batch = next(iter(lm_loader("domain", shuffle=True)))
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    padded = batch["attention_mask"] == 0
    assert padded.any() and (batch["labels"][padded] == -100).all()
    assert torch.equal(batch["labels"][~padded], batch["input_ids"][~padded])


def test_causal_lm_domain_after_domain_fails_input_order():
    report = lm_report("domain", shuffle=False)
    assert_fails_on(report, "input-order", "tokens")
    assert report.stream.label_kind == "none"
    assert "input-order: input cluster" in report.stream.signals


def test_causal_lm_sorted_by_length_fails_length_order():
    report = lm_report("length", shuffle=False)
    assert_fails_on(report, "length-order", "tokens")
    assert "length-order: sequence length" in report.stream.signals


@pytest.mark.parametrize("order", ["domain", "length"])
def test_causal_lm_shuffled_passes(order):
    assert_passes(lm_report(order, shuffle=True), "tokens")


def sft_collate(examples: list[dict]) -> dict:
    """Supervised fine-tuning batches: prompt + response, labels -100 on the prompt and the padding."""
    pad = tokenizer().pad_token_id
    width = max(len(e["prompt"]) + len(e["response"]) for e in examples)
    ids = torch.full((len(examples), width), pad, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        p, r = len(e["prompt"]), len(e["response"])
        ids[row, : p + r] = torch.tensor(e["prompt"] + e["response"])
        labels[row, p : p + r] = torch.tensor(e["response"])
        mask[row, : p + r] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@functools.cache
def sft_examples() -> list[dict]:
    """Prompt/response pairs, domain after domain (prompts share one vocabulary, responses do not)."""
    g = np.random.default_rng(3)
    responses = domain_texts(SFT_PER_DOMAIN, seed=4, lengths=(4, 24))
    prompts = [" ".join(g.choice(PROMPT_WORDS, int(g.integers(3, 9)))) for _ in responses]
    tok = tokenizer()
    return [{"prompt": tok(p)["input_ids"], "response": tok(r)["input_ids"]} for p, (_, r) in zip(prompts, responses)]


def test_sft_labels_mask_the_prompt():
    batch = sft_collate(sft_examples()[:4])
    assert (batch["labels"] == -100).any() and not torch.equal(batch["labels"], batch["input_ids"])


def test_sft_domain_ordered_fails_input_order():
    report = loadercheck.check(stored(sft_examples(), batch_size=16, collate_fn=sft_collate))
    assert_fails_on(report, "input-order", "tokens")


def test_sft_shuffled_passes():
    assert_passes(loadercheck.check(shuffled(sft_examples(), batch_size=16, collate_fn=sft_collate)), "tokens")


# ---------------------------------------------------------------------- 6. Hugging Face datasets
SOURCES = {"web": range(10, 60), "code": range(60, 110), "math": range(110, 160)}


@functools.cache
def hf_dataset():
    """A datasets.Dataset with text, input_ids and source columns, concatenated source after source."""
    g = np.random.default_rng(5)
    parts = []
    for source, vocab in SOURCES.items():
        ids = [g.choice(np.array(vocab), int(g.integers(8, 33))).tolist() for _ in range(240)]
        parts.append(datasets.Dataset.from_dict(
            {"text": [" ".join(map(str, x)) for x in ids], "input_ids": ids, "source": [source] * len(ids)}))
    return datasets.concatenate_datasets(parts)


def hf_collate(rows: list[dict]) -> dict:
    """Pads input_ids (with an attention mask) and keeps ``source`` as a list of strings."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
        mask[i, : len(r["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "source": [r["source"] for r in rows]}


def test_hf_sources_concatenated_fail_metadata_order():
    report = loadercheck.check(stored(hf_dataset(), batch_size=16, collate_fn=hf_collate))
    assert_fails_on(report, "metadata-order", "none")
    assert "metadata-order: source" in report.stream.signals
    assert any("'source'" in note for note in report.stream.notes)
    assert "'source'" in report["metadata-order"].message and "source" in report["metadata-order"].hint


def test_hf_sources_shuffled_by_the_sampler_pass():
    report = loadercheck.check(shuffled(hf_dataset(), batch_size=16, collate_fn=hf_collate))
    assert_passes(report, "none")
    assert report["metadata-order"].status == "pass"


def test_hf_dataset_shuffled_once_passes_every_order_check():
    """``ds.shuffle(seed=0)`` read by a DataLoader without shuffle=True: the order is a fresh shuffle
    (every order check passes), but the same one every epoch, which the loader facts (SequentialSampler)
    and the second epoch (it repeats the first) rightly warn about: the verdict is warn, never fail."""
    report = loadercheck.check(stored(hf_dataset().shuffle(seed=0), batch_size=16, collate_fn=hf_collate))
    assert report.stream.target_kind == "none"
    assert report["metadata-order"].status == "pass", flagged(report)
    assert all(report[c].status == "pass" for c in ORDER_CHECK_IDS if c in {r.id for r in report.checks})
    warned = {c.id for c in report.checks if c.status is not Status.PASS}
    assert "loader-config" in warned and warned <= {"loader-config", "cross-epoch-order"}, flagged(report)
    assert report.verdict == "warn"


# ---------------------------------------------------------------------- 7. unlabeled feeds
CLUSTERS, PER_CLUSTER = 10, 60


class Unlabeled(Dataset):
    """Image tensors from 10 Gaussian clusters, stored cluster after cluster; ``pairs`` yields two
    augmented views of each image (a contrastive feed) instead of the image alone."""

    def __init__(self, pairs: bool = False):
        g = np.random.default_rng(SEED)
        centres = g.normal(size=(CLUSTERS, 3, 8, 8)).astype(np.float32)
        cluster = np.repeat(np.arange(CLUSTERS), PER_CLUSTER)
        self.images = torch.from_numpy(centres[cluster] + 0.3 * g.normal(size=(cluster.size, 3, 8, 8)).astype(np.float32))
        self.noise = torch.from_numpy(0.1 * g.normal(size=(cluster.size, 3, 8, 8)).astype(np.float32))
        self.pairs = pairs

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if self.pairs:
            return self.images[i] + self.noise[i], self.images[i] - self.noise[i]
        return self.images[i]


@pytest.mark.parametrize("pairs", [False, True], ids=["self-supervised", "contrastive"])
def test_unlabeled_grouped_by_cluster_fails_input_order(pairs):
    report = loadercheck.check(stored(Unlabeled(pairs), batch_size=32))
    assert_fails_on(report, "input-order", "none")
    assert report.stream.signals == ("input-order: input cluster",)
    assert report.stream.classes is None


@pytest.mark.parametrize("pairs", [False, True], ids=["self-supervised", "contrastive"])
def test_unlabeled_shuffled_passes(pairs):
    assert_passes(loadercheck.check(shuffled(Unlabeled(pairs), batch_size=32)), "none")


# ---------------------------------------------------------------------- 8. the CLI's exit codes
FEEDS_MODULE = f"""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    def _images():
        g = np.random.default_rng({SEED})
        centres = g.normal(size=(8, 3, 8, 8)).astype(np.float32)
        cluster = np.repeat(np.arange(8), 64)
        return torch.from_numpy(centres[cluster] + 0.3 * g.normal(size=(cluster.size, 3, 8, 8)).astype(np.float32))

    def grouped():
        return DataLoader(_images(), batch_size=32)

    def mixed():
        return DataLoader(_images(), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))

    def metadata_only():
        return [{{"id": i}} for i in range(40)]
"""


@pytest.fixture(scope="module")
def feeds_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("feeds") / "unlabeled_feeds.py"
    path.write_text(textwrap.dedent(FEEDS_MODULE))
    return str(path)


@pytest.mark.parametrize(("factory", "code"), [("mixed", 0), ("grouped", 1)])
def test_cli_judges_an_unlabeled_feed(feeds_module, factory, code):
    result = invoke(f"{feeds_module}:{factory}")
    assert result.exit_code == code, result.output
    assert "input-order" in result.stdout and "Traceback" not in result.output


def test_cli_exits_2_only_when_nothing_is_readable(feeds_module):
    result = invoke(f"{feeds_module}:metadata_only")
    assert result.exit_code == 2, result.output
    assert "--label" in result.stderr and result.stdout == ""


# ---------------------------------------------------------------------- 9. JSON
def test_json_stream_names_the_target_kind_and_signals():
    doc = lm_report("domain", shuffle=True).to_dict()
    stream = doc["stream"]
    assert stream["target_kind"] == "tokens" and stream["label_kind"] == "none"
    assert stream["signals"] == ["input-order: input cluster", "length-order: sequence length"]
    assert {"input-order", "length-order"} <= {c["id"] for c in doc["checks"]}
    assert json.loads(lm_report("domain", shuffle=True).to_json())["stream"] == json.loads(json.dumps(stream))


# ---------------------------------------------------------------------- feeds once misread (each a fixed bug)
def test_tensor_dataset_of_inputs_alone_is_judged_on_its_inputs():
    report = loadercheck.check(stored(TensorDataset(Unlabeled().images), batch_size=32))
    assert_fails_on(report, "input-order", "none")


def test_raw_text_batches_are_read_as_one_text_per_sample():
    texts = [text for _, text in domain_texts(150, seed=6)]
    report = loadercheck.check(stored(texts, batch_size=16))
    assert (report.stream.samples, report.stream.target_kind) == (len(texts), "none"), report.stream.notes
    assert_fails_on(report, "input-order", "none")


def test_per_sample_dicts_without_labels_are_read_from_their_inputs():
    examples = [e for e in lm_examples("domain")]
    report = loadercheck.check(stored([{"input_ids": e["input_ids"]} for e in examples], batch_size=16,
                                      collate_fn=lambda b: b))
    assert_fails_on(report, "input-order", "none")


def test_uint8_views_are_a_contrastive_pair_not_masks():
    images = (Unlabeled().images.clamp(-3, 3) * 40 + 128).to(torch.uint8)
    pairs = TensorDataset(images, images.flip(-1))
    report = loadercheck.check(stored(pairs, batch_size=32))
    assert_fails_on(report, "input-order", "none")


def test_multi_hot_rows_after_one_hot_batches_are_multi_label():
    rows = np.zeros((640, 10), dtype=np.float32)
    rows[np.arange(640), np.repeat(np.arange(10), 64)] = 1.0
    rows[64:, 9] = 1.0  # from the third batch on, several tags per row
    rows[np.arange(64, 640), np.repeat(np.arange(1, 10), 64)] = 1.0
    report = loadercheck.check(stored(TensorDataset(torch.randn(640, 3), torch.from_numpy(rows)), batch_size=32))
    assert report.stream.target_kind == "multi-label"
    assert any("multi-hot" in note for note in report.stream.notes)
