"""Template rendering speed: one compiled template, a million messages.

    python bench/render_bench.py [MESSAGES]      (default 1,000,000)

Renders a template with three variables (one with a fallback, one often blank) and two
spintax groups for rotating contacts with a seeded ``random.Random``, as the dispatcher
does; then one with nested groups (baked into the pattern table too), and one with
variables inside groups (drawn per message); then ``str.format_map`` on a fixed text with
the same values, as the floor for comparing machines. Aim: >= 300,000 renders/s for the
first on this machine.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services.template_engine import compile_template  # noqa: E402

TEMPLATE = ("{Salam|Hello|Hi} {{name|dear customer}}! Your order in {{city}} is ready, "
            "{{code}}. {See you|Thanks}")
NESTED = ("{Salam|Hello {there|friend}|Hi} {{name|dear customer}}! Your order in {{city}} is "
          "{ready|{waiting|here} for you}, {{code}}. {See you|Thanks}")
IN_GROUPS = ("{Salam {{name|dear customer}}|Hello {{name|friend}}|Hi}! Your order in "
             "{{city}} is ready, {{code}}. {See you in {{city|town}}|Thanks}")
BASELINE = "Hello {name}! Your order in {city} is ready, {code}. Thanks"


def contacts(count: int = 1000) -> list[dict[str, str]]:
    cities = ["Bakı", "Gəncə", "", "Sumqayıt", "  "]
    return [{"name": f"Müştəri {i}" if i % 7 else "", "city": cities[i % len(cities)],
             "code": f"A-{100000 + i}"} for i in range(count)]


def measure(text: str, messages: int) -> tuple[float, str]:
    template = compile_template(text)
    render = template.render
    values = contacts()
    rng = random.Random(2026)
    rotate = len(values)
    started = time.perf_counter()
    for i in range(messages):
        render(values[i % rotate], rng)
    seconds = time.perf_counter() - started
    return messages / seconds, render(values[1], rng)


def baseline(messages: int) -> float:
    values = contacts()
    rotate = len(values)
    format_map = BASELINE.format_map
    started = time.perf_counter()
    for i in range(messages):
        format_map(values[i % rotate])
    return messages / (time.perf_counter() - started)


def main() -> None:
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(f"rendering {messages:,} messages, rotating 1,000 contacts, seeded rng:")
    for label, text in (("flat", TEMPLATE), ("nested", NESTED), ("vars in groups", IN_GROUPS)):
        template = compile_template(text)
        rate, example = measure(text, messages)
        print(f"  {label:14s} {rate:>10,.0f} renders/s  ({template.distinct_texts()} spintax "
              f"texts; e.g. {example!r})")
    print("baseline (str.format_map on a fixed text, no fallbacks, no spintax):")
    print(f"  {'':14s} {baseline(messages):>10,.0f} renders/s")


if __name__ == "__main__":
    main()
