"""The sending policy: how many messages a number may send in any 24 hours.

One rule, applied by the dispatcher (a number's room before it claims more), the campaign
plan (each number's caps when a campaign is confirmed) and /numbers (today's allowance):
the number's own cap, else ``daily_cap`` (``SENDER_DAILY_CAP``), held lower by the
``warmup`` ramp (``SENDER_WARMUP``, one figure a day) during its first days after it was
linked (or added, if it never was). ``planning.DailyCap`` does the arithmetic on plain
numbers; this module says which numbers a sender gives it. The dispatcher, the campaigns
service and the senders service each hold a ``SendingPolicy`` made from their config's
``daily_cap`` and ``warmup`` (the same two settings, wired in ``bot/app.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import Sender
from bot.services.planning import DailyCap

DAILY_CAP = 1000  # messages a number may send in any 24 hours, unless it has its own
# A new number's caps, day by day (its first day after linking, the second, ...), then
# DAILY_CAP. The envelope (README, "The envelope"): a number is judged hardest in its first
# days, and the public reports of bans (numbers restricted after a few dozen messages to
# strangers, WAHA's own advice to start small and ramp slowly) put a new number at about
# 20 new chats a day at first. So: 20 a day for three days (every message may be a new
# chat, so that is also the most new chats), then about x1.5 a day rather than doubling,
# reaching the daily cap on day 11.
WARMUP: tuple[int, ...] = (20, 20, 20, 40, 60, 100, 150, 250, 400, 600)


@dataclass(frozen=True, slots=True)
class Allowance:
    cap: int  # messages the number may send in the 24 hours ending now
    warmup_day: int | None  # 1-based day of its warm-up, None once warmed up


@dataclass(frozen=True, slots=True)
class SendingPolicy:
    daily_cap: int = DAILY_CAP
    warmup: tuple[int, ...] = WARMUP

    def cap_of(self, sender: Sender, recent: tuple[float, ...] = ()) -> DailyCap:
        """The number's ``DailyCap``; ``recent``: the times (ascending UTC epoch seconds)
        of its messages that already count against it."""
        return DailyCap(sender.daily_cap or self.daily_cap,
                        (sender.linked_at or sender.created_at).timestamp(), self.warmup,
                        recent)

    def allowance(self, sender: Sender, ts: float) -> Allowance:
        """The number's cap for the 24 hours ending at ``ts``, and its warm-up day."""
        cap, day, _until = self.cap_of(sender).at(ts)
        return Allowance(cap, day)

    def room(self, sender: Sender, ts: float, used: int) -> int:
        """How many more it may send in the 24 hours ending at ``ts``, ``used`` already
        counting (sent, or being sent, in them)."""
        return self.allowance(sender, ts).cap - used
