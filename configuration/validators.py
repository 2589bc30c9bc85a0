"""Validation of the settings operators edit, shared by admin and the config document."""

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

from core.addresses import sender_email_parse
from core.times import WEEKDAYS, time_parse


def errors_collect(**checks: Callable[[], None]) -> dict[str, list[str]]:
    """Run each check; the messages of those that raised, by field."""
    errors: dict[str, list[str]] = {}
    for field, check in checks.items():
        try:
            check()
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, messages in exc.message_dict.items():
                    errors.setdefault(name, []).extend(messages)
            else:
                errors.setdefault(field, []).extend(exc.messages)
    return errors


def time_zone_validate(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"Unknown time zone '{value}'.") from exc


def window_validate(start: str, end: str) -> None:
    """Both bounds or neither, each HHhMM or HH:MM, and not the same time."""
    if bool(start) != bool(end):
        raise ValidationError({"window_end" if start else "window_start": "Set both window start and end, or neither."})
    bad = {
        field: "Use HHhMM or HH:MM (00h00 to 23h59)."
        for field, value in (("window_start", start), ("window_end", end))
        if value and time_parse(value) is None
    }
    if bad:
        raise ValidationError(bad)
    if start and time_parse(start) == time_parse(end):
        raise ValidationError({"window_end": "Window start and end cannot be equal."})


def weekdays_validate(days) -> None:
    if not isinstance(days, list) or any(not isinstance(d, str) or d.strip().lower() not in WEEKDAYS for d in days):
        raise ValidationError(f"Absence days must be a list of weekday names ({', '.join(WEEKDAYS)}).")


def absence_validate(enabled: bool, days) -> None:
    weekdays_validate(days)
    if enabled and not days:
        raise ValidationError("Choose at least one absence day, or disable absence.")


def allowlist_validate(addresses) -> None:
    if not isinstance(addresses, list) or any(not isinstance(a, str) for a in addresses):
        raise ValidationError("The allowlist is a list of e-mail addresses.")


def allowlist_normalise(addresses: list[str]) -> list[str]:
    """Each address in the canonical form ingress compares senders in, once, sorted."""
    return sorted({sender_email_parse(address) for address in addresses} - {""})


RETENTION_DAYS_MAX = 3650


def retention_days_validate(value) -> None:
    """0 (keep everything) or 1 to RETENTION_DAYS_MAX days."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= RETENTION_DAYS_MAX:
        raise ValidationError(f"Enter 0 (keep everything) or a number of days from 1 to {RETENTION_DAYS_MAX}.")
