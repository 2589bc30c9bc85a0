"""Time-window parsing and policy (SPEC §5.4)."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from core.times import time_parse
from ingress.detectors import DESABO, RECADRAGE
from ingress.windows import DEFER, DELIVER, REJECT, SKIP, window_decide, window_next_open, window_state

PARIS = ZoneInfo("Europe/Paris")


def at(hour, minute=0, day=10):
    return datetime(2026, 4, day, hour, minute, tzinfo=PARIS)


@pytest.mark.parametrize("value,expected", [
    ("13h30", time(13, 30)), ("9h00", time(9, 0)), ("09:05", time(9, 5)), (" 10H30 ", time(10, 30)),
    ("23:59", time(23, 59)), ("00h00", time(0, 0)),
])
def test_time_parse_accepts_hhmm_with_h_or_colon(value, expected):
    assert time_parse(value) == expected


@pytest.mark.parametrize("value", ["9h", "10h5", "24:00", "12:60", "1330", "invalid", "", None])
def test_time_parse_refuses_anything_else(value):
    assert time_parse(value) is None


def test_start_is_inclusive_and_end_exclusive():
    assert window_state("09h00", "17h00", at(9, 0)).within
    assert not window_state("09h00", "17h00", at(17, 0)).within


def test_window_wraps_midnight_when_start_is_after_end():
    assert window_state("22h00", "06h00", at(23, 0)).within
    assert window_state("22h00", "06h00", at(5, 59)).within
    assert not window_state("22h00", "06h00", at(12, 0)).within


def test_missing_or_unparseable_bound_means_no_window():
    assert window_state("", "", at(3)).within
    assert not window_state("09h00", "bogus", at(3)).configured


def test_early_means_before_the_start():
    assert window_state("09h00", "17h00", at(7)).early
    assert not window_state("09h00", "17h00", at(20)).early


def decide(detector=None, urgent=False, now=None, policy="reject", start="09h00", end="17h00"):
    return window_decide(detector=detector, is_urgent=urgent, start=start, end=end, policy=policy, now_local=now)


def test_no_window_delivers_without_time_fields():
    decision = decide(start="", end="", now=at(3))
    assert (decision.action, decision.webhooks_time_start, decision.webhooks_time_end) == (DELIVER, None, None)


def test_inside_window_sets_maintenant_and_end():
    decision = decide(now=at(10))
    fields = (decision.action, decision.webhooks_time_start, decision.webhooks_time_end)
    assert fields == (DELIVER, "maintenant", "17h00")


def test_recadrage_outside_is_skipped():
    assert decide(RECADRAGE, now=at(20)).action == SKIP


def test_desabo_early_bypasses_with_the_start_string():
    decision = decide(DESABO, now=at(7))
    assert (decision.action, decision.webhooks_time_start, decision.webhooks_time_end) == (DELIVER, "09h00", "17h00")


def test_desabo_late_bypasses_without_start():
    decision = decide(DESABO, now=at(20))
    assert (decision.action, decision.webhooks_time_start) == (DELIVER, None)


def test_urgent_desabo_outside_is_rejected_with_its_message():
    decision = decide(DESABO, urgent=True, now=at(20))
    assert (decision.action, decision.message) == (REJECT, "Outside time window (DESABO urgent)")


def test_undetected_outside_is_rejected():
    assert decide(now=at(20)).message == "Outside time window"


def test_defer_policy_turns_rejections_into_deferrals_at_next_opening():
    decision = decide(now=at(20), policy="defer")
    assert decision.action == DEFER
    assert decision.deliver_after == at(9, day=11)


def test_defer_never_applies_to_recadrage():
    assert decide(RECADRAGE, now=at(20), policy="defer").action == SKIP


def test_next_opening_is_today_when_before_the_start():
    assert window_next_open("09h00", at(7)) == at(9)


def test_next_opening_keeps_wall_clock_across_dst():
    # 2026-03-29 is the spring-forward night in Paris.
    now = datetime(2026, 3, 28, 20, 0, tzinfo=PARIS)
    opening = window_next_open("09h00", now)
    assert (opening.day, opening.hour, opening.utcoffset().total_seconds()) == (29, 9, 7200)
