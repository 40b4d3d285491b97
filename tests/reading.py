"""A realistic 61-message conversation, for reading, printing and screenshots.

Two people plan a trip to Lisbon with an assistant over three days: Markdown (headings, lists,
task lists, tables, fenced code), bare URLs and an e-mail address, a tool call and its JSON
answer, an attached file and an image, Arabic and Hebrew, runs of short messages from one role,
and a long itinerary that collapses. Plain data in the ``/add/message`` shape, with
``READING_MEMORIES`` (``/get/memory`` items whose sources quote its messages); ``seed`` puts
both in a local store.
"""

from __future__ import annotations

import json

READING_USER_ID = "reader-demo"
READING_CONVERSATION_ID = "trip-to-lisbon-2026-05"

_ITINERARY = """# Full itinerary

## Day 1: Lisbon, Alfama and the river

- **Morning:** land at 10:40, metro (red line) to Alameda, then green line to Baixa-Chiado.
- **Lunch:** *bifanas* at a tasca near Rua dos Fanqueiros.
- **Afternoon:** tram 28 up to Alfama; walk down through the Miradouro de Santa Luzia.
- **Evening:** fado at a small house in Alfama (book ahead: https://www.visitlisboa.com/en).

## Day 2: Belém

- **Morning:** Jerónimos Monastery when it opens (09:30), before the coaches.
- **Late morning:** Torre de Belém from the outside; the queue is rarely worth it.
- **Lunch:** pastéis de Belém, then the MAAT riverside walk.
- **Evening:** dinner in Cais do Sodré; Time Out Market if it rains.

## Day 3: Sintra

- **07:55** train from Rossio (40 minutes), arrive before the crowds.
- **Pena Palace** first, then the **Moorish Castle** on foot.
- **Quinta da Regaleira** after lunch: the initiation well is the highlight.
- Back by 18:00; a light dinner near the hotel.

## Day 4: Porto by train

- **Alfa Pendular** 09:09 from Santa Apolónia, 2h50.
- Ribeira, the Dom Luís I bridge, and a port cellar in Vila Nova de Gaia.

## Day 5: Douro valley

- Day trip by train to Pinhão along the river; lunch at a quinta.
- Back in Porto for a *francesinha* (share one).

## Day 6: Back to Lisbon, LX Factory

- Morning train back; afternoon at LX Factory and the Ler Devagar bookshop.

## Day 7: Cascais and home

- Train along the coast to Cascais; a swim if the sea allows.
- Flight home at 21:15: leave Cascais by 18:00.

| Day | Base | Travel | Budget (EUR) |
|---|---|---|---:|
| 1 | Lisbon | metro | 85 |
| 2 | Lisbon | tram 15 | 70 |
| 3 | Lisbon | train | 60 |
| 4 | Porto | train | 120 |
| 5 | Porto | train | 95 |
| 6 | Lisbon | train | 80 |
| 7 | Lisbon | train | 55 |
"""

_FORECAST_CALL = {
    "id": "call_wx_7",
    "type": "function",
    "function": {"name": "get_weather_forecast",
                 "arguments": json.dumps({"city": "Lisbon", "country": "PT",
                                          "dates": ["2026-05-14", "2026-05-20"],
                                          "units": "metric"})},
}
_FORECAST = {"city": "Lisbon", "units": "metric", "days": [
    {"date": "2026-05-14", "high": 23, "low": 15, "rain_mm": 0, "summary": "sunny"},
    {"date": "2026-05-15", "high": 22, "low": 14, "rain_mm": 1.2, "summary": "light showers"},
    {"date": "2026-05-16", "high": 21, "low": 14, "rain_mm": 0, "summary": "cloudy"},
    {"date": "2026-05-17", "high": 24, "low": 16, "rain_mm": 0, "summary": "sunny"},
    {"date": "2026-05-18", "high": 25, "low": 16, "rain_mm": 0, "summary": "sunny"},
    {"date": "2026-05-19", "high": 23, "low": 15, "rain_mm": 0.4, "summary": "windy"},
    {"date": "2026-05-20", "high": 22, "low": 15, "rain_mm": 0, "summary": "sunny"},
]}


