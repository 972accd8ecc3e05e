"""Draw `bench_live.py --json`'s figures as one SVG for the README, beside throughster's
published curve. Hand-written SVG: no plotting library, nothing to install.

    python benchmarks/bench_live.py --json benchmarks/results/live.json   # measure (minutes)
    python benchmarks/plot_live.py benchmarks/results/live.json           # -> live.svg beside it

Three panels, the x axes logarithmic in the number of requests in flight:
  * requests/s (log scale) of lmwrapper and of a plain `asyncio.gather` over each async SDK,
    with the ideal (in flight / latency): the higher the better;
  * client CPU ms per request, the same four lines: the lower the better;
  * throughster's published benchmark: total tokens/s of a vLLM server as its client's workers
    grow. Other units and another experiment (a real model on GPUs), so it gets its own axes.

The output depends only on the JSON, so the same JSON always gives the same bytes (a test
checks that the committed SVG matches the committed JSON).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as esc
from xml.sax.saxutils import quoteattr

# throughster's README, "Throughput Benchmark": vLLM serving Mixtral-8x7B-Instruct-v0.1 on
# 2xA100. (workers, prompt tokens/s, completion tokens/s, total tokens/s as printed)
THROUGHSTER = [(1, 4.25, 63.97, 419.95), (16, 27.89, 419.95, 447.84),
               (32, 45.25, 681.34, 726.58), (64, 67.22, 1012.22, 1079.43),
               (128, 80.97, 1219.25, 1300.22), (256, 87.07, 1311.11, 1398.17)]

# Okabe-Ito colours (distinct under colour blindness); lmwrapper solid with filled dots,
# the plain SDK loop dashed with hollow squares, so the lines differ in more than colour.
BLUE, VERMILION, GREY, GREEN = "#0072B2", "#D55E00", "#6b6b6b", "#009E73"


@dataclass(frozen=True)
class Style:
    label: str
    colour: str
    dash: str = ""  # an SVG stroke-dasharray; "" for a solid line
    marker: str = ""  # "dot", "square" or "" for none
    width: float = 2.2


# OpenAI's lines are drawn wider and first, so that where both providers measure the same
# (they share lmwrapper's HTTP path) the Claude line shows inside a blue edge, not instead.
SERIES = {
    ("openai", "lmwrapper"): Style("lmwrapper, OpenAI", BLUE, "", "dot", 4.0),
    ("anthropic", "lmwrapper"): Style("lmwrapper, Claude", VERMILION, "", "dot", 1.8),
    ("openai", "plain"): Style("plain AsyncOpenAI", BLUE, "7 4", "square", 3.2),
    ("anthropic", "plain"): Style("plain AsyncAnthropic", VERMILION, "7 4", "square", 1.8),
}
IDEAL = Style("ideal (in flight / latency)", GREY, "2 4")
THROUGHSTER_STYLE = Style("throughster vLLM total tokens/s", GREEN, "", "dot")
WIDTH, HEIGHT = 880, 772
Curves = dict[tuple[str, str], list[tuple[int, float, float]]]  # (provider, client) -> points
FONT = "font-family='Helvetica, Arial, sans-serif'"


@dataclass(frozen=True)
class Axis:
    """Maps a value in [lo, hi] to a pixel in [start, end] (end < start for a y axis)."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = True

    def at(self, v: float) -> float:
        if self.log:
            f = (math.log(v) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return round(self.start + f * (self.end - self.start), 1)


@dataclass(frozen=True)
class Panel:
    key: str  # the <g id=...>: tests and readers find a panel by it
    title: str
    x: Axis
    y: Axis
    xlabel: str
    ylabel: str
    xticks: list[float]
    yticks: list[float]


# -- reading the JSON --------------------------------------------------------------------------

def load(path: Path) -> tuple[dict[str, Any], Curves]:
    """(meta, {(provider, client): [(in flight, requests/s, CPU ms), ...] sorted by in flight})."""
    try:
        data = json.loads(path.read_text())
        points = data["points"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"{path}: cannot read bench_live.py's JSON ({e!r}); "
                         "write it with `python benchmarks/bench_live.py --json PATH`") from e
    curves: Curves = {}
    for i, p in enumerate(points):
        try:
            row = (int(p["in_flight"]), float(p["rps"]), float(p["cpu_ms"]))
            curves.setdefault((p["provider"], p["client"]), []).append(row)
        except (KeyError, TypeError, ValueError) as e:
            raise SystemExit(f"{path}: points[{i}] lacks a usable {e}: each point needs "
                             "provider, client, in_flight, rps and cpu_ms; rerun bench_live.py "
                             "--json") from e
        if min(row[:2]) <= 0:  # both go on log axes
            raise SystemExit(f"{path}: points[{i}] has in_flight {row[0]} and rps {row[1]}; "
                             "both must be > 0 (bench_live.py writes only runs that succeeded)")
    if not curves:
        raise SystemExit(f"{path}: no points to draw; rerun bench_live.py --json")
    meta = dict(data.get("meta") or {})
    meta["load_range"] = _load_range(meta, points)
    return meta, {k: sorted(v) for k, v in curves.items()}


def _load_range(meta: dict[str, Any], points: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Lowest and highest 1-minute load average seen: at the start, after each point, at the
    end. How shared the cores were is part of what a figure means."""
    seen = [(meta.get(k) or [None])[0] for k in ("load_average_start", "load_average_end")]
    seen += [p.get("load_average_1min") for p in points]
    values = [float(v) for v in seen if isinstance(v, int | float)]
    return (min(values), max(values)) if values else None


# -- drawing primitives ------------------------------------------------------------------------

def text(x: float, y: float, s: str, size: int = 12, anchor: str = "start",
         extra: str = "") -> str:
    return (f"<text x='{x}' y='{y}' font-size='{size}' text-anchor='{anchor}' {extra}>"
            f"{esc(s)}</text>")


def tick_label(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 or v == int(v) else f"{v:g}"


def frame(p: Panel) -> list[str]:
    """Box, grid, tick labels, axis titles and the panel's title."""
    x0, x1, y0, y1 = p.x.start, p.x.end, p.y.start, p.y.end
    out = [(f"<rect x='{x0}' y='{y1}' width='{x1 - x0}' height='{y0 - y1}' fill='white' "
           "stroke='#999'/>")]
    for v in p.xticks:
        x = p.x.at(v)
        out.append(f"<line x1='{x}' y1='{y0}' x2='{x}' y2='{y1}' stroke='#e4e4e4'/>")
        out.append(text(x, y0 + 16, tick_label(v), 11, "middle"))
    for v in p.yticks:
        y = p.y.at(v)
        out.append(f"<line x1='{x0}' y1='{y}' x2='{x1}' y2='{y}' stroke='#e4e4e4'/>")
        out.append(text(x0 - 6, y + 4, tick_label(v), 11, "end"))
    out.append(text((x0 + x1) / 2, y0 + 34, p.xlabel, 12, "middle"))
    mid = (y0 + y1) / 2
    out.append(text(x0 - 48, mid, p.ylabel, 12, "middle",
                    f"transform='rotate(-90 {x0 - 48} {mid})'"))
    out.append(text(x0, y1 - 8, p.title, 13, "start", "font-weight='bold'"))
    return out


def marker(style: Style, x: float, y: float, tip: str = "") -> str:
    size = 3.2 + style.width / 2
    if style.marker == "dot":
        return f"<circle cx='{x}' cy='{y}' r='{size:g}' fill='{style.colour}'>{tip}</circle>"
    if style.marker == "square":
        return (f"<rect x='{x - size:g}' y='{y - size:g}' width='{2 * size:g}' "
                f"height='{2 * size:g}' fill='white' stroke='{style.colour}' "
                f"stroke-width='1.8'>{tip}</rect>")
    return ""


def stroke(style: Style) -> str:
    dash = f" stroke-dasharray='{style.dash}'" if style.dash else ""
    return f"fill='none' stroke='{style.colour}' stroke-width='{style.width:g}'{dash}"


def line(p: Panel, pts: list[tuple[float, float]], style: Style) -> list[str]:
    """One series: a polyline (one per series per panel) and a marker at each measured point,
    each with a tooltip giving its value."""
    xy = [(p.x.at(x), p.y.at(y)) for x, y in pts]
    coords = " ".join(f"{x},{y}" for x, y in xy)
    out = [f"<polyline data-series={quoteattr(style.label)} points='{coords}' {stroke(style)}/>"]
    for (x, y), (vx, vy) in zip(xy, pts):
        tip = f"<title>{esc(style.label)}: {tick_label(vx)} → {vy:,.2f}</title>"
        out.append(marker(style, x, y, tip))
    return [o for o in out if o]


def legend(x: float, y: float, styles: list[Style]) -> list[str]:
    """A boxed column of line samples and labels, its top-left corner at x, y."""
    width = 52 + 6.4 * max(len(st.label) for st in styles)
    out = [(f"<rect x='{x}' y='{y}' width='{width:.0f}' height='{10 + 18 * len(styles)}' "
            "fill='white' fill-opacity='0.9' stroke='#ccc'/>")]
    for i, st in enumerate(styles):
        cy = y + 14 + 18 * i
        out.append(f"<line x1='{x + 8}' y1='{cy}' x2='{x + 36}' y2='{cy}' {stroke(st)}/>")
        out += [marker(st, x + 22, cy), text(x + 44, cy + 4, st.label, 12)]
    return [o for o in out if o]


def nice_ticks(hi: float, count: int = 5) -> list[float]:
    """0, step, 2*step, ... up to hi, with step 1, 2 or 5 times a power of ten."""
    raw = hi / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return [round(i * step, 10) for i in range(int(hi / step) + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """1, 2, 5 times powers of ten within [lo, hi]."""
    out = [m * 10.0 ** e for e in range(-2, 7) for m in (1, 2, 5)]
    return [v for v in out if lo <= v <= hi]


# -- the three panels --------------------------------------------------------------------------

def ours(curves: Curves, latency: float) -> list[str]:
    """Requests/s and client CPU per request, lmwrapper against the plain SDK loop."""
    flights = sorted({c for pts in curves.values() for c, _, _ in pts})
    xlo, xhi = flights[0] / 1.35, flights[-1] * 1.35
    ideal = [(float(c), c / latency) for c in flights]
    rps = [r for pts in curves.values() for _, r, _ in pts] + [v for _, v in ideal]
    ylo, yhi = min(rps) / 1.5, max(rps) * 1.4
    top = Panel("rps", "Requests per second (log scale; higher is better)",
                Axis(xlo, xhi, 80, 860), Axis(ylo, yhi, 390, 110), "requests in flight",
                "requests / s", [float(c) for c in flights], log_ticks(ylo, yhi))
    cpu_hi = max(m for pts in curves.values() for _, _, m in pts) * 1.15
    bottom = Panel("cpu", "Client CPU per request (lower is better)",
                   Axis(xlo, xhi, 80, 400), Axis(0, cpu_hi, 650, 470, log=False),
                   "requests in flight", "CPU ms / request", [float(c) for c in flights],
                   nice_ticks(cpu_hi))
    out = [f"<g id='{top.key}'>", *frame(top)]
    for key, style in SERIES.items():
        if key in curves:
            out += line(top, [(c, r) for c, r, _ in curves[key]], style)
    out += line(top, ideal, IDEAL)
    out += ["</g>", f"<g id='{bottom.key}'>", *frame(bottom)]
    for key, style in SERIES.items():
        if key in curves:
            out += line(bottom, [(c, m) for c, _, m in curves[key]], style)
    return [*out, "</g>"]


def throughster() -> list[str]:
    """throughster's published curve on its own axes: tokens/s of a server, not requests/s of
    a client. Its 1-worker total (419.95) is not the sum of that row's columns (68.22; it is
    the 16-worker completion figure), so the line uses prompt + completion and the printed
    value is marked apart."""
    p = Panel("throughster", "throughster as published (other units)",
              Axis(0.7, 370, 540, 860), Axis(0, 1600, 650, 470, log=False),
              "client workers", "total tokens / s", [1, 4, 16, 64, 256],
              [0, 400, 800, 1200, 1600])
    sums = [(float(w), pr + co) for w, pr, co, _ in THROUGHSTER]
    w1, printed = THROUGHSTER[0][0], THROUGHSTER[0][3]
    x, y = p.x.at(w1), p.y.at(printed)
    out = [f"<g id='{p.key}'>", *frame(p), *line(p, sums, THROUGHSTER_STYLE)]
    out.append(f"<circle cx='{x}' cy='{y}' r='4.5' fill='white' stroke='{GREEN}' "
               f"stroke-width='1.8'><title>printed total at 1 worker: {printed}</title>"
               "</circle>")
    out.append(text(x + 8, y - 18, "printed at 1 worker: 420", 10))
    out.append(text(x + 8, y - 6, "(its columns sum to 68)", 10))
    return [*out, "</g>"]


def setup_lines(meta: dict[str, Any]) -> list[str]:
    """How the figures were made: server, sizes, runs, machine, load, date and commit."""
    lo_hi = meta.get("load_range")
    when = [f"1-minute load average {lo_hi[0]:.1f}–{lo_hi[1]:.1f} during the run"] if lo_hi else []
    when += [meta["started_utc"][:10]] if meta.get("started_utc") else []
    when += [f"commit {meta['commit']}"] if meta.get("commit") else []
    return [
        (f"Loopback server answering every request after {meta.get('latency_s', 0.5):g} s in its "
        f"own process; {meta.get('per_slot', 4)} × (in flight) requests per point, at least 200; "
        f"{_runs(meta.get('runs'))}."),
        f"Client on {meta.get('cpus', '?')} shared cores; " + ", ".join(when) + ".",
        ("lmwrapper's figures include writing every answer to its SQLite cache; the plain SDK "
        "loop caches nothing."),
    ]


# What the bottom-right panel is and is not, under the panels.
THROUGHSTER_NOTE = textwrap.wrap(
    "Bottom right: throughster's README table (vLLM serving Mixtral-8x7B-Instruct on 2×A100): "
    "tokens/s of a real model server as its client's workers grow, i.e. the server's ceiling. "
    "The other panels isolate the client (the server's time per request is fixed), so heights "
    "are not comparable across panels, only shapes. Its printed 1-worker total (420) is not the "
    "sum of that row's columns (68); the line uses the sums.", 142)


def notes(meta: dict[str, Any]) -> list[str]:
    """The title, the setup under it, and the note on throughster under the panels."""
    out = [text(20, 26, "Hundreds of requests in flight: lmwrapper vs plain asyncio.gather "
                "over the async SDK", 16, "start", "font-weight='bold'")]
    out += [text(20, 46 + 15 * i, s, 12, "start", "fill='#444'")
            for i, s in enumerate(setup_lines(meta))]
    out += [text(20, 712 + 14 * i, s, 11, "start", "fill='#444'")
            for i, s in enumerate(THROUGHSTER_NOTE)]
    return out


def _runs(n: Any) -> str:
    return "one run" if n == 1 else f"medians of {n if n else '?'} runs"


def render(meta: dict[str, Any], curves: Curves) -> str:
    styles = [style for key, style in SERIES.items() if key in curves] + [IDEAL]
    body = [*notes(meta), *ours(curves, float(meta.get("latency_s", 0.5))),
            *legend(90, 120, styles), *throughster()]
    return ("<?xml version='1.0' encoding='UTF-8'?>\n"
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
            f"viewBox='0 0 {WIDTH} {HEIGHT}' {FONT}>\n"
            f"<rect width='{WIDTH}' height='{HEIGHT}' fill='white'/>\n"
            + "\n".join(body) + "\n</svg>\n")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json", type=Path, help="written by bench_live.py --json")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="the SVG to write (default: the JSON's path with .svg)")
    args = p.parse_args(argv)
    out = args.output or args.json.with_suffix(".svg")
    meta, curves = load(args.json)
    out.write_text(render(meta, curves), encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
