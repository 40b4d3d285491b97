"""The demo conversation seeded into a fresh local store, and what MemOS remembered of it.

A developer debugs a small expense-report script with an assistant over three days. It covers
what a viewer must render: a system message, Markdown lists, tables and fenced code, and one
message whose content is a list of parts (text plus an attached file).

``DEMO_MEMORIES`` are ``/get/memory`` items (facts, then preferences) as MemOS would extract
them; each names the messages it came from in ``sources`` (role, content, chat_time), which is
all MemOS gives to find them again (it has no message ids).
"""

DEMO_USER_ID = "demo-user"
DEMO_CONVERSATION_ID = "demo-conversation"

DEMO_MESSAGES = [
    {"role": "system", "chat_time": "2026-03-09 20:14:02",
     "content": "You are a helpful coding assistant. Answer concisely, put code in fenced "
                "blocks, and ask before suggesting large rewrites."},
    {"role": "user", "chat_time": "2026-03-09 20:14:35",
     "content": "My script that totals my monthly expenses from a bank CSV export crashes:\n\n"
                "`UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 in position 2817: "
                "invalid continuation byte`\n\nIt worked fine last month. Any idea?"},
    {"role": "assistant", "chat_time": "2026-03-09 20:15:10",
     "content": """Byte `0xe9` is `é` in Windows-1252, so this month's export is probably not \
UTF-8: a merchant name such as *Café Central* gives it away. Options:

1. Open the file with the encoding the bank really uses (`cp1252` is the usual suspect).
2. Ask the bank's export dialog for UTF-8, if it offers that.
3. Decode with `errors="replace"` (not recommended: it silently mangles names).

```python
import csv

with open(path, newline="", encoding="cp1252") as handle:
    reader = csv.DictReader(handle)
    rows = list(reader)
```"""},
    {"role": "user", "chat_time": "2026-03-09 20:21:47",
     "content": "That fixed the crash, thanks! But now the total is wrong: the script says "
                "3,412.75 and the bank app says 4,492.75."},
    {"role": "assistant", "chat_time": "2026-03-09 20:22:30",
     "content": "A difference of exactly 1,080.00 smells like one row being skipped rather "
                "than a rounding problem. Could you show me the loop that adds the amounts, "
                "and a few lines of the CSV?"},
    {"role": "user", "chat_time": "2026-03-09 20:25:03",
     "content": [
         {"type": "text", "text": "Here is the loop, and the February export is attached:\n\n"
                                  "```python\ntotal = 0.0\nfor row in reader:\n    try:\n"
                                  "        total += float(row[\"Amount\"])\n"
                                  "    except ValueError:\n        continue\n```"},
         {"type": "file", "file": {"filename": "statement-2026-02.csv"}},
     ]},
    {"role": "assistant", "chat_time": "2026-03-09 20:26:41",
     "content": """Found it: the rent row has the amount `"1,080.00"`. `float()` rejects the \
thousands separator, and `except ValueError: continue` drops the row without a word.

| Raw value | `float(value)` | `parse_amount(value)` |
|---|---|---|
| `42.10` | `42.1` | `Decimal('42.10')` |
| `1,080.00` | ValueError, row skipped | `Decimal('1080.00')` |
| `-15.99` | `-15.99` | `Decimal('-15.99')` |

```python
from decimal import Decimal, InvalidOperation


def parse_amount(raw: str) -> Decimal:
    \"\"\"Parse '1,080.00' or '-15.99'; raise ValueError on anything else.\"\"\"
    try:
        return Decimal(raw.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"unreadable amount: {raw!r}") from None


total = sum(parse_amount(row["Amount"]) for row in reader)
```

Letting the error surface means a bad row stops the report instead of hiding in it."""},
    {"role": "user", "chat_time": "2026-03-09 20:34:12",
     "content": "The total matches now: 4,492.75. Why `Decimal` and not just float?"},
    {"role": "assistant", "chat_time": "2026-03-09 20:34:50",
     "content": "Floats are binary fractions, so most cent amounts are stored approximately "
                "and the errors add up:\n\n```python\n>>> 0.1 + 0.2\n0.30000000000000004\n"
                ">>> Decimal(\"0.1\") + Decimal(\"0.2\")\nDecimal('0.3')\n```\n\nFor money, "
                "`Decimal` keeps every cent exact."},
    {"role": "user", "chat_time": "2026-03-10 08:47:19",
     "content": "Morning! Next step: I'd like totals per category, largest first. The "
                "categories are in the `Category` column."},
    {"role": "assistant", "chat_time": "2026-03-10 08:48:02",
     "content": """A `defaultdict` collects the totals; sort by amount at the end:

```python
from collections import defaultdict

totals: dict[str, Decimal] = defaultdict(Decimal)
for row in reader:
    totals[row["Category"]] += parse_amount(row["Amount"])

for category, amount in sorted(totals.items(), key=lambda item: item[1], reverse=True):
    print(f"{category:<15} {amount:>10,.2f}")
```

With February's data you should see something like:

| Category | Total |
|---|---:|
| Rent | 1,080.00 |
| Groceries | 612.40 |
| Transport | 158.90 |"""},
    {"role": "user", "chat_time": "2026-03-10 08:55:31",
     "content": "Works, but a few rows have an empty category and show up as a blank line "
                "at the top of the list."},
    {"role": "assistant", "chat_time": "2026-03-10 08:56:14",
     "content": "Give them a name when you read the row:\n\n```python\ncategory = "
                "row[\"Category\"].strip() or \"Uncategorized\"\n```\n\nWhile you are there:"
                "\n\n- strip the amount too, some exports pad it with spaces\n- print the "
                "grand total under the table, so you can compare it with the bank app\n"
                "- keep the raw CSV files: they are your audit trail"},
    {"role": "user", "chat_time": "2026-03-11 19:02:44",
     "content": "Last thing: how do I write a quick test for `parse_amount` so I don't "
                "break it again?"},
    {"role": "assistant", "chat_time": "2026-03-11 19:03:29",
     "content": """Put this in `test_report.py` next to the script and run `pytest -q`:

```python
import pytest
from decimal import Decimal

from monthly_report import parse_amount


@pytest.mark.parametrize("raw, expected", [
    ("42.10", Decimal("42.10")),
    ("1,080.00", Decimal("1080.00")),
    (" -15.99 ", Decimal("-15.99")),
])
def test_parse_amount_reads_bank_formats(raw, expected):
    assert parse_amount(raw) == expected


@pytest.mark.parametrize("raw", ["", "n/a"])
def test_parse_amount_rejects_garbage(raw):
    with pytest.raises(ValueError):
        parse_amount(raw)
```"""},
    {"role": "user", "chat_time": "2026-03-11 19:10:05",
     "content": "All 5 tests pass. Thanks, this was really helpful!"},
    {"role": "assistant", "chat_time": "2026-03-11 19:10:22",
     "content": "Glad it works! To recap what changed:\n\n1. read the CSV as `cp1252`\n"
                "2. parse amounts with `Decimal`, and fail loudly on bad rows\n"
                "3. group totals by category, with `Uncategorized` for blanks\n"
                "4. a small test suite guarding `parse_amount`"},
]


