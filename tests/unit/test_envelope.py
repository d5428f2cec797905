"""The envelope, simulated for five days (bench/envelope_bench.py runs thirty): a new number
on the defaults, one large campaign to recipients in five zones, the real planning,
dispatcher and sandbox gateway on a SQLite file, a clock moved event by event."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.envelope_bench import simulate
from bot.services.sending import WARMUP

pytestmark = pytest.mark.slow  # five simulated days: some seconds


async def test_a_new_number_on_the_defaults_stays_inside_the_envelope(tmp_path: Path) -> None:
    result = await simulate(days=5, recipients=1000, directory=tmp_path)
    assert [d.day for d in result.days] == [1, 2, 3, 4, 5]
    for day in result.days:
        # never more new chats (nor messages) than the day's warm-up figure: 20 at first
        assert day.new_chats <= day.messages <= WARMUP[day.day - 1]
        assert day.messages > 0  # and it does send every day
        assert day.worst_gap is not None and day.worst_gap >= 30.0  # random 30-60 s gaps
        assert day.night == 0  # nothing arrived at night in the recipient's zone
    assert [d.cap for d in result.days[:3]] == [20, 20, 20]
    assert result.over_cap == 0
