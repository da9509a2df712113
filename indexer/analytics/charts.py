"""The report's charts as inline SVG text, drawn by matplotlib's SVG backend.

No pyplot and no global backend: each chart is a Figure with its own FigureCanvasSVG, so
drawing one touches no state of the process. Text is drawn as glyph outlines
(svg.fonttype 'path'), so a chart looks the same on a machine without matplotlib's fonts and
needs no font file: the report fetches nothing.

Inline SVGs share one HTML document, and matplotlib numbers its ids the same way in every
figure (`patch_1`, glyphs `DejaVuSans-30`, ...): `inline_svg` prefixes every id, and every
reference to one, with the chart's name. The data's artists carry the ids `NAME-mark-…` and each
panel's plot area `NAME-plotarea-…`, so a browser test can find the drawn marks.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Sequence

# One colour per token, the same in every chart; others in order after them.
TOKEN_COLORS = {"PAXG": "#b8860b", "XAUT": "#1b7f79"}
OTHER_COLORS = ("#4c6fb0", "#c4553b", "#7a5ca8", "#5a8f29")


def token_color(token: str, index: int = 0) -> str:
    return TOKEN_COLORS.get(token, OTHER_COLORS[index % len(OTHER_COLORS)])


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    x: tuple[date, ...]
    y: tuple[float, ...]
    color: str
    dashed: bool = False
    # A value that holds until the next point (supply): drawn as steps, the last one up to here.
    step_until: date | None = None


@dataclass(frozen=True, slots=True)
class Bars:
    """One series of monthly bars; several series stand side by side within each month."""

    label: str
    x: tuple[date, ...]  # the first day of each month
    y: tuple[float, ...]
    color: str


@dataclass(frozen=True, slots=True)
class Panel:
    ylabel: str
    lines: tuple[Line, ...] = ()
    bars: tuple[Bars, ...] = ()
    percent: bool = False  # y values are fractions (0.25 = 25%)
    zero_line: bool = False
    from_zero: bool = True  # the y axis starts at 0 (amounts); else it fits the data (prices)

    @property
    def empty(self) -> bool:
        return not any(s.x for s in (*self.lines, *self.bars))


# The look of every chart: small, quiet axes, the data in front.
_STYLE = {
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e4e4e4",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#888888",
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "axes.labelcolor": "#333333",
    "legend.frameon": False,
    "lines.linewidth": 1.6,
}
_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


def draw(name: str, title: str, panels: Sequence[Panel]) -> str:
    """One chart: `panels` stacked over a shared date axis, as SVG text to put inline in HTML.
    `name` (letters, digits, '-') prefixes the chart's ids; `title` is its accessible name."""
    import matplotlib
    from matplotlib import dates as mdates
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise ValueError(f"chart name {name!r}: use lowercase letters, digits and '-'")
    panels = [p for p in panels if not p.empty]
    if not panels:
        raise ValueError(f"chart {name}: no data to draw")
    with matplotlib.rc_context({**_STYLE, "svg.hashsalt": name}):
        fig = Figure(figsize=(9, 0.7 + 2.3 * len(panels)), layout="constrained")
        FigureCanvasSVG(fig)
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        marks = 0
        for k, (ax, panel) in enumerate(zip(axes, panels)):
            ax.patch.set_gid(f"plotarea-{k}")
            for i, bars in enumerate(panel.bars):
                width = 24 / len(panel.bars)  # days: the series of a month share 24 of its days
                offset = 15 + (i - (len(panel.bars) - 1) / 2) * width
                xs = [mdates.date2num(x) + offset for x in bars.x]
                for rect in ax.bar(xs, bars.y, width=width * 0.9, color=bars.color,
                                   label=bars.label):
                    rect.set_gid(f"mark-{marks}")
                    marks += 1
            for line in panel.lines:
                xs, ys = list(line.x), list(line.y)
                if line.step_until is not None and xs and xs[-1] < line.step_until:
                    xs.append(line.step_until)
                    ys.append(ys[-1])
                style = {"color": line.color, "label": line.label,
                         "linestyle": (0, (4, 2)) if line.dashed else "-",
                         # A lone point draws no line: give it a marker.
                         "marker": "o" if len(xs) == 1 else None, "markersize": 4}
                if line.step_until is not None:
                    drawn = ax.step(xs, ys, where="post", **style)
                else:
                    drawn = ax.plot(xs, ys, **style)
                for artist in drawn:
                    artist.set_gid(f"mark-{marks}")
                    marks += 1
            if panel.zero_line:
                ax.axhline(0, color="#888888", linewidth=0.8)
            ax.set_ylabel(panel.ylabel)
            ax.yaxis.set_major_formatter(_y_formatter(panel))
            if panel.from_zero and not (panel.percent or panel.zero_line):
                ax.set_ylim(bottom=0)
            else:
                ax.margins(y=0.15)
            labelled = [s for s in (*panel.bars, *panel.lines) if s.label]
            if len(labelled) > 1:
                ax.legend(loc="upper left", ncols=min(len(labelled), 4), fontsize=8)
        locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
        axes[-1].xaxis.set_major_locator(locator)
        axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        left, right = _date_span(panels)
        axes[-1].set_xlim(mdates.date2num(left), mdates.date2num(right))
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata=_METADATA)
    return inline_svg(buf.getvalue(), name, title)