def _day(day: int, clock: str) -> str:
    return f"2026-03-{day:02d} {clock}"


READING_MESSAGES: list[dict] = [
    {"role": "system", "chat_time": _day(2, "18:59:30"),
     "content": "You are a travel assistant. Be concrete, give times and prices, and use tools "
                "for live data such as weather."},
    {"role": "user", "chat_time": _day(2, "19:00:05"), "content": "Hi! We're planning Lisbon."},
    {"role": "user", "chat_time": _day(2, "19:00:11"), "content": "Seven days in May, two of us."},
    {"role": "user", "chat_time": _day(2, "19:00:20"),
     "content": "We like food, walking and old buildings, not nightclubs."},
    {"role": "assistant", "chat_time": _day(2, "19:00:48"),
     "content": "Lovely choice: May is warm but not yet crowded. A few questions first:\n\n"
                "1. Fixed dates, or flexible by a day or two?\n"
                "2. Lisbon only, or also **Porto** and the **Douro valley**?\n"
                "3. A rough budget per day, excluding the hotel?\n\n"
                "Official tourism site, for browsing meanwhile: https://www.visitportugal.com"},
    {"role": "user", "chat_time": _day(2, "19:02:13"),
     "content": "14 to 20 May, fixed. Porto yes, if it's not rushed. About 100 EUR a day."},
    {"role": "assistant", "chat_time": _day(2, "19:02:55"),
     "content": "Then a good split is **four nights in Lisbon, two in Porto**, and back to "
                "Lisbon for the last night because your flight leaves from there.\n\n"
                "| | Lisbon | Porto |\n|---|---|---|\n"
                "| Nights | 4 + 1 | 2 |\n| Best for | Alfama, Belém, Sintra | Ribeira, port "
                "cellars, the Douro |\n| Getting there | flight | 2h50 by train |\n\n"
                "Shall I draft a day-by-day plan?"},
    {"role": "user", "chat_time": _day(2, "19:03:40"), "content": "Yes please!"},
    {"role": "assistant", "chat_time": _day(2, "19:04:30"), "content": _ITINERARY},
    {"role": "user", "chat_time": _day(2, "19:10:02"),
     "content": "Wow. What's the weather usually like that week?"},
    {"role": "assistant", "chat_time": _day(2, "19:10:09"), "content": "Let me look that up.",
     "tool_calls": [_FORECAST_CALL]},
    {"role": "tool", "chat_time": _day(2, "19:10:10"), "tool_call_id": "call_wx_7",
     "content": json.dumps(_FORECAST)},
    {"role": "assistant", "chat_time": _day(2, "19:10:31"),
     "content": "Mostly sunny, **21–25 °C** by day and 14–16 °C at night, with a chance of light "
                "showers on the 15th. Pack:\n\n- [x] light layers and one warm jumper\n"
                "- [x] comfortable shoes (Lisbon's hills are steep and the pavements slippery)\n"
                "- [ ] a small umbrella\n- [ ] swimwear for Cascais"},
    {"role": "user", "chat_time": _day(2, "19:12:45"),
     "content": "How do we get from the airport to Baixa?"},
    {"role": "assistant", "chat_time": _day(2, "19:13:20"),
     "content": "The **metro** is easiest: red line from *Aeroporto* to *Alameda*, change to the "
                "green line for *Baixa-Chiado*. About 35 minutes and 1.85 EUR with a Navegante "
                "card (0.50 EUR, reusable). A taxi or ride-hail is 15–20 EUR and about 25 "
                "minutes outside rush hour."},
    {"role": "user", "chat_time": _day(2, "19:15:02"), "content": "Is the Lisboa Card worth it?"},
    {"role": "assistant", "chat_time": _day(2, "19:15:51"),
     "content": "For your plan, **probably not**. It pays off when you visit three or more paid "
                "museums a day. Rough comparison for Day 2:\n\n"
                "| Item | Without card | With 24 h card |\n|---|---:|---:|\n"
                "| Jerónimos | 18.00 | 0 |\n| Tram 15 (two rides) | 6.00 | 0 |\n"
                "| MAAT | 11.00 | 5.50 |\n| Card | 0 | 27.00 |\n"
                "| **Total** | **35.00** | **32.50** |\n\n"
                "A saving of 2.50 EUR for a rushed day: skip it."},
    {"role": "user", "chat_time": _day(2, "19:18:30"),
     "content": "My friend Leila will send the restaurant list in Arabic, she's from Beirut."},
    {"role": "user", "chat_time": _day(2, "19:19:02"),
     "content": "قائمة المطاعم: تاسكا دا ميما، سيرفيجاريا رامييرو، ومطعم صغير في ألفاما."},
    {"role": "assistant", "chat_time": _day(2, "19:19:40"),
     "content": "شكراً! Leila's list: *Tasca da Mima*, *Cervejaria Ramiro* (seafood, expect a "
                "queue after 20:00) and a small place in Alfama. Ramiro takes no bookings, so "
                "go at 18:30."},
    {"role": "user", "chat_time": _day(2, "19:21:12"),
     "content": "And Noa added a note in Hebrew about Sintra."},
    {"role": "user", "chat_time": _day(2, "19:21:30"),
     "content": "בסינטרה כדאי להגיע מוקדם בבוקר, לפני שהאוטובוסים של התיירים מגיעים."},
    {"role": "assistant", "chat_time": _day(2, "19:22:05"),
     "content": "Noa is right: *arrive early, before the tour buses*. The 07:55 train from Rossio "
                "gets you to Pena Palace at opening time. Book the palace online the day before: "
                "https://www.parquesdesintra.pt"},
    {"role": "user", "chat_time": _day(3, "08:30:12"),
     "content": [{"type": "text", "text": "Morning! Here's our booking confirmation."},
                 {"type": "file", "file": {"filename": "booking-lisbon-2026-05.pdf"}}]},
    {"role": "assistant", "chat_time": _day(3, "08:31:00"),
     "content": "Thanks. The hotel is in **Chiado**, which is ideal: flat walk to Baixa, ten "
                "minutes downhill to the river, and the 28 tram stops at Rua Garrett."},
    {"role": "user", "chat_time": _day(3, "08:33:45"),
     "content": "Can you give me a little script to split costs between the two of us?"},
    {"role": "assistant", "chat_time": _day(3, "08:34:40"),
     "content": "Here's a small Python script: it reads who paid what and prints who owes whom.\n\n"
                "```python\nfrom collections import defaultdict\n\n"
                "expenses = [\n    (\"Ana\", 85.00, \"dinner at Ramiro\"),\n"
                "    (\"Ben\", 54.20, \"train to Porto\"),\n"
                "    (\"Ana\", 36.00, \"Pena Palace tickets\"),\n]\n\n"
                "paid = defaultdict(float)\nfor who, amount, _ in expenses:\n"
                "    paid[who] += amount\n\nshare = sum(paid.values()) / 2\n"
                "for who, amount in sorted(paid.items()):\n"
                "    print(f\"{who}: {amount - share:+.2f}\")\n```\n\n"
                "A positive number means that person is owed money."},
    {"role": "user", "chat_time": _day(3, "08:40:03"),
     "content": "It prints `Ana: +33.40`. So Ben owes Ana 33.40?"},
    {"role": "assistant", "chat_time": _day(3, "08:40:20"),
     "content": "Exactly: Ben owes Ana **33.40 EUR**."},
    {"role": "user", "chat_time": _day(3, "08:45:10"), "content": "What should we eat in Porto?"},
    {"role": "assistant", "chat_time": _day(3, "08:46:02"),
     "content": "### Porto, the essentials\n\n- **Francesinha**: a meat sandwich under melted "
                "cheese and beer sauce; one is enough for two.\n- **Tripas à moda do Porto**: "
                "the dish that gave the locals their nickname, *tripeiros*.\n- **Bolinhos de "
                "bacalhau**: codfish cakes, at any café.\n- **Port wine** in Gaia: the cellar "
                "tours end with a tasting."},
    {"role": "user", "chat_time": _day(3, "08:50:30"), "content": "Is tipping expected?"},
    {"role": "assistant", "chat_time": _day(3, "08:50:55"),
     "content": "Not really. Rounding up, or 5–10% for good service at a sit-down dinner, is "
                "generous. Nobody tips at a café counter."},
    {"role": "user", "chat_time": _day(3, "08:52:12"), "content": "Great."},
    {"role": "user", "chat_time": _day(3, "08:52:20"), "content": "What about a rainy day plan?"},
    {"role": "assistant", "chat_time": _day(3, "08:53:10"),
     "content": "If the 15th is wet, swap Day 2 and Day 6:\n\n"
                "1. **Gulbenkian Museum**: one of Europe's great small collections.\n"
                "2. **Museu Nacional do Azulejo**: five centuries of tiles, in a convent.\n"
                "3. **LX Factory** and the Ler Devagar bookshop: under cover.\n\n"
                "> Tip: the Gulbenkian's garden is lovely after rain, when it's empty."},
    {"role": "user", "chat_time": _day(3, "09:05:00"),
     "content": "And a photo of the view from our hotel room, from the booking site."},
    {"role": "user", "chat_time": _day(3, "09:05:10"),
     "content": [{"type": "image_url",
                  "image_url": {"url": "https://images.example.org/hotel-view.jpg"}}]},
    {"role": "assistant", "chat_time": _day(3, "09:05:45"),
     "content": "That view looks over the Tagus from Chiado: you'll see the 25 de Abril bridge "
                "at sunset."},
    {"role": "user", "chat_time": _day(3, "09:10:00"),
     "content": "Who do we contact if the hotel has a problem?"},
    {"role": "assistant", "chat_time": _day(3, "09:10:30"),
     "content": "The booking PDF lists reservations@hotel-chiado.example for changes, and the "
                "front desk answers around the clock. Keep the confirmation number handy: "
                "`LX-58213`."},
    {"role": "user", "chat_time": _day(4, "20:01:00"),
     "content": "Back again. Can we fit a day in Évora?"},
    {"role": "assistant", "chat_time": _day(4, "20:01:50"),
     "content": "You could replace **Day 5** (Douro) with Évora, but then Porto becomes a single "
                "night, which is rushed. My suggestion: keep the plan, and save Évora for a "
                "next trip with the Alentejo wine region."},
    {"role": "user", "chat_time": _day(4, "20:03:12"), "content": "Fair. Keep it."},
    {"role": "user", "chat_time": _day(4, "20:03:30"),
     "content": "Could you make the packing list a checklist I can print?"},
    {"role": "assistant", "chat_time": _day(4, "20:04:15"),
     "content": "## Packing list\n\n- [ ] passports and the booking PDF\n- [ ] Navegante card "
                "(buy at the airport)\n- [ ] comfortable walking shoes\n- [ ] light layers, "
                "one jumper\n- [ ] small umbrella\n- [ ] swimwear and a towel\n- [ ] universal "
                "adapter (type F)\n- [ ] reusable water bottle"},
    {"role": "user", "chat_time": _day(4, "20:06:00"), "content": "Trains: book ahead or not?"},
    {"role": "assistant", "chat_time": _day(4, "20:06:40"),
     "content": "**Book the Alfa Pendular** to Porto ahead (cheaper, and seats sell out on "
                "Fridays): https://www.cp.pt. Suburban trains to Sintra and Cascais need no "
                "booking: tap your Navegante card."},
    {"role": "user", "chat_time": _day(4, "20:08:20"), "content": "How much are the trains?"},
    {"role": "assistant", "chat_time": _day(4, "20:09:00"),
     "content": "| Route | Class | Price (EUR) |\n|---|---|---:|\n"
                "| Lisbon → Porto | 2nd (Turística) | 31.10 |\n"
                "| Lisbon → Porto | 1st (Conforto) | 43.60 |\n"
                "| Porto → Pinhão | regional | 13.35 |\n| Lisbon → Sintra | suburban | 2.40 |\n"
                "| Lisbon → Cascais | suburban | 2.40 |\n\nEarly-booking discounts reach 50% on "
                "the Alfa Pendular."},
    {"role": "user", "chat_time": _day(4, "20:12:00"), "content": "Perfect, booked 2nd class."},
    {"role": "user", "chat_time": _day(4, "20:12:08"), "content": "Anything else we should know?"},
    {"role": "assistant", "chat_time": _day(4, "20:13:00"),
     "content": "A few things people wish they'd known:\n\n- **Couvert**: bread, olives and "
                "cheese put on the table are not free; send back what you don't want.\n"
                "- **Sundays**: many museums are free for residents only, and some shops "
                "close.\n- **Pickpockets** work tram 28: keep your phone in a front pocket.\n"
                "- **Water** from the tap is safe."},
    {"role": "user", "chat_time": _day(4, "20:15:30"),
     "content": "Can you write the itinerary as a calendar file?"},
    {"role": "assistant", "chat_time": _day(4, "20:16:40"),
     "content": "Here's the start of an `.ics` file; each day is one all-day event:\n\n"
                "```\nBEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260514\n"
                "SUMMARY:Lisbon: Alfama and the river\nEND:VEVENT\nBEGIN:VEVENT\n"
                "DTSTART;VALUE=DATE:20260515\nSUMMARY:Belém\nEND:VEVENT\nEND:VCALENDAR\n```\n\n"
                "Save it as `lisbon.ics` and open it with your calendar app."},
    {"role": "user", "chat_time": _day(4, "20:20:00"), "content": "Imported. Thank you!"},
    {"role": "assistant", "chat_time": _day(4, "20:20:20"),
     "content": "Boa viagem! Enjoy the pastéis de nata."},
    {"role": "user", "chat_time": _day(4, "20:22:10"),
     "content": "One more: the Tram 28 queue at Martim Moniz is huge. Alternatives?"},
    {"role": "assistant", "chat_time": _day(4, "20:22:50"),
     "content": "Board it at **Graça** instead, or walk the route: Baixa → Sé → Alfama is 20 "
                "minutes downhill if you start at the Miradouro da Graça. Tram **12** covers the "
                "prettiest stretch with a fraction of the queue."},
    {"role": "user", "chat_time": _day(4, "20:25:00"), "content": "That's all. Obrigado!"},
    {"role": "assistant", "chat_time": _day(4, "20:25:12"),
     "content": "De nada! Have a wonderful week in Portugal."},
]


