"""Parsing MemOS timestamps and message items: untrusted input never raises (no network here)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import pytest

from memos_api.models import ContentPart, Message, message_from_api, parse_content, sort_by_time
from memos_api.timestamps import BEIJING, parse_timestamp, parse_timezone

UTC = UTC
# 2024-05-01 10:00:00 in Beijing is 02:00 UTC; as an epoch that is 1714528800.
BEIJING_TEN = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
EPOCH = 1714528800


# --- parse_timestamp -----------------------------------------------------------------------


def test_naive_memos_format_is_beijing_time_by_default():
    parsed = parse_timestamp("2024-05-01 10:00:00")
    assert parsed == BEIJING_TEN
    assert parsed.utcoffset() == timedelta(hours=8)
    assert parse_timestamp("2024-05-01 10:00:00", BEIJING) == BEIJING_TEN


def test_naive_memos_format_in_another_zone():
    assert parse_timestamp("2024-05-01 10:00:00", UTC) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    new_york = parse_timestamp("2024-05-01 10:00:00", ZoneInfo("America/New_York"))
    assert new_york == datetime(2024, 5, 1, 14, tzinfo=UTC)  # EDT is UTC-4 in May
    offset = parse_timestamp("2024-05-01 10:00:00", parse_timezone("-05:30"))
    assert offset == datetime(2024, 5, 1, 15, 30, tzinfo=UTC)


def test_fractional_seconds_and_surrounding_space():
    assert parse_timestamp(" 2024-05-01 10:00:00.250 ") == BEIJING_TEN + timedelta(
        milliseconds=250)


@pytest.mark.parametrize("text, expected", [
    ("2024-05-01T02:00:00Z", BEIJING_TEN),
    ("2024-05-01T02:00:00z", BEIJING_TEN),
    ("2024-05-01T02:00:00.5Z", BEIJING_TEN + timedelta(milliseconds=500)),
    ("2024-05-01T02:00:00+00:00", BEIJING_TEN),
    ("2024-05-01T10:00:00+08:00", BEIJING_TEN),
    ("2024-05-01T07:30:00+05:30", BEIJING_TEN),
    ("2024-04-30T19:00:00-07:00", BEIJING_TEN),
    ("2024-04-30T19:00:00-0700", BEIJING_TEN),
])
def test_iso_with_zone_ignores_the_default(text, expected):
    assert parse_timestamp(text) == expected
    assert parse_timestamp(text, ZoneInfo("America/New_York")) == expected


def test_naive_iso_takes_the_default_zone():
    assert parse_timestamp("2024-05-01T10:00:00") == BEIJING_TEN
    assert parse_timestamp("2024-05-01T10:00:00", UTC) == datetime(2024, 5, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("value", [
    EPOCH, float(EPOCH), EPOCH * 1000, float(EPOCH * 1000),
    str(EPOCH), str(EPOCH * 1000), f" {EPOCH} ", f"{EPOCH}.0", f"+{EPOCH}",
])
def test_epoch_seconds_and_milliseconds(value):
    assert parse_timestamp(value) == BEIJING_TEN
    assert parse_timestamp(value, ZoneInfo("America/New_York")) == BEIJING_TEN  # zone-free


def test_epoch_fractions_are_kept():
    assert parse_timestamp(EPOCH + 0.25) == BEIJING_TEN + timedelta(milliseconds=250)
    assert parse_timestamp(f"{EPOCH * 1000 + 250}") == BEIJING_TEN + timedelta(milliseconds=250)


@pytest.mark.parametrize("value", [
    None, "", "   ", "yesterday", "now", "2024-13-45 99:99:99", "2024-05-01 25:00:00",
    "1e9", "0x66", "--1", "12:00", [], [EPOCH], {}, {"time": EPOCH}, (), b"1714528800",
    True, False, math.nan, math.inf, -math.inf, "nan", "inf", "NaN",
    -1, -EPOCH, "-1", f"-{EPOCH}", -0.5, 0, 0.0, "0", "0.0",
    10**30, 1e300, 10**400, -(10**400), "9" * 400, "1" + "0" * 30, object(),
], ids=lambda value: repr(value)[:24])
def test_garbage_is_none_without_raising(value):
    assert parse_timestamp(value) is None


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "0001-01-01 00:00:00",
    "0001-01-01T23:59:59+00:00", "9999-12-31T00:00:01+00:00", "9999-12-31T23:59:59-23:59",
])
def test_times_at_the_edge_of_datetime_are_none(value):
    # Shown in any other zone they would overflow (OverflowError: a 500 on the page).
    assert parse_timestamp(value) is None


@pytest.mark.parametrize("value", ["0001-01-02T00:00:00+00:00", "9999-12-30T23:59:59+00:00",
                                   "0001-01-02T23:58:00+23:58", "9999-12-30T00:01:00-23:58"])
def test_times_just_inside_the_edge_show_in_every_zone(value):
    moment = parse_timestamp(value)
    assert moment is not None
    for zone in ("-23:59", "+23:59", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        moment.astimezone(parse_timezone(zone)).date()  # no OverflowError


def test_results_are_always_aware():
    for value in ("2024-05-01 10:00:00", "2024-05-01T10:00:00", EPOCH, str(EPOCH * 1000),
                  "2024-05-01"):
        parsed = parse_timestamp(value)
        assert parsed is not None and parsed.utcoffset() is not None


# --- parse_timezone ------------------------------------------------------------------------


@pytest.mark.parametrize("name, offset", [
    ("UTC", timedelta(0)), ("utc", timedelta(0)), ("Z", timedelta(0)), ("GMT", timedelta(0)),
    ("+08:00", timedelta(hours=8)), ("+8", timedelta(hours=8)), ("UTC+8", timedelta(hours=8)),
    ("utc+08:00", timedelta(hours=8)), (" GMT-3 ", timedelta(hours=-3)),
    ("-05:30", timedelta(hours=-5, minutes=-30)), ("+0530", timedelta(hours=5, minutes=30)),
    ("-00:00", timedelta(0)),
])
def test_parse_timezone_offsets(name, offset):
    assert parse_timezone(name).utcoffset(None) == offset


def test_parse_timezone_iana_names():
    shanghai = parse_timezone("Asia/Shanghai")
    assert shanghai.utcoffset(datetime(2024, 5, 1)) == timedelta(hours=8)
    assert parse_timezone("Europe/Paris").utcoffset(datetime(2024, 1, 1)) == timedelta(hours=1)


@pytest.mark.parametrize("name", ["", "   ", "Mars/Olympus_Mons", "+25:00", "UTC+24",
                                  "../../etc/passwd", "Beijing time", "+8:0"])
def test_parse_timezone_rejects_unknown_zones(name):
    with pytest.raises(ValueError):
        parse_timezone(name)


# --- message_from_api ----------------------------------------------------------------------


def test_message_from_a_documented_item():
    message = message_from_api({"role": "assistant", "content": "Hello!",
                                "create_time": "2024-05-01 10:00:00",
                                "update_time": "2024-05-01 10:05:00"})
    assert isinstance(message, Message)
    assert message.role == "assistant"
    assert message.text == "Hello!"
    assert message.parts == (ContentPart("text", "Hello!"),)
    assert message.created_at == BEIJING_TEN
    assert message.updated_at == BEIJING_TEN + timedelta(minutes=5)
    assert message.edited


def test_chat_time_beats_create_time_beats_update_time():
    item = {"chat_time": "2024-05-01 10:00:00", "create_time": "2024-05-02 10:00:00",
            "update_time": "2024-05-03 10:00:00"}
    assert message_from_api(item).created_at == BEIJING_TEN
    del item["chat_time"]
    assert message_from_api(item).created_at == BEIJING_TEN + timedelta(days=1)
    del item["create_time"]
    assert message_from_api(item).created_at == BEIJING_TEN + timedelta(days=2)
    assert message_from_api(item).updated_at == BEIJING_TEN + timedelta(days=2)
    assert not message_from_api(item).edited


def test_unreadable_time_fields_fall_through_to_the_next():
    item = {"chat_time": "not a time", "create_time": None, "update_time": EPOCH}
    assert message_from_api(item).created_at == BEIJING_TEN
    assert message_from_api({"chat_time": "", "create_time": "junk"}).created_at is None


def test_default_zone_applies_to_every_field():
    item = {"create_time": "2024-05-01 10:00:00", "update_time": "2024-05-01 11:00:00"}
    message = message_from_api(item, UTC)
    assert message.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert message.updated_at == datetime(2024, 5, 1, 11, tzinfo=UTC)


def test_no_times_at_all():
    message = message_from_api({"role": "user", "content": "x"})
    assert message.created_at is None and message.updated_at is None
    assert not message.edited


@pytest.mark.parametrize("role, expected", [
    ("user", "user"), ("assistant", "assistant"), ("system", "system"), ("tool", "tool"),
    ("", ""), (None, ""), (3, "3"), (True, "True"),
])
def test_roles_of_any_type_become_strings(role, expected):
    assert message_from_api({"role": role, "content": "x"}).role == expected


def test_missing_role_is_empty():
    assert message_from_api({"content": "x"}).role == ""


def test_unknown_fields_are_kept_as_extra():
    message = message_from_api({"role": "user", "content": "x", "id": 7, "tool_calls": []})
    assert message.extra == {"id": 7, "tool_calls": []}


@pytest.mark.parametrize("item, text", [
    ("just a string", "just a string"),
    (42, "42"),
    (4.5, "4.5"),
    (None, ""),
    (True, "true"),
    ([{"type": "text", "text": "a"}, "b"], "a\n\nb"),
])
def test_non_dict_items_still_make_messages(item, text):
    message = message_from_api(item)
    assert isinstance(message, Message)
    assert message.role == ""
    assert message.text == text
    assert message.created_at is None


# --- parse_content -------------------------------------------------------------------------


def test_string_content_is_one_text_part():
    assert parse_content("hello") == (ContentPart("text", "hello"),)
    assert parse_content("") == (ContentPart("text", ""),)


def test_list_of_text_parts():
    parts = parse_content([{"type": "text", "text": "first"}, {"type": "text", "text": "second"}])
    assert parts == (ContentPart("text", "first"), ContentPart("text", "second"))
    assert message_from_api({"content": [{"type": "text", "text": "first"},
                                          {"type": "text", "text": "second"}]}
                            ).text == "first\n\nsecond"


def test_mixed_parts_label_images_by_url_and_files_by_name():
    content = [
        {"type": "text", "text": "Look at these"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png",
                                            "detail": "auto"}},
        {"type": "file", "file": {"filename": "report.pdf", "file_data": "JVBERi0xLjQK"}},
        {"type": "image_url", "image_url": "https://example.com/dog.png"},
        {"type": "file", "file": {"file_id": "file-123"}},
    ]
    parts = parse_content(content)
    assert parts == (
        ContentPart("text", "Look at these"),
        ContentPart("image_url", "https://example.com/cat.png"),
        ContentPart("file", "report.pdf"),
        ContentPart("image_url", "https://example.com/dog.png"),
        ContentPart("file", "file-123"),
    )
    message = message_from_api({"role": "user", "content": content})
    assert message.text == "Look at these"  # labels are parts, not text
    assert "JVBERi0xLjQK" not in repr(parts)


def test_dict_content():
    assert parse_content({"type": "text", "text": "hi"}) == (ContentPart("text", "hi"),)
    assert parse_content({"text": "no type"}) == (ContentPart("text", "no type"),)
    assert parse_content({"type": "image_url", "image_url": {"url": "u"}}) == (
        ContentPart("image_url", "u"),)
    (part,) = parse_content({"something": "else"})
    assert part.kind != "text"


@pytest.mark.parametrize("value, text", [
    (42, "42"), (0, "0"), (-1.5, "-1.5"), (True, "true"), (False, "false"),
])
def test_scalar_content_is_shown_as_text(value, text):
    assert parse_content(value) == (ContentPart("text", text),)


def test_none_content_has_no_parts():
    assert parse_content(None) == ()
    assert message_from_api({"role": "user", "content": None}).text == ""
    assert message_from_api({"role": "user"}).parts == ()


def test_nested_junk_never_raises():
    junk = [
        [1, [2, [3]]], None, {"type": 5}, {"type": ""}, {"type": None, "text": None},
        {"type": "text", "text": {"nested": ["x"]}}, {"type": "text"},
        {"type": "image_url"},
        {"type": "image_url", "image_url": {"url": 7}}, {"type": "file", "file": []},
        {"type": "file", "url": "https://x/y"}, {"type": "file", "file": None},
        math.nan, "", [], {},
        {"type": "text", "text": [1, 2]}, {"type": ["text"]},
    ]
    parts = parse_content(junk)
    assert all(isinstance(part, ContentPart) for part in parts)
    assert all(isinstance(part.kind, str) and isinstance(part.text, str) for part in parts)
    assert ContentPart("text", '{"nested": ["x"]}') in parts
    assert ContentPart("file", "https://x/y") in parts
    message = message_from_api({"role": ["odd"], "content": junk, "chat_time": {"a": 1}})
    assert isinstance(message.text, str)


def test_deeply_nested_content_does_not_crash():
    value: object = "leaf"
    for depth in range(400):
        value = [value] if depth % 2 else {"type": "text", "text": value}
    assert isinstance(message_from_api({"content": value}).text, str)
    assert isinstance(message_from_api({"content": [value]}).text, str)


# --- sort_by_time --------------------------------------------------------------------------


def _at(label: str, minute: int | None) -> Message:
    created = None if minute is None else BEIJING_TEN + timedelta(minutes=minute)
    return Message(role="user", parts=(ContentPart("text", label),), created_at=created)


def _labels(messages: list[Message]) -> list[str]:
    return [message.text for message in messages]


def test_sort_by_time_orders_by_creation():
    messages = [_at("c", 3), _at("a", 1), _at("b", 2)]
    assert _labels(sort_by_time(messages)) == ["a", "b", "c"]
    assert _labels(messages) == ["c", "a", "b"]  # the input is left alone


def test_sort_by_time_is_stable_for_ties():
    messages = [_at("late", 5), _at("tie-1", 1), _at("tie-2", 1), _at("tie-3", 1)]
    assert _labels(sort_by_time(messages)) == ["tie-1", "tie-2", "tie-3", "late"]


def test_sort_by_time_gives_messages_already_in_order_back_as_a_new_list():
    messages = [_at("a", 1), _at("tie-1", 2), _at("tie-2", 2), _at("b", 3)]
    ordered = sort_by_time(messages)
    assert _labels(ordered) == ["a", "tie-1", "tie-2", "b"]
    assert ordered is not messages  # callers may change it: the input is left alone
    ordered.pop()
    assert len(messages) == 4


def test_sort_by_time_keeps_untimed_messages_in_their_slots():
    messages = [_at("t3", 3), _at("none-1", None), _at("t1", 1), _at("none-2", None),
                _at("t2", 2)]
    assert _labels(sort_by_time(messages)) == ["t1", "none-1", "t2", "none-2", "t3"]


def test_sort_by_time_mixes_zones_correctly():
    earlier = Message("user", (ContentPart("text", "earlier"),),
                      created_at=datetime(2024, 5, 1, 9, 0, tzinfo=BEIJING))  # 01:00 UTC
    later = Message("user", (ContentPart("text", "later"),),
                    created_at=datetime(2024, 5, 1, 1, 30, tzinfo=UTC))
    assert _labels(sort_by_time([later, earlier])) == ["earlier", "later"]


def test_sort_by_time_edge_cases():
    assert sort_by_time([]) == []
    only_untimed = [_at("x", None), _at("y", None)]
    assert _labels(sort_by_time(only_untimed)) == ["x", "y"]


# --- properties (hypothesis) ---------------------------------------------------------------

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # requirements-dev.txt pins it; without it only these tests are skipped
    given = None


if given is None:

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_property_tests_need_hypothesis():
        pass

else:

    json_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text())
    json_values = st.recursive(
        json_scalars,
        lambda children: st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10), children, max_size=5),
        max_leaves=25,
    )
    time_like = (st.text() | st.integers() | st.floats()
                 | st.datetimes().map(str) | st.datetimes().map(datetime.isoformat)
                 | st.integers(min_value=-(10**20), max_value=10**20).map(str)
                 | st.from_regex(r"\A\d{4}-\d\d-\d\d[ T][\d:.]{0,15}(Z|[+-][\d:]{1,5})?\Z"))
    message_items = st.fixed_dictionaries({}, optional={
        "role": json_values, "content": json_values, "chat_time": time_like | json_values,
        "create_time": time_like | json_values, "update_time": time_like | json_values,
        "extra_field": json_values,
    })


    @settings(max_examples=300, deadline=None)
    @given(json_values | message_items)
    def test_message_from_api_never_raises(item):
        message = message_from_api(item)
        assert isinstance(message, Message)
        assert isinstance(message.role, str)
        assert isinstance(message.text, str)
        assert all(isinstance(p.kind, str) and isinstance(p.text, str) for p in message.parts)
        for moment in (message.created_at, message.updated_at):
            assert moment is None or moment.utcoffset() is not None


    @settings(max_examples=300, deadline=None)
    @given(time_like, st.sampled_from([BEIJING, UTC, ZoneInfo("America/New_York")]))
    def test_parse_timestamp_never_raises(value, zone):
        parsed = parse_timestamp(value, zone)
        assert parsed is None or (isinstance(parsed, datetime) and parsed.utcoffset() is not None)


    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=5)), max_size=12))
    def test_sort_by_time_properties(minutes):
        messages = [_at(str(index), minute) for index, minute in enumerate(minutes)]
        result = sort_by_time(messages)
        assert sorted(_labels(result), key=int) == _labels(messages)  # a permutation
        for index, minute in enumerate(minutes):  # untimed messages stay put
            if minute is None:
                assert result[index] is messages[index]
        timed = [m for m in result if m.created_at is not None]
        assert [m.created_at for m in timed] == sorted(m.created_at for m in timed)
        for first, second in zip(timed, timed[1:], strict=False):  # stable for ties
            if first.created_at == second.created_at:
                assert int(first.text) < int(second.text)


def test_file_part_with_null_payload_falls_back_to_its_url():
    message = message_from_api({"role": "user", "content": [
        {"type": "file", "file": None, "url": "https://example.com/report.pdf"}]})
    assert message.parts[0].kind == "file"
    assert message.parts[0].text == "https://example.com/report.pdf"


def test_lone_surrogates_become_question_marks_wherever_text_is_read():
    item = {"role": "us\ud800er", "content": [
        "plain \udc00", {"type": "text", "text": "part \ud800"},
        {"type": "fi\udfffle", "filename": "r\ud800.pdf"}]}
    message = message_from_api(item)
    assert message.role == "us?er"
    assert message.parts == (ContentPart("text", "plain ?"), ContentPart("text", "part ?"),
                             ContentPart("fi?le", "r?.pdf"))
    assert parse_content("a\ud800b") == (ContentPart("text", "a?b"),)


def test_non_ascii_text_is_kept_exactly():
    text = "你好, señor 👋 — ünïcödé"
    message = message_from_api({"role": "用户", "content": text})
    assert (message.role, message.text) == ("用户", text)


def test_a_parsed_message_is_the_message_its_fields_make():
    """message_from_api builds messages without the dataclass's __init__: every field is
    set, and the result equals, hashes and copies as ``Message(...)`` does."""
    import copy
    import pickle
    from dataclasses import fields, replace

    item = {"role": "assistant", "content": [{"type": "text", "text": "hi"}, "there"],
            "chat_time": "2026-03-02 09:00:00", "create_time": "2026-03-02 09:00:01",
            "update_time": "2026-03-02 10:00:00", "model": "x"}
    parsed = message_from_api(item)
    made = Message(**{field.name: getattr(parsed, field.name) for field in fields(Message)})
    assert set(vars(parsed)) - {"_hash"} == {field.name for field in fields(Message)}
    assert parsed == made and hash(parsed) == hash(made) and repr(parsed) == repr(made)
    assert hash(parsed) == hash(parsed)  # kept, and the same
    assert replace(parsed, content=None) == parsed  # content is not compared
    assert replace(parsed, role="user") != parsed
    assert hash(replace(parsed, role="user")) != hash(parsed)
    for copied in (copy.copy(parsed), copy.deepcopy(parsed),
                   pickle.loads(pickle.dumps(parsed))):
        assert copied == parsed and hash(copied) == hash(parsed)
    assert "_hash" not in pickle.loads(pickle.dumps(parsed)).__dict__