def _y_formatter(panel: Panel):
    from matplotlib import ticker

    if panel.percent:
        return ticker.FuncFormatter(lambda v, _pos: f"{v * 100:,.{_decimals(panel, 100)}f}%")
    return ticker.FuncFormatter(lambda v, _pos: f"{v:,.{_decimals(panel, 1)}f}")


def _decimals(panel: Panel, scale: float) -> int:
    """Decimals enough for the y range: none for thousands, more for small values."""
    ys = [abs(v) * scale for s in (*panel.lines, *panel.bars) for v in s.y]
    top = max(ys, default=0)
    return 0 if top >= 100 else 1 if top >= 10 else 2 if top >= 0.1 else 4


def _date_span(panels: Sequence[Panel]) -> tuple[date, date]:
    """The x range: every point and step end, with a month's bars whole, and at least a week."""
    lo, hi = [], []
    for panel in panels:
        for line in panel.lines:
            if line.x:
                lo.append(line.x[0])
                hi.append(max(line.x[-1], line.step_until or line.x[-1]))
        for bars in panel.bars:
            if bars.x:
                lo.append(bars.x[0])
                hi.append(bars.x[-1] + timedelta(days=31))
    left, right = min(lo), max(hi)
    if (right - left).days < 7:
        left, right = left - timedelta(days=3), right + timedelta(days=4)
    return left, right


_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_ROOT = re.compile(r"<svg\b[^>]*>")
_VIEWBOX = re.compile(r'viewBox="([^"]*)"')
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'\b(?:xlink:)?href="#([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")
# Anything that could make a browser fetch: a scheme, a protocol-relative or a remote reference.
_REMOTE = re.compile(r"(?i)\b(?:https?|ftp|wss?|file|data):|//|\b(?:xlink:)?href=\"[^#]")


def inline_svg(svg: str, name: str, title: str) -> str:
    """matplotlib's SVG document as an element for an HTML page: no XML prolog, DOCTYPE,
    namespaces or comments (the HTML parser knows SVG), sized by the page, its ids and
    references prefixed with `name`, titled for screen readers. Refuses an SVG that still
    names anything outside itself."""
    from html import escape

    body = _COMMENT.sub("", _PROLOG.sub("", svg, count=1))
    root = _ROOT.search(body)
    if root is None:
        raise ValueError(f"chart {name}: matplotlib wrote no <svg> element")
    viewbox = _VIEWBOX.search(root.group(0))
    new_root = (f'<svg viewBox="{viewbox.group(1) if viewbox else ""}" class="chart-svg" '
                f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>')
    body = body[:root.start()] + new_root + body[root.end():]
    body = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', body)
    body = _HREF.sub(lambda m: f'href="#{name}-{m.group(1)}"', body)
    body = _URL_REF.sub(lambda m: f"url(#{name}-{m.group(1)})", body)
    remote = _REMOTE.search(body)
    if remote:
        raise ValueError(f"chart {name}: the SVG refers to something outside it "
                         f"({body[max(0, remote.start() - 20):remote.end() + 20]!r})")
    return body.strip()