def _quote(start: str) -> dict:
    """The message whose text starts with ``start``, as a memory's source quotes it."""
    [message] = [m for m in READING_MESSAGES
                 if isinstance(m["content"], str) and m["content"].startswith(start)]
    return {"type": "chat", "role": message["role"], "chat_time": message["chat_time"],
            "content": message["content"]}


def _at(day: int, clock: str) -> str:
    return f"2026-03-{day:02d} {clock}"


# What MemOS would remember of it (/get/memory items), each quoting the messages it came from;
# the last is from another of the user's conversations, for labels of "elsewhere".
READING_MEMORIES: list[dict] = [
    {"id": "trip-dates", "memory_type": "UserMemory", "memory_key": "Travel dates",
     "memory_value": "The trip to Portugal is from 14 to 20 May 2026; the dates are fixed.",
     "tags": ["trip", "dates"], "confidence": 0.97,
     "create_time": _at(2, "19:02:20"), "update_time": _at(2, "19:02:20"),
     "sources": [_quote("Seven days in May"), _quote("14 to 20 May, fixed.")]},
    {"id": "trip-party", "memory_type": "UserMemory", "memory_key": "Two travellers",
     "memory_value": "Two people are travelling together, and they split the costs.",
     "tags": ["trip", "people"], "confidence": 0.92,
     "create_time": _at(2, "19:00:15"), "update_time": _at(3, "08:34:50"),
     "sources": [_quote("Seven days in May"), _quote("Can you give me a little script")]},
    {"id": "trip-interests", "memory_type": "UserMemory", "memory_key": "Likes food and walking",
     "memory_value": "They like food, walking and old buildings, and do not want nightclubs.",
     "tags": ["interests", "food", "walking"], "confidence": 0.95,
     "create_time": _at(2, "19:00:25"), "update_time": _at(2, "19:00:25"),
     "sources": [_quote("We like food, walking")]},
    {"id": "trip-porto", "memory_type": "LongTermMemory", "memory_key": "Porto for two nights",
     "memory_value": "The plan is four nights in Lisbon, two nights in Porto, and the last "
                     "night back in Lisbon, where the flight leaves from.",
     "tags": ["itinerary", "Porto"], "confidence": 0.9,
     "create_time": _at(2, "19:03:00"), "update_time": _at(4, "20:03:20"),
     "sources": [_quote("14 to 20 May, fixed."), _quote("Then a good split"),
                 _quote("Fair. Keep it.")]},
    {"id": "trip-train", "memory_type": "LongTermMemory", "memory_key": "Train booked",
     "memory_value": "They booked the Alfa Pendular from Lisbon to Porto in 2nd class "
                     "(Turística, 31.10 EUR).",
     "tags": ["train", "booking"], "confidence": 0.88,
     "create_time": _at(4, "20:12:05"), "update_time": _at(4, "20:12:05"),
     "sources": [_quote("| Route | Class"), _quote("Perfect, booked 2nd class.")]},
    {"id": "trip-early", "preference_type": "implicit_preference",
     "preference": "Prefers early starts, ahead of the crowds.",
     "reasoning": "Noa's note says to reach Sintra early in the morning, before the tour "
                  "buses, and they kept the 07:55 train.",
     "create_time": _at(2, "19:22:10"), "update_time": _at(2, "19:22:10"),
     "sources": [_quote("בסינטרה"), _quote("Noa is right")]},
    {"id": "trip-unhurried", "preference_type": "explicit_preference",
     "preference": "Wants a plan that is not rushed.",
     "reasoning": "Porto only \"if it's not rushed\"; turned down Évora to keep two nights "
                  "there.",
     "create_time": _at(4, "20:03:15"), "update_time": _at(4, "20:03:15"),
     "sources": [_quote("14 to 20 May, fixed."), _quote("Fair. Keep it.")]},
    {"id": "kyoto-markets", "memory_type": "LongTermMemory", "memory_key": "Kyoto food markets",
     "memory_value": "Loved Nishiki Market in Kyoto on an earlier trip.",
     "conversation_id": "trip-to-kyoto-2025-10", "tags": ["food", "Japan"], "confidence": 0.8,
     "create_time": "2025-10-12 21:00:00", "update_time": "2025-10-12 21:00:00"},
]


def seed(store) -> None:
    """Add the conversation, and its memories, to a ``memos_api.local.LocalStore``."""
    store.add_messages(READING_USER_ID, READING_CONVERSATION_ID, READING_MESSAGES)
    store.add_memories(READING_USER_ID, READING_MEMORIES,
                       conversation_id=READING_CONVERSATION_ID)
