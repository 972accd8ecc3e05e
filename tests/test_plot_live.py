"""benchmarks/plot_live.py: bench_live.py's JSON becomes a well-formed SVG with one line per
series, drawn from the data; the README's committed plot is the committed JSON's."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "plot_live.py"
RESULTS = ROOT / "benchmarks" / "results"
SVG = "{http://www.w3.org/2000/svg}"
FLIGHTS = [16, 64, 256, 1024]
ALL_SERIES = {"lmwrapper, OpenAI", "lmwrapper, Claude", "plain AsyncOpenAI",
              "plain AsyncAnthropic", "ideal (in flight / latency)"}


def _points(providers: list[str]) -> list[dict[str, object]]:
    """Made-up medians in bench_live.py's format: lmwrapper near ideal, the SDK loop below."""
    out: list[dict[str, object]] = []
    for provider in providers:
        for c in FLIGHTS:
            for client, share, cpu in (("lmwrapper", 0.9, 0.3), ("plain", 0.5, 2.0)):
                out.append({"provider": provider, "client": client, "in_flight": c,
                            "requests": 4 * c, "rps": share * c / 0.5, "cpu_ms": cpu,
                            "runs": [], "load_average_1min": 1.0})
    return out


def _plot(tmp_path: Path, data: object) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "live.json"
    src.write_text(json.dumps(data))
    return subprocess.run([sys.executable, str(SCRIPT), str(src), "-o",
                           str(tmp_path / "live.svg")],
                          capture_output=True, text=True, timeout=120, check=False)


def _polylines(root: ET.Element, panel: str) -> dict[str, list[tuple[float, float]]]:
    group = root.find(f".//{SVG}g[@id='{panel}']")
    assert group is not None, f"no panel {panel!r}"
    lines = group.findall(f"{SVG}polyline")
    out = {el.attrib["data-series"]: [tuple(map(float, xy.split(",")))  # type: ignore[misc]
                                      for xy in el.attrib["points"].split()] for el in lines}
    assert len(out) == len(lines), "two polylines carry the same series name"
    return out


def test_json_renders_one_polyline_per_series(tmp_path: Path) -> None:
    meta = {"latency_s": 0.5, "runs": 3, "per_slot": 4, "cpus": 2,
            "load_average_start": [1.2, 1, 1], "load_average_end": [3.4, 2, 1]}
    done = _plot(tmp_path, {"meta": meta, "points": _points(["openai", "anthropic"])})
    assert done.returncode == 0, done.stderr
    root = ET.parse(tmp_path / "live.svg").getroot()  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"

    rps = _polylines(root, "rps")
    assert set(rps) == ALL_SERIES
    assert all(len(pts) == len(FLIGHTS) for pts in rps.values())
    # drawn from the data: x grows with the number in flight; y is a pixel, so a higher
    # rate is higher up (smaller y), and lmwrapper's 90 % sits above the SDK's 50 %
    ours, plain = rps["lmwrapper, OpenAI"], rps["plain AsyncOpenAI"]
    assert [x for x, _ in ours] == sorted(x for x, _ in ours)
    assert [y for _, y in ours] == sorted((y for _, y in ours), reverse=True)
    assert all(a[1] < b[1] for a, b in zip(ours, plain))

    cpu = _polylines(root, "cpu")
    assert set(cpu) == ALL_SERIES - {"ideal (in flight / latency)"}
    assert all(a[1] > b[1] for a, b in zip(cpu["lmwrapper, Claude"],
                                           cpu["plain AsyncAnthropic"]))  # less CPU is lower

    assert [len(p) for p in _polylines(root, "throughster").values()] == [6]
    # the lowest and highest load seen: the points (1.0) and the end (3.4)
    assert "load average 1.0–3.4" in ET.tostring(root, encoding="unicode")


def test_one_provider_draws_only_its_lines(tmp_path: Path) -> None:
    done = _plot(tmp_path, {"meta": {"latency_s": 0.5}, "points": _points(["openai"])})
    assert done.returncode == 0, done.stderr
    root = ET.parse(tmp_path / "live.svg").getroot()
    assert set(_polylines(root, "rps")) == {"lmwrapper, OpenAI", "plain AsyncOpenAI",
                                            "ideal (in flight / latency)"}


def test_a_point_without_its_rate_is_refused_with_the_fix(tmp_path: Path) -> None:
    points = _points(["openai"])
    del points[3]["rps"]
    done = _plot(tmp_path, {"meta": {}, "points": points})
    assert done.returncode != 0
    assert "points[3]" in done.stderr and "'rps'" in done.stderr
    assert "bench_live.py --json" in done.stderr
    assert not (tmp_path / "live.svg").exists()


def test_the_committed_plot_is_the_committed_json(tmp_path: Path) -> None:
    """The README embeds results/live.svg: it must be what results/live.json draws."""
    done = subprocess.run([sys.executable, str(SCRIPT), str(RESULTS / "live.json"), "-o",
                           str(tmp_path / "live.svg")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "live.svg").read_text() == (RESULTS / "live.svg").read_text(), (
        "benchmarks/results/live.svg is stale: rerun "
        "`python benchmarks/plot_live.py benchmarks/results/live.json`")


def test_bench_live_json_is_what_plot_live_draws(tmp_path: Path) -> None:
    """End to end on a short run (one point, 50 ms server latency): bench_live.py --json
    writes every client's medians and runs, and plot_live.py draws them."""
    out = tmp_path / "live.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_live.py"),
                           "--in-flight", "16", "--runs", "2", "--providers", "openai",
                           "--latency", "0.05", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert {(p["provider"], p["client"]) for p in data["points"]} == {("openai", "lmwrapper"),
                                                                      ("openai", "plain")}
    assert all(len(p["runs"]) == 2 and p["requests"] == 200 and p["rps"] > 0
               for p in data["points"])
    assert data["meta"]["latency_s"] == 0.05 and len(data["meta"]["load_average_end"]) == 3

    drawn = subprocess.run([sys.executable, str(SCRIPT), str(out)], capture_output=True,
                           text=True, timeout=120, check=False)
    assert drawn.returncode == 0, drawn.stderr
    root = ET.parse(tmp_path / "live.svg").getroot()
    assert set(_polylines(root, "rps")) == {"lmwrapper, OpenAI", "plain AsyncOpenAI",
                                            "ideal (in flight / latency)"}
