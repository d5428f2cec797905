"""Keyword replies' matcher: compiling many automations' keywords and matching messages.

    python bench/keywords_bench.py [AUTOMATIONS] [MESSAGES]     (defaults 1,000 and 100,000)

AUTOMATIONS keyword replies of 5 keywords each (words and two-word phrases in Latin,
Azerbaijani and Cyrillic letters) compiled into one matcher (``Matcher.compile``, what
``KeywordReplies`` does once per owner and change); then MESSAGES customers' messages of
about 12 words each matched (``Matcher.match``: folding, splitting into words, one look-up
per word), a tenth of them holding a keyword. Prints the compile time and the messages
matched per second.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bot.services.keywords import Matcher  # noqa: E402

WORDS = ("salam", "necəsiniz", "sabah", "açıqsınız", "привет", "когда", "доставка", "hello",
         "thanks", "tomorrow", "gül", "buket", "rəng", "сегодня", "please", "ünvan")


def main(automations: int, messages: int) -> None:
    rng = random.Random(21)
    rules = [(i, [f"qiymət{i}", f"цена{i}", f"price{i}", f"how much{i}", f"şəkil {i}"])
             for i in range(automations)]
    started = time.perf_counter()
    matcher = Matcher.compile(rules)
    compiled = time.perf_counter() - started
    texts = []
    for n in range(messages):
        words = [rng.choice(WORDS).upper() if rng.random() < 0.2 else rng.choice(WORDS)
                 for _ in range(12)]
        if n % 10 == 0:
            words.insert(rng.randrange(12), f"QİYMƏT{rng.randrange(automations)}?")
        texts.append(", ".join(words) + "!")
    started = time.perf_counter()
    found = sum(1 for text in texts if matcher.match(text) is not None)
    took = time.perf_counter() - started
    print(f"{automations:,} automations ({matcher.size:,} keywords) compiled in "
          f"{compiled * 1000:.1f} ms")
    print(f"{messages:,} messages matched in {took:.2f} s: {messages / took:,.0f} messages/s,"
          f" {took / messages * 1e6:.1f} µs each; {found:,} held a keyword")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [1_000, 100_000][len(args):]))
