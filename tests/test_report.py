"""Nightly report builder: files, schema validation, append-only history, regression detection.

All inputs here come from ``validation.synthetic_results``: SYNTHETIC TEST INPUT for the renderer,
made up with a seeded RNG and marked ``"synthetic": true``. None of it is simulator output.
"""

from __future__ import annotations

import copy
import html.parser
import json
import math
from pathlib import Path

import pytest

from snnval.errors import SnnvalError
from snnval.report import (
    HistoryError,
    ResultsSchemaError,
    build_report,
    detect_regressions,
    history_record,
    load_history,
    validate_results,
)
from validation.synthetic_results import synthetic_results

KEY_IDS = ("score-matrix", "accuracy", "port-variants", "confusion", "sample", "trends", "regressions")


@pytest.fixture
def results() -> dict:
    """Synthetic renderer test input (not simulator output); a fresh deep copy per test."""
    return synthetic_results(date="2026-11-23")


class _Page(html.parser.HTMLParser):
    """Collects ids, <img> attributes, external references and score-matrix cells from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.imgs: list[dict] = []
        self.urls: list[str] = []
        self.cells: list[dict] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"] or "")
        if tag == "img":
            self.imgs.append(a)
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(a[key] or "")
        if tag == "td" and "data-status" in a:
            self.cells.append(a)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


# --------------------------------------------------------------------------------------------- building


def test_build_writes_page_json_figures_and_history(results: dict, tmp_path: Path) -> None:
    out, hist = tmp_path / "2026-11-23", tmp_path / "history.jsonl"
    index = build_report(results, out, hist)

    assert index == out / "index.html" and index.is_file()
    assert (out / "results.json").is_file()
    pngs = sorted(p.name for p in (out / "img").glob("*.png"))
    assert {"accuracy.png", "port_variants.png", "sample_voltage.png", "sample_raster.png"} <= set(pngs)
    assert [p for p in pngs if p.startswith("confusion_")] == [f"confusion_{i}.png" for i in range(3)]
    for png in (out / "img").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp")) and not list((out / "img").glob(".*.tmp"))  # temp files cleaned up

    page = _parse(index)
    assert set(KEY_IDS) <= page.ids
    assert page.imgs, "the page should show figures"
    for img in page.imgs:
        assert img.get("alt", "").strip(), f"{img} has no alt text"
        assert (out / img["src"]).is_file(), f"{img['src']} does not exist"
    # Self-contained: no external URLs, no stylesheet links, no external scripts.
    assert not [u for u in page.urls if "://" in u or u.startswith("//")]
    assert "link" not in page.tags
    text = index.read_text(encoding="utf-8")
    assert "<script src" not in text and "@import" not in text
    assert "SYNTHETIC TEST INPUT" in text  # synthetic input can never pass for a real report

    assert len(hist.read_text().splitlines()) == 1


def test_score_matrix_cells(results: dict, tmp_path: Path) -> None:
    page = _parse(build_report(results, tmp_path / "out", tmp_path / "h.jsonl"))
    scenarios = list(dict.fromkeys(c["scenario"] for c in results["scenarios"]))
    columns = list(dict.fromkeys((c["simulator"], c["reference"]) for c in results["scenarios"]))
    assert len(page.cells) == len(scenarios) * len(columns)  # full grid, missing combos shown as "not run"
    statuses = [c["data-status"] for c in page.cells]
    for status in ("pass", "fail", "not_applicable", "error"):
        assert statuses.count(status) == sum(c["status"] == status for c in results["scenarios"])
    assert statuses.count("missing") == len(scenarios) * len(columns) - len(results["scenarios"])
    brian_fail = next(c for c in page.cells if c["data-status"] == "fail" and c["data-column"].startswith("brian2"))
    assert "refractory end rounding" in brian_fail["title"]  # the reason is on hover


def test_results_json_round_trips_and_input_is_not_mutated(results: dict, tmp_path: Path) -> None:
    before = copy.deepcopy(results)
    out = tmp_path / "out"
    build_report(results, out, tmp_path / "h.jsonl")
    assert results == before
    loaded = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert loaded == results  # no previous night, so no regressions were added
    validate_results(loaded)


def test_history_appends_one_line_per_build_and_keeps_old_lines(results: dict, tmp_path: Path) -> None:
    hist = tmp_path / "history.jsonl"
    build_report(synthetic_results(date="2026-11-21", seed=5), tmp_path / "a", hist)
    first = hist.read_bytes()
    build_report(synthetic_results(date="2026-11-22", seed=6), tmp_path / "b", hist)
    second = hist.read_bytes()
    assert second.startswith(first) and second.count(b"\n") == 2
    build_report(results, tmp_path / "c", hist)
    build_report(results, tmp_path / "c", hist)  # re-rendering the same night still appends: history is a log
    third = hist.read_bytes()
    assert third.startswith(second) and third.count(b"\n") == 4
    records = load_history(hist)
    assert [r["date"] for r in records] == ["2026-11-21", "2026-11-22", "2026-11-23", "2026-11-23"]
    assert records[-1] == history_record(json.loads((tmp_path / "c" / "results.json").read_text()))


def test_history_without_trailing_newline_gets_one(results: dict, tmp_path: Path) -> None:
    hist = tmp_path / "history.jsonl"
    old = json.dumps(history_record(synthetic_results(date="2026-11-20")))
    hist.write_text(old)  # hand-edited: valid line, no newline at the end
    build_report(results, tmp_path / "out", hist)
    lines = hist.read_text().splitlines()
    assert lines[0] == old and len(lines) == 2
    assert [r["date"] for r in load_history(hist)] == ["2026-11-20", "2026-11-23"]


def test_malformed_history_line_names_file_and_line_and_writes_nothing(results: dict, tmp_path: Path) -> None:
    hist = tmp_path / "history.jsonl"
    good = json.dumps(history_record(synthetic_results(date="2026-11-20")))
    hist.write_text(good + "\n" + '{"record_version": 1, "date": "2026-11-2' + "\n")
    before = hist.read_bytes()
    with pytest.raises(HistoryError, match=r"history\.jsonl, line 2: malformed history line") as info:
        build_report(results, tmp_path / "out", hist)
    assert str(hist) in str(info.value)
    assert hist.read_bytes() == before
    assert not (tmp_path / "out" / "index.html").exists()


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("[1, 2]", "expected a JSON object"),
        ('{"record_version": 99}', "unsupported record_version 99"),
        ('{"record_version": 1, "date": "2026-11-20"}', "missing quick"),
    ],
)
def test_load_history_rejects_bad_records(tmp_path: Path, line: str, text: str) -> None:
    hist = tmp_path / "h.jsonl"
    hist.write_text("\n" + line + "\n")  # blank first line is fine; the bad one is line 2
    with pytest.raises(HistoryError, match=text) as info:
        load_history(hist)
    assert f"{hist}, line 2" in str(info.value)


def test_missing_history_is_empty(tmp_path: Path) -> None:
    assert load_history(tmp_path / "nope.jsonl") == []


# ------------------------------------------------------------------------------------------ validation


def _drop(path: list):
    def edit(r: dict) -> None:
        target = r
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def _set(path: list, value):
    def edit(r: dict) -> None:
        target = r
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "field", "text"),
    [
        (_drop(["date"]), "date", "missing"),
        (_drop(["machine", "cores"]), "machine.cores", "missing"),
        (_drop(["scenarios", 1, "status"]), "scenarios[1].status", "missing"),
        (_drop(["scenarios", 0, "figures", "spikes_extra"]), "scenarios[0].figures.spikes_extra", "missing"),
        (_drop(["accuracy", 2, "ci95"]), "accuracy[2].ci95", "missing"),
        (_drop(["port_variants", 0, "changes"]), "port_variants[0].changes", "missing"),
        (_drop(["sample", "raster"]), "sample.raster", "missing"),
        (_drop(["regressions"]), "regressions", "missing"),
        (_set(["schema_version"], 1), "schema_version", "reads version 2 only"),
        (_drop(["schema_version"]), "schema_version", "missing"),
        (_set(["date"], "23.11.2026"), "date", "YYYY-MM-DD"),
        (_set(["scenarios", 2, "status"], "passed"), "scenarios[2].status", '"not_applicable"'),
        (_set(["scenarios", 0, "figures", "max_abs_dV_mV"], math.nan), "scenarios[0].figures.max_abs_dV_mV", "finite"),
        (_set(["scenarios", 0, "figures", "spikes_matched"], True), "scenarios[0].figures.spikes_matched", "integer"),
        (_set(["accuracy", 0, "accuracy"], 0.5), "accuracy[0].accuracy", "correct / n"),
        (_set(["accuracy", 0, "ci95"], [0.9, 0.95]), "accuracy[0].ci95", "lo <= accuracy"),
        (_set(["accuracy", 1, "runner"], "tf (tf-billeh)"), "accuracy[1].runner", "unique"),
        (_set(["accuracy", 0, "confusion"], [[1, 2], [3]]), "accuracy[0].confusion", "square"),
        (_set(["sample", "raster", "tf (tf-billeh)", "step"], [1]), "sample.raster['tf (tf-billeh)']", "equal-length"),
        (_set(["simulators", 4, "available"], "no"), "simulators[4].available", "true or false"),
    ],
)
def test_malformed_results_name_the_field(results: dict, tmp_path: Path, edit, field: str, text: str) -> None:
    edit(results)
    with pytest.raises(ResultsSchemaError, match=text) as info:
        build_report(results, tmp_path / "out", tmp_path / "h.jsonl")
    assert info.value.field == field
    assert f"field '{field}'" in str(info.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "h.jsonl").exists()


def test_duplicate_cell_is_rejected(results: dict) -> None:
    results["scenarios"].append(copy.deepcopy(results["scenarios"][0]))
    with pytest.raises(ResultsSchemaError, match="repeats scenarios"):
        validate_results(results)


def test_optional_sections_may_be_empty(results: dict, tmp_path: Path) -> None:
    results.update(accuracy=[], agreement=[], accuracy_not_run=[], port_variants=[], sample=None)
    results["scenarios"][0]["figures"] = None
    page = _parse(build_report(results, tmp_path / "out", tmp_path / "h.jsonl"))
    assert set(KEY_IDS) <= page.ids
    assert page.imgs == []
    text = (tmp_path / "out" / "index.html").read_text()
    assert "No accuracy runs" in text and "No port variants" in text and "No sample trial" in text


def test_missing_template_is_a_clear_error(results: dict, tmp_path: Path) -> None:
    with pytest.raises(SnnvalError, match="report template not found"):
        build_report(results, tmp_path / "out", tmp_path / "h.jsonl", template_dir=tmp_path)


def test_names_are_html_escaped(results: dict, tmp_path: Path) -> None:
    results["scenarios"][1]["reason"] = '<script>alert("x")</script> & "quotes"'
    text = build_report(results, tmp_path / "out", tmp_path / "h.jsonl").read_text()
    assert '<script>alert("x")</script>' not in text
    assert "&lt;script&gt;" in text


# ------------------------------------------------------------------------------------------ regressions


def test_detect_regressions_nothing_when_identical(results: dict) -> None:
    assert detect_regressions(results, copy.deepcopy(results)) == []
    assert detect_regressions(results, history_record(results)) == []
    assert detect_regressions(results, None) == []


def test_detect_regressions_pass_to_fail(results: dict) -> None:
    previous = copy.deepcopy(results)
    previous["date"] = "2026-11-22"
    cell = results["scenarios"][0]
    assert cell["status"] == "pass"
    cell["status"], cell["reason"] = "fail", "V_m off by 2 mV"
    found = detect_regressions(results, previous)
    assert found == [
        f"{cell['scenario']} on nest vs {cell['reference']}: passed on 2026-11-22, FAIL now (V_m off by 2 mV)"
    ]


def test_detect_regressions_pass_to_not_applicable_and_lost_cell(results: dict) -> None:
    previous = copy.deepcopy(results)
    results["scenarios"][0].update(status="not_applicable", reason="adapter no longer declares the knob")
    lost = results["scenarios"].pop(4)  # a passing cell no longer run at all
    found = detect_regressions(results, previous)
    assert len(found) == 2
    assert "N/A now" in found[0]
    assert f"{lost['scenario']} on {lost['simulator']}" in found[1] and "not run now" in found[1]
    previous["quick"] = not previous["quick"]  # a quick night covers less: missing cells are not regressions
    assert len(detect_regressions(results, previous)) == 1


def test_detect_regressions_accuracy_drop_beyond_ci_half_width(results: dict) -> None:
    acc = results["accuracy"][1]
    half = (acc["ci95"][1] - acc["ci95"][0]) / 2
    prev = history_record(results)
    prev["date"] = "2026-11-22"
    # Last night this runner was better by 1.5 half-widths, with the same CI width: a regression.
    prev["accuracy"][acc["runner"]]["accuracy"] = acc["accuracy"] + 1.5 * half
    prev["accuracy"][acc["runner"]]["ci95"] = [acc["ci95"][0] + 1.5 * half, acc["ci95"][1] + 1.5 * half]
    found = detect_regressions(results, prev)
    assert len(found) == 1
    assert found[0].startswith(f"accuracy of {acc['runner']}:") and "> 95 % CI half-width" in found[0]

    # Better by only half a half-width: inside the noise, not a regression.
    prev["accuracy"][acc["runner"]]["accuracy"] = acc["accuracy"] + 0.5 * half
    prev["accuracy"][acc["runner"]]["ci95"] = list(acc["ci95"])
    assert detect_regressions(results, prev) == []


def test_detect_regressions_port_variant_and_simulator(results: dict) -> None:
    prev = history_record(results)
    pv = results["port_variants"][0]
    prev["port_variants"][pv["variant"]] = {"accuracy": min(1.0, pv["accuracy"] + 0.2), "ci95": list(pv["ci95"])}
    results["simulators"][1].update(available=False, version=None, reason="import nest failed")
    found = detect_regressions(results, prev)
    assert any(f.startswith(f"port variant {pv['variant']}:") for f in found)
    assert "simulator nest: available on 2026-11-23, unavailable now" in found


def test_build_report_finds_regressions_against_previous_night(tmp_path: Path) -> None:
    hist = tmp_path / "history.jsonl"
    build_report(synthetic_results(date="2026-11-22"), tmp_path / "2026-11-22", hist)
    tonight = synthetic_results(date="2026-11-23")
    tonight["scenarios"][0].update(status="fail", reason="first divergence: step 3")
    out = tmp_path / "2026-11-23"
    build_report(tonight, out, hist)

    written = json.loads((out / "results.json").read_text())
    assert len(written["regressions"]) == 1 and "passed on 2026-11-22, FAIL now" in written["regressions"][0]
    assert load_history(hist)[-1]["regressions"] == written["regressions"]
    text = (out / "index.html").read_text()
    assert 'class="regressions has-regressions"' in text and "1 regression since 2026-11-22" in text
    assert (out / "img" / "trends.png").is_file()  # one previous night is enough for a trend chart

    # Re-rendering the same night compares with 2026-11-22 again, not with tonight's own history line.
    build_report(tonight, out, hist)
    assert json.loads((out / "results.json").read_text())["regressions"] == written["regressions"]


def test_first_night_has_no_trend_chart_and_says_so(results: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_report(results, out, tmp_path / "h.jsonl")
    assert not (out / "img" / "trends.png").exists()
    text = (out / "index.html").read_text()
    assert "No earlier nights of the nightly tier in the history yet" in text
    assert "regressions cannot be detected tonight" in text


def test_other_tier_is_not_used_for_trends_or_regressions(tmp_path: Path) -> None:
    hist = tmp_path / "h.jsonl"
    quick = synthetic_results(date="2026-11-22")
    quick["quick"] = True
    build_report(quick, tmp_path / "q", hist)
    tonight = synthetic_results(date="2026-11-23")
    tonight["scenarios"][0].update(status="fail", reason="first divergence: step 3")
    build_report(tonight, tmp_path / "n", hist)
    assert json.loads((tmp_path / "n" / "results.json").read_text())["regressions"] == []
    assert not (tmp_path / "n" / "img" / "trends.png").exists()


# ------------------------------------------------------------------------------------ one transaction


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_failed_write_leaves_the_previous_report_whole(
    results: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while index.html is written: the previous page, its results and figures stay as they were,
    and no history line is added for a report that does not exist."""
    import errno
    import os

    out, hist = tmp_path / "out", tmp_path / "h.jsonl"
    build_report(synthetic_results(date="2026-11-22", seed=3), out, hist)
    before, history_before = _snapshot(out), hist.read_text()

    real_fsync = os.fsync

    def full_disk_at_index(fd: int) -> None:
        # fault injection at the OS boundary (not a mock of the report): every write path fsyncs its file
        if os.readlink(f"/proc/self/fd/{fd}").endswith("index.html") or ".index.html." in os.readlink(
            f"/proc/self/fd/{fd}"
        ):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk_at_index)
    with pytest.raises(OSError, match="No space left"):
        build_report(results, out, hist)
    monkeypatch.undo()
    assert _snapshot(out) == before
    assert hist.read_text() == history_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.jsonl", "out"]  # no staging left behind


