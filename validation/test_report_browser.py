"""The nightly report in a real browser: headless Chromium loads index.html, every image decodes, the score
matrix and accuracy figures are in the DOM, and the page renders to a non-blank screenshot.

Input is ``validation.synthetic_results``: SYNTHETIC TEST INPUT for the renderer, not simulator output.

Needs Chromium (Debian: ``apt-get install -y chromium``); skipped with that hint when no browser is found.
The page marks ``<body data-images-ok="true|false">`` from a small inline script after the load event; the
DOM is read with ``--dump-dom``, which serialises the document after load, so that attribute tells whether
every ``<img>`` decoded (``naturalWidth > 0``) in a real rendering engine.
"""

from __future__ import annotations

import html.parser
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from snnval.report import build_report
from validation.synthetic_results import synthetic_results

pytestmark = pytest.mark.browser

BROWSER_NAMES = ("chromium", "chromium-browser")
INSTALL_HINT = "apt-get update && apt-get install -y chromium"

# Headless with no sandbox (containers run as root), no GPU, and nothing that phones home: CI has no network
# and a first-run or component-update request would only slow the start or hang it.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
TIMEOUT_S = 90
WINDOW = (1280, 2000)

# Tonight: the synthetic night with one passing cell flipped to fail, so the regression box is filled.
FLIPPED = 0


@pytest.fixture(scope="module")
def browser() -> str:
    """Path of a Chromium binary on PATH, or skip saying which names were looked for and how to install."""
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no headless browser: looked for {', '.join(BROWSER_NAMES)} on PATH; install with `{INSTALL_HINT}`")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Build last night's and tonight's synthetic reports (so trends and a regression exist); return tonight's."""
    root = tmp_path_factory.mktemp("report")
    history = root / "history.jsonl"
    build_report(synthetic_results(date="2026-11-22", seed=1), root / "2026-11-22", history)
    tonight = synthetic_results(date="2026-11-23")
    assert tonight["scenarios"][FLIPPED]["status"] == "pass"
    tonight["scenarios"][FLIPPED]["status"] = "fail"
    tonight["scenarios"][FLIPPED]["reason"] = "synthetic flip for the regression box"
    index = build_report(tonight, root / "2026-11-23", history)
    return index, tonight


