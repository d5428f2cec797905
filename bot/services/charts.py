"""Delivery charts as PNG images: the messages over time, and per number.

``render(chart, text)`` draws an ``analytics.Chart`` with the owner's words (``ChartText``,
plain text, filled from the catalogs by the caller) and returns the PNG's bytes. It is
CPU work of a few hundred milliseconds: call it in a worker thread. matplotlib is imported
on the first chart, not at start-up (it takes about a second to load; the very first
import on a machine also builds matplotlib's font cache). Only its object API is used
(``Figure`` on the Agg canvas): pyplot's global figure registry is never touched, so
nothing is left behind between charts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from bot.services.analytics import Chart

MAX_TICKS = 12  # time labels under the chart; more would overlap
MAX_NUMBERS = 12  # numbers drawn in the lower panel (the busiest; the rest are left out)
COLOURS = {"sent": "#4C78A8", "delivered": "#54A24B", "read": "#72B7B2",
           "failed": "#E45756", "pending": "#B8C9DD"}


@dataclass(frozen=True, slots=True)
class ChartText:
    title: str
    per_hour: str  # the time axis' unit, "messages per hour"
    per_day: str
    sent: str
    delivered: str
    read: str
    failed: str
    pending: str  # accepted, no delivery receipt (yet)
    numbers: str  # the lower panel's title
    delivered_share: str  # "{rate} delivered": a number's label, with its rate in it


def render(chart: Chart, text: ChartText) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    numbers = sorted(chart.numbers, key=lambda n: n.sent + n.failed,
                     reverse=True)[:MAX_NUMBERS]
    height = 4.2 + (1.0 + 0.42 * len(numbers) if numbers else 0)
    figure = Figure(figsize=(9.0, height), dpi=110, layout="constrained")
    if numbers:
        over_time, per_number = figure.subplots(
            2, 1, height_ratios=[4.2, 1.0 + 0.42 * len(numbers)])
    else:
        over_time, per_number = figure.subplots(1, 1), None
    _over_time(over_time, chart, text)
    if per_number is not None:
        _per_number(per_number, numbers, text)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _over_time(ax, chart: Chart, text: ChartText) -> None:
    series = chart.series
    x = list(range(len(series.starts)))
    ax.bar(x, series.failed, color=COLOURS["failed"], alpha=0.85, label=text.failed,
           width=0.6, zorder=2)
    for name, values in (("sent", series.sent), ("delivered", series.delivered),
                         ("read", series.read)):
        ax.plot(x, values, marker="o", markersize=3.5, linewidth=1.8, color=COLOURS[name],
                label=getattr(text, name), zorder=3)
    every = max(1, -(-len(x) // MAX_TICKS))
    ticks = x[::every]
    ax.set_xticks(ticks, [_tick(series, i) for i in ticks], fontsize=8)
    ax.set_xlim(-0.6, max(len(x) - 0.4, 0.6))
    top = max((*series.sent, *series.failed, 1))
    ax.set_ylim(0, top * 1.25)  # room for the legend above the lines
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(text.per_hour if series.hourly else text.per_day)
    ax.set_title(text.title, loc="left", fontsize=12, fontweight="bold")
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=4)


def _tick(series, i: int) -> str:
    start = series.starts[i]
    if not series.hourly:
        return start.strftime("%d.%m")
    if i == 0 or start.date() != series.starts[i - 1].date() or start.hour == 0:
        return start.strftime("%d.%m\n%H:%M")
    return start.strftime("%H:%M")


def _per_number(ax, numbers, text: ChartText) -> None:
    y = list(range(len(numbers)))[::-1]  # the busiest on top
    delivered = [n.delivered for n in numbers]
    pending = [max(0, n.sent - n.delivered) for n in numbers]
    failed = [n.failed for n in numbers]
    ax.barh(y, delivered, color=COLOURS["delivered"], label=text.delivered, height=0.6)
    ax.barh(y, pending, left=delivered, color=COLOURS["pending"], label=text.pending,
            height=0.6)
    ax.barh(y, failed, left=[d + p for d, p in zip(delivered, pending, strict=True)],
            color=COLOURS["failed"], label=text.failed, height=0.6)
    labels = []
    for n in numbers:
        rate = n.delivered_rate
        share = text.delivered_share.format(rate=f"{round(100 * rate)}%") if rate is not None \
            else ""
        labels.append(f"{n.label}\n{share}" if share else n.label)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_title(text.numbers, loc="left", fontsize=10, fontweight="bold")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False,
              ncols=3)