def _source(index: int) -> dict:
    """Message ``index`` quoted as a memory's source, as MemOS's ``sources`` items are."""
    message = DEMO_MESSAGES[index]
    content = message["content"]
    if isinstance(content, list):
        content = "\n\n".join(part["text"] for part in content if part.get("type") == "text")
    return {"type": "chat", "role": message["role"], "chat_time": message["chat_time"],
            "content": content}


DEMO_MEMORIES = [
    {"id": "demo-memory-encoding", "memory_type": "UserMemory",
     "memory_key": "User's bank exports CSV in cp1252",
     "memory_value": "The user's bank exports its monthly statements as CSV in cp1252 "
                     "(Windows-1252), not UTF-8: reading them as UTF-8 crashed on the é of "
                     "merchant names such as Café Central.",
     "tags": ["csv", "encoding", "bank"], "confidence": 0.95,
     "create_time": "2026-03-09 20:22:05", "update_time": "2026-03-09 20:22:05",
     "sources": [_source(1), _source(2), _source(3)]},
    {"id": "demo-memory-decimal", "memory_type": "LongTermMemory",
     "memory_key": "Prefers Decimal for money",
     "memory_value": "The user moved the expense script from float to Decimal so every cent "
                     "stays exact, after a thousands separator (1,080.00) had silently dropped "
                     "the rent row from the total.",
     "tags": ["python", "money", "decimal"], "confidence": 0.9,
     "create_time": "2026-03-09 20:27:30", "update_time": "2026-03-09 20:35:12",
     "sources": [_source(6), _source(7), _source(8)]},
    {"id": "demo-memory-report", "memory_type": "LongTermMemory",
     "memory_key": "Monthly expense report script",
     "memory_value": "The user keeps a Python script that totals monthly expenses from the "
                     "bank's CSV export by the Category column, largest first; rows without a "
                     "category are listed as Uncategorized.",
     "tags": ["python", "csv", "expenses"], "confidence": 0.85,
     "create_time": "2026-03-10 08:48:40", "update_time": "2026-03-10 08:57:02",
     "sources": [_source(9), _source(11), _source(12)]},
    {"id": "demo-memory-tests", "memory_type": "WorkingMemory",
     "memory_key": "Tests guard parse_amount",
     "memory_value": "parse_amount is covered by a small pytest suite in test_report.py; all "
                     "five tests pass.",
     "tags": ["pytest", "testing"], "confidence": 0.8,
     "create_time": "2026-03-11 19:10:40", "update_time": "2026-03-11 19:10:40",
     "sources": [_source(13), _source(15)]},
    {"id": "demo-preference-concise", "preference_type": "explicit_preference",
     "preference": "Concise answers, with code in fenced blocks.",
     "reasoning": "The conversation's instructions ask for concise answers and code in fenced "
                  "blocks.",
     "create_time": "2026-03-09 20:14:40", "update_time": "2026-03-09 20:14:40",
     "sources": [_source(0)]},
    {"id": "demo-preference-loud", "preference_type": "implicit_preference",
     "preference": "Would rather a bad row stop the report than be skipped silently.",
     "reasoning": "The user adopted a parser that raises on unreadable amounts, after a "
                  "silently skipped row made the total wrong.",
     "create_time": "2026-03-09 20:35:00", "update_time": "2026-03-09 20:35:00",
     "sources": [_source(6), _source(7)]},
]
