"""The decision rule (SPEC §4), written once in checks.decide / checks.verdict."""

import pytest

from loadercheck.checks import decide, verdict
from loadercheck.results import Status


@pytest.mark.parametrize(
    ("p", "effect", "ordered", "expected"),
    [
        (0.5, 0.9, False, Status.PASS),        # not significant: pass whatever the effect
        (1e-3, 0.9, False, Status.FAIL),       # significant at alpha and large: fail
        (1.01e-3, 0.9, False, Status.PASS),    # just above alpha: pass
        (1e-9, 0.01, False, Status.WARN),      # significant but small: warn
        (1e-9, -0.2, False, Status.FAIL),      # effect sign does not matter (target trend)
        (1e-9, None, False, Status.WARN),      # no effect size: never fail
        (1e-9, 0.9, True, Status.PASS),        # declared ordered: never fails
    ],
)
def test_decide(p, effect, ordered, expected):
    assert decide(p, effect, min_effect=0.05, alpha=1e-3, ordered=ordered) is expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.PASS),
        ([Status.PASS, Status.SKIP], Status.PASS),
        ([Status.PASS, Status.WARN, Status.SKIP], Status.WARN),
        ([Status.WARN, Status.FAIL, Status.PASS], Status.FAIL),
    ],
)
def test_verdict(statuses, expected):
    assert verdict(statuses) is expected
