"""Timestamps of logged records (predictions, A/B outcomes): ISO 8601, read as UTC when they name no zone,
so that a window "the last 7 days up to now" compares like with like."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_timestamp(value: object) -> datetime:
    """An aware datetime from an ISO 8601 string ("Z" accepted); ValueError naming the value otherwise."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"timestamp {value!r} is not ISO 8601") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
