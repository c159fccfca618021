"""The one-sentence reading of a verdict, shared by the text and HTML renderers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ids import ORDER_CHECK_IDS
from ..results import CheckResult, Status

if TYPE_CHECKING:  # pragma: no cover - the Report sits above the renderers
    from ..report import Report


def verdict_sentence(report: Report) -> str:
    """What the verdict means for training, without the final full stop."""
    if report.verdict is Status.PASS:
        if report.config.get("ordered") and any(
                c.id in ORDER_CHECK_IDS and c.message.startswith("(feed declared ordered") for c in report.checks):
            return ("the feed is ordered, as declared (--ordered): the order checks that found order were not "
                    "judged; no other defect found")
        return f"no sign of a badly ordered feed at alpha {report.config.get('alpha', 1e-3):g}"
    if report.verdict is Status.WARN:
        return "order looks non-random but the effect is small (or could not be judged)"
    if any(c.id in ORDER_CHECK_IDS for c in report.failed):
        return "the feed order is not a shuffle; training on it may fail to converge"
    return "the feed has a defect that can hurt training: " + ", ".join(c.id for c in report.failed)


def evidence(check: CheckResult) -> str:
    """``p=..., effect=...`` for the checks table (the probe's effect is its held-out loss ratio).

    A p-value whose permutation net stopped at the stream's budget reads ``p=... unsettled``: it
    is valid but larger than more permutations could have shown (a PASS beside it is not a
    finding that the order is fine)."""
    parts = []
    if check.pvalue is not None:
        unsettled = (check.details or {}).get("mc_settled") == 0.0
        parts.append(f"p={check.pvalue:.2g}{' unsettled' if unsettled else ''}")
    if check.effect is not None and check.id != "class-balance":
        name = "loss ratio" if check.id == "probe" else "effect"
        value = f"{check.effect:.2f}"
        parts.append(f"{name}={'0.00' if value == '-0.00' else value}")
    return ", ".join(parts)