def test_results_json_and_page_are_published_together(results: dict, tmp_path: Path) -> None:
    out, hist = tmp_path / "out", tmp_path / "h.jsonl"
    build_report(synthetic_results(date="2026-11-22", seed=3), out, hist)
    stale = out / "img" / "stale.png"
    stale.write_bytes(b"left over from an older report")
    build_report(results, out, hist)
    data = json.loads((out / "results.json").read_text())
    assert data["date"] == "2026-11-23" and "2026-11-23" in (out / "index.html").read_text()
    assert not stale.exists()  # the directory is replaced whole, not overwritten file by file
    assert len(hist.read_text().splitlines()) == 2


def test_out_naming_a_file_or_foreign_directory_is_refused(results: dict, tmp_path: Path) -> None:
    from snnval.errors import SpecError

    target = tmp_path / "page.html"
    target.write_text("x")
    with pytest.raises(SpecError, match="a directory, got an existing file"):
        build_report(results, target, tmp_path / "h.jsonl")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("keep")
    with pytest.raises(SpecError, match="earlier snnval report"):
        build_report(results, tmp_path / "data", tmp_path / "h.jsonl")
    assert (tmp_path / "data" / "notes.txt").read_text() == "keep" and not (tmp_path / "h.jsonl").exists()


def test_typed_results_round_trip(results: dict) -> None:
    from snnval.report import NightResults

    night = NightResults.from_json(results)
    assert night.scenarios[1].figures.first_divergence.variable == "V_m"
    assert night.agreement[0].mcnemar.p == results["agreement"][0]["mcnemar"]["p"]
    assert night.to_json() == results


def test_agreement_pairs_must_name_computed_runners(results: dict) -> None:
    results["agreement"][0]["a"] = "ghost runner"
    with pytest.raises(ResultsSchemaError, match="a runner of accuracy") as info:
        validate_results(results)
    assert info.value.field == "agreement[0].a"


def test_a_cell_that_does_not_pass_must_say_why(results: dict) -> None:
    i = next(i for i, c in enumerate(results["scenarios"]) if c["status"] == "error")
    results["scenarios"][i]["reason"] = " "
    with pytest.raises(ResultsSchemaError, match="non-empty reason") as info:
        validate_results(results)
    assert info.value.field == f"scenarios[{i}].reason"
