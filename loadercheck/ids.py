"""The stable check ids (SPEC §3), in report order: the one list every layer reads.

Plain constants with no imports, so sampling, checks, forensics and renderers can all share them
without importing each other. Each id has a section in docs/checks.md.
"""

LABEL_RUNS = "label-runs"
BATCH_ENTROPY = "batch-entropy"
LABEL_AUTOCORRELATION = "label-autocorrelation"
WINDOW_DRIFT = "window-drift"
TARGET_TREND = "target-trend"
INPUT_ORDER = "input-order"
LENGTH_ORDER = "length-order"
METADATA_ORDER = "metadata-order"
INPUT_DRIFT = "input-drift"
DUPLICATES = "duplicates"
CROSS_EPOCH_ORDER = "cross-epoch-order"
RESUME_REPLAY = "resume-replay"
RANK_COVERAGE = "rank-coverage"
LOADER_CONFIG = "loader-config"
PROBE = "probe"
CLASS_BALANCE = "class-balance"

CHECK_IDS: tuple[str, ...] = (
    LABEL_RUNS,
    BATCH_ENTROPY,
    LABEL_AUTOCORRELATION,
    WINDOW_DRIFT,
    TARGET_TREND,
    INPUT_ORDER,
    LENGTH_ORDER,
    METADATA_ORDER,
    INPUT_DRIFT,
    DUPLICATES,
    CROSS_EPOCH_ORDER,
    RESUME_REPLAY,
    RANK_COVERAGE,
    LOADER_CONFIG,
    PROBE,
    CLASS_BALANCE,
)
"""Every stable check id, in the order reports list them."""

SIGNAL_CHECK_IDS: tuple[str, ...] = (INPUT_ORDER, LENGTH_ORDER, METADATA_ORDER)
"""Order checks on signals besides the label (label-free feeds, token streams, metadata columns)."""

ORDER_CHECK_IDS: frozenset[str] = frozenset(
    (LABEL_RUNS, BATCH_ENTROPY, LABEL_AUTOCORRELATION, WINDOW_DRIFT, TARGET_TREND, *SIGNAL_CHECK_IDS))
"""The statistical order checks (their Holm family); the other ids are forensics, probe and info."""