def _run_chromium(binary: str, args: list[str], workdir: Path) -> str:
    """Run Chromium with a fresh profile; return stdout. Kills its whole process group on timeout."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    # Own session: Chromium forks zygote/renderer processes; on a hang we must kill them all, and only them.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {TIMEOUT_S} s: {' '.join(cmd)}")
    if proc.returncode != 0:
        pytest.fail(f"chromium exited with {proc.returncode}: {' '.join(cmd)}\n{err[-3000:]}")
    return out


class _Dom(html.parser.HTMLParser):
    """Just enough of the dumped DOM: body attributes, images, score-matrix cells, text inside chosen ids."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, text_ids: tuple[str, ...]) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.imgs: list[dict[str, str | None]] = []
        self.header_columns: list[str] = []
        self.rows: list[tuple[str, list[dict[str, str | None]]]] = []
        self.text: dict[str, list[str]] = {i: [] for i in text_ids}
        self._stack: list[tuple[str, str | None]] = []

    def _inside(self, element_id: str) -> bool:
        return any(i == element_id for _, i in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "img":
            self.imgs.append(a)
        if self._inside("score-matrix"):
            if tag == "th" and "data-column" in a:
                self.header_columns.append(a["data-column"] or "")
            if tag == "tr" and "data-scenario" in a:
                self.rows.append((a["data-scenario"] or "", []))
            if tag == "td" and self.rows:
                self.rows[-1][1].append(a)
        if tag not in self.VOID:
            self._stack.append((tag, a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        # Pop back to the matching open tag; the browser's serialisation closes every non-void element.
        for k in range(len(self._stack) - 1, -1, -1):
            if self._stack[k][0] == tag:
                del self._stack[k:]
                break

    def handle_data(self, data: str) -> None:
        for _, element_id in self._stack:
            if element_id in self.text:
                self.text[element_id].append(data)

    def joined(self, element_id: str) -> str:
        return " ".join(" ".join(self.text[element_id]).split())


def _dump_dom(binary: str, index: Path, workdir: Path) -> _Dom:
    # --virtual-time-budget lets the load event and its handler finish before the dump, even on a slow CI box.
    out = _run_chromium(binary, ["--virtual-time-budget=10000", "--dump-dom", index.as_uri()], workdir)
    dom = _Dom(("accuracy-table", "regressions", "port-variants-table"))
    dom.feed(out)
    return dom


def test_every_image_loads_in_the_browser(browser: str, report: tuple[Path, dict], tmp_path: Path) -> None:
    index, _ = report
    dom = _dump_dom(browser, index, tmp_path)
    # 1 accuracy + 3 confusion + ladder + voltage + raster + trends
    assert len(dom.imgs) == 8
    assert all((img.get("alt") or "").strip() for img in dom.imgs)
    assert dom.body.get("data-images-total") == "8", dom.body
    assert dom.body.get("data-images-loaded") == "8", dom.body
    assert dom.body.get("data-images-ok") == "true", dom.body


def test_broken_image_is_detected(browser: str, report: tuple[Path, dict], tmp_path: Path) -> None:
    """Negative control: the load check must fail when a figure is missing, or the test above proves nothing."""
    index, _ = report
    copy = tmp_path / "copy"
    shutil.copytree(index.parent, copy)
    (copy / "img" / "trends.png").unlink()
    dom = _dump_dom(browser, copy / "index.html", tmp_path)
    assert dom.body.get("data-images-ok") == "false"
    assert dom.body.get("data-images-loaded") == "7"


def test_score_matrix_accuracy_and_regressions_in_dom(browser: str, report: tuple[Path, dict], tmp_path: Path) -> None:
    index, results = report
    dom = _dump_dom(browser, index, tmp_path)

    scenarios = list(dict.fromkeys(c["scenario"] for c in results["scenarios"]))
    sim_order = [s["name"] for s in results["simulators"]]
    columns = sorted(
        dict.fromkeys((c["simulator"], c["reference"]) for c in results["scenarios"]),
        key=lambda col: sim_order.index(col[0]),
    )
    keys = [f"{sim} | {ref}" for sim, ref in columns]
    assert dom.header_columns == keys
    assert [name for name, _ in dom.rows] == scenarios
    expected = {(c["scenario"], f"{c['simulator']} | {c['reference']}"): c["status"] for c in results["scenarios"]}
    for scenario, cells in dom.rows:
        assert [c["data-column"] for c in cells] == keys
        for cell in cells:
            want = expected.get((scenario, cell["data-column"] or ""), "missing")
            assert cell["data-status"] == want, (scenario, cell)
            assert "cell" in (cell["class"] or "") and f"status-{want}" in (cell["class"] or "")

    acc_text = dom.joined("accuracy-table")
    for a in results["accuracy"]:
        assert a["runner"] in acc_text
        assert f"{100 * a['accuracy']:.1f} %" in acc_text
        assert f"{a['correct']} / {a['n']}" in acc_text
        assert f"{100 * a['ci95'][0]:.1f} % \u2013 {100 * a['ci95'][1]:.1f} %" in acc_text

    for v in results["port_variants"]:
        assert v["variant"] in dom.joined("port-variants-table")

    flipped = results["scenarios"][FLIPPED]
    regressions = dom.joined("regressions")
    assert "1 regression since 2026-11-22" in regressions
    assert f"{flipped['scenario']} on {flipped['simulator']}" in regressions and "FAIL now" in regressions


def test_page_renders_to_a_non_blank_screenshot(browser: str, report: tuple[Path, dict], tmp_path: Path) -> None:
    from PIL import Image  # Pillow comes with matplotlib

    index, _ = report
    shot = tmp_path / "page.png"
    _run_chromium(browser, [f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={shot}", index.as_uri()], tmp_path)
    assert shot.is_file()
    with Image.open(shot) as im:
        assert im.size == WINDOW
        rgb = im.convert("RGB")
    colours = rgb.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200, "too few colours: charts did not render"
    pixels = np.asarray(rgb, dtype=np.int16).reshape(-1, 3)
    white = np.count_nonzero(np.all(pixels == 255, axis=1))
    assert white < 0.9 * len(pixels), "page is (nearly) blank"

    def present(target: tuple[int, int, int], tol: int = 4, min_count: int = 200) -> bool:
        near = np.all(np.abs(pixels - np.array(target)) <= tol, axis=1)
        return int(np.count_nonzero(near)) >= min_count

    # The status colours of the stylesheet reached the screen: pass cells, and the red synthetic banner.
    assert present((0xDA, 0xFB, 0xE1)), "no pass-cell green on screen"
    assert present((0xCF, 0x22, 0x2E)), "no fail red on screen"
