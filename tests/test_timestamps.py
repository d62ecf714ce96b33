"""RFC 3339 parsing (strict: grammar, zone, calendar) and comparison as instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conformance.timestamps import InvalidTimestamp, is_later, parse_rfc3339

VALID = {
    "2023-08-23T09:09:16.076Z": datetime(2023, 8, 23, 9, 9, 16, 76_000, tzinfo=UTC),
    "2023-08-23T09:09:16.076z": datetime(2023, 8, 23, 9, 9, 16, 76_000, tzinfo=UTC),
    "2023-08-23t09:09:16.076Z": datetime(2023, 8, 23, 9, 9, 16, 76_000, tzinfo=UTC),
    "2023-08-23T10:09:16.076+01:00": datetime(2023, 8, 23, 9, 9, 16, 76_000, tzinfo=UTC),
    "2023-08-23T04:39:16-04:30": datetime(2023, 8, 23, 9, 9, 16, tzinfo=UTC),
    "2023-08-23T09:09:16.076-00:00": datetime(2023, 8, 23, 9, 9, 16, 76_000, tzinfo=UTC),
    "2023-08-23T09:09:16Z": datetime(2023, 8, 23, 9, 9, 16, tzinfo=UTC),
    "2023-08-23T09:09:16.123456Z": datetime(2023, 8, 23, 9, 9, 16, 123_456, tzinfo=UTC),
    "2023-08-23T09:09:16.1234567891Z": datetime(2023, 8, 23, 9, 9, 16, 123_456, tzinfo=UTC),
    "2023-08-23T09:09:16.5Z": datetime(2023, 8, 23, 9, 9, 16, 500_000, tzinfo=UTC),
    "2024-02-29T00:00:00Z": datetime(2024, 2, 29, tzinfo=UTC),
    "2023-12-31T23:30:00-01:00": datetime(2024, 1, 1, 0, 30, tzinfo=UTC),
    "2023-08-23T23:59:59+23:59": datetime(2023, 8, 23, 0, 0, 59, tzinfo=UTC),
}

INVALID = {
    "missing zone": "2023-08-23T09:09:16.076",
    "space separator": "2023-08-23 09:09:16.076Z",
    "no separator": "2023-08-2309:09:16Z",
    "date only": "2023-08-23",
    "30 February": "2023-02-30T00:00:00Z",
    "29 February in a common year": "2023-02-29T00:00:00Z",
    "month 13": "2023-13-01T00:00:00Z",
    "month 00": "2023-00-01T00:00:00Z",
    "day 00": "2023-01-00T00:00:00Z",
    "year 0000": "0000-01-01T00:00:00Z",
    "hour 25": "2023-08-23T25:00:00Z",
    "hour 24": "2023-08-23T24:00:00Z",
    "minute 60": "2023-08-23T09:60:00Z",
    "leap second": "2016-12-31T23:59:60Z",
    "offset without colon": "2023-08-23T09:09:16+0100",
    "offset hours only": "2023-08-23T09:09:16+01",
    "offset hour 24": "2023-08-23T09:09:16+24:00",
    "offset minute 60": "2023-08-23T09:09:16+01:60",
    "empty fraction": "2023-08-23T09:09:16.Z",
    "comma fraction": "2023-08-23T09:09:16,076Z",
    "no seconds": "2023-08-23T09:09Z",
    "two-digit year": "23-08-23T09:09:16Z",
    "trailing newline": "2023-08-23T09:09:16Z\n",
    "leading space": " 2023-08-23T09:09:16Z",
    "named zone": "2023-08-23T09:09:16 UTC",
    "non-ASCII digits": "\uff12\uff10\uff12\uff13-08-23T09:09:16Z",  # fullwidth 2023
    "epoch milliseconds as text": "1692781756076",
    "empty": "",
}


@pytest.mark.parametrize("text", VALID)
def test_valid_date_times_parse_to_the_instant(text: str) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == VALID[text]
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("case", INVALID)
def test_invalid_date_times_are_rejected(case: str) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_rfc3339(INVALID[case])


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "null"), (1692781756076, "number"), (True, "boolean"), ({}, "object"), ([], "array")],
)
def test_non_strings_are_rejected_naming_their_json_type(value: object, kind: str) -> None:
    with pytest.raises(InvalidTimestamp, match=f"received a JSON {kind}$"):
        parse_rfc3339(value)


def test_out_of_range_after_conversion_is_rejected_not_crashing() -> None:
    with pytest.raises(InvalidTimestamp, match="years 0001-9999"):
        parse_rfc3339("0001-01-01T00:30:00+01:00")


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        # 09:00Z < 09:30Z, though 10:00 > 09:30 as text
        ("2023-08-23T10:00:00+01:00", "2023-08-23T09:30:00Z"),
        ("2023-08-23T09:00:00Z", "2023-08-23T05:00:00.001-04:00"),
        # across midnight: the later instant has the earlier calendar date in its text
        ("2023-08-24T00:30:00Z", "2023-08-23T23:31:00-01:00"),
        ("2023-08-23T09:09:16Z", "2023-08-23T09:09:16.000001Z"),
    ],
)
def test_instants_compare_across_offsets(earlier: str, later: str) -> None:
    first, second = parse_rfc3339(earlier), parse_rfc3339(later)
    assert is_later(second, first)
    assert not is_later(first, second)


@pytest.mark.parametrize(
    "same",
    [
        "2023-08-23T10:09:16+01:00",
        "2023-08-23T09:09:16.000Z",
        "2023-08-23T09:09:16-00:00",
        "2023-08-23t04:09:16-05:00",
    ],
)
def test_the_same_instant_under_different_offsets_is_equal(same: str) -> None:
    reference = parse_rfc3339("2023-08-23T09:09:16Z")
    assert parse_rfc3339(same) == reference
    assert not is_later(parse_rfc3339(same), reference)
    assert not is_later(reference, parse_rfc3339(same))


def test_tolerance_extends_the_reference() -> None:
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    four_minutes_ahead = parse_rfc3339("2024-01-01T13:04:00+01:00")
    assert is_later(four_minutes_ahead, now)
    assert not is_later(four_minutes_ahead, now, tolerance=timedelta(minutes=5))
    assert is_later(parse_rfc3339("2024-01-01T12:05:00.001Z"), now, tolerance=timedelta(minutes=5))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_later(datetime(2024, 1, 1), datetime(2024, 1, 1, tzinfo=UTC))
