"""doctor's rate-limit headroom, from the (limit, remaining, reset) of its GET /me answer (pure)."""
from intercom_fdw.tools.doctor import _headroom


def test_plenty_left_is_ok_and_says_how_much():
    finding = _headroom(1666, 1500, 1_000_010, now=1_000_000)
    assert finding.ok and finding.says == "1500 of 1666 calls left in this rate-limit slice, resets in 10 s"


def test_under_a_tenth_left_is_a_problem_with_its_fix():
    finding = _headroom(1666, 100, None, now=0)
    assert not finding.ok and "something else is using most of this app's budget" in finding.says
    assert "rate_limit_share" in finding.fix


def test_no_headers_is_not_a_problem():
    assert _headroom(None, None, None, now=0).ok
