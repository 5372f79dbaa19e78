"""The report renders from a real run (the sample run) and is one self-contained HTML file."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lab.analysis import load_runs
from lab.analysis.report import build_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class References(HTMLParser):
    """Every attribute of the page that could fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.external: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            value = value or ""
            if tag == "img" and name == "src":
                self.images.append(value)
                if not value.startswith("data:image/png;base64,"):
                    self.external.append((tag, name, value))
            elif name in ("src", "href", "srcset", "action", "poster", "data") and not value.startswith("#"):
                self.external.append((tag, name, value))
        if tag in ("link", "script", "iframe", "object", "embed"):
            self.external.append((tag, "", ""))


def test_sample_run_loads(sample_run: Path) -> None:
    runs = load_runs([sample_run, sample_run])
    assert runs.names == [sample_run.name, f"{sample_run.name}#2"]  # the same folder twice stays apart
    assert set(runs.trials["run"]) == set(runs.names)
    assert len(runs.trials) == 2 * len(load_runs([sample_run]).trials)
    info = json.loads((sample_run / "run.json").read_text())
    assert runs.meta.iloc[0]["seed"] == info["seed"]
    assert runs.meta.iloc[0]["git_revision"] == info["git"]["revision"]
    assert {"fault", "media_rx", "trial_end"} <= set(runs.events["kind"])
    assert runs.events["run"].notna().all()


def test_report_is_self_contained(sample_run: Path, tmp_path: Path) -> None:
    result = build_report([sample_run], tmp_path / "out" / "report.html", n_resamples=300)
    page = result.path.read_text(encoding="utf-8")
    refs = References()
    refs.feed(page)
    assert refs.external == []
    assert "url(" not in page and "@import" not in page
    assert len(refs.images) == len(result.figures) >= 4  # ECDF, phases, gap vs RTT, a timeline
    for embedded, beside in zip(refs.images, result.figures, strict=False):
        assert beside.parent == result.path.parent and beside.suffix == ".png"
        data = base64.b64decode(embedded.split(",", 1)[1])
        assert data.startswith(PNG_MAGIC) and data == beside.read_bytes()
    info = json.loads((sample_run / "run.json").read_text())
    for expected in ("Reading", "Recovery per condition and policy", info["git"]["revision"][:12],
                     info["spec_hash"], info["versions"]["aiortc"], "300 resamples"):
        assert expected in page
    assert result.trials == len(load_runs([sample_run]).trials)


def test_report_is_deterministic(sample_run: Path, tmp_path: Path) -> None:
    first = build_report([sample_run], tmp_path / "a.html", n_resamples=200)
    second = build_report([sample_run], tmp_path / "b.html", n_resamples=200)
    strip = lambda text: text.split("generated", 1)[1].split("</p>", 1)[1]  # noqa: E731
    tables = lambda path: strip(path.read_text()).split("<h2>Figures</h2>")[0]  # noqa: E731
    assert tables(first.path) == tables(second.path)


def test_cli_report(sample_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    done = subprocess.run([sys.executable, "-m", "lab", "report", str(sample_run), "--out", str(out),
                           "--resamples", "200"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout and out.is_file()


@pytest.mark.parametrize("args, code, message", [
    (["/nonexistent/run"], 2, "no such run folder"),
    (["{tmp}"], 1, "not a run folder"),
    (["{run}", "--out", "{tmp}/report.txt"], 2, "ending in .html"),
])
def test_cli_report_bad_input(args: list[str], code: int, message: str, sample_run: Path, tmp_path: Path) -> None:
    argv = [a.format(tmp=tmp_path, run=sample_run) for a in args]
    done = subprocess.run([sys.executable, "-m", "lab", "report", *argv], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_newest_run_is_the_last_written(tmp_path: Path) -> None:
    import os

    from lab.analysis import newest_run

    assert newest_run(tmp_path / "none") is None
    for i, name in enumerate(["b-old", "a-new"]):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text("{}")
        os.utime(tmp_path / name / "run.json", (1000 + i, 1000 + i))
    (tmp_path / "not-a-run").mkdir()
    assert newest_run(tmp_path) == tmp_path / "a-new"


def test_runs_of_one_experiment_with_different_specs_stay_apart(sample_run: Path, tmp_path: Path) -> None:
    import shutil

    changed = tmp_path / "changed"
    shutil.copytree(sample_run, changed)
    info = json.loads((changed / "run.json").read_text())
    info["spec_hash"] = "0123456789abcdef"
    (changed / "run.json").write_text(json.dumps(info))
    same = load_runs([sample_run, sample_run])
    assert same.trials["experiment"].nunique() == 1  # one spec: pooled
    apart = load_runs([sample_run, changed])
    assert apart.trials.groupby("run")["experiment"].first()["changed"] == f"{info['experiment']} (01234567)"
    assert apart.trials["experiment"].nunique() == 2


def test_a_run_cut_short_is_read_from_its_trial_files(sample_run: Path, tmp_path: Path) -> None:
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(sample_run, partial)
    for name in ("trials.parquet", "trials.csv", "events.parquet"):
        (partial / name).unlink()  # as after a crash before the first consolidation
    for result in sorted(partial.glob("trials/*/result.json"))[4:]:
        shutil.rmtree(result.parent)  # trials not reached
    runs = load_runs([partial])
    assert len(runs.trials) == 4
    assert set(runs.events["trial_id"]) == set(runs.trials["trial_id"])
    assert build_report([partial], n_resamples=100).path == partial / "report.html"


def test_a_run_where_nothing_recovered_still_reports(sample_run: Path, tmp_path: Path) -> None:
    import shutil

    failed = tmp_path / "failed"
    shutil.copytree(sample_run, failed)
    for name in ("trials.parquet", "trials.csv", "events.parquet"):
        (failed / name).unlink()
    for result in failed.glob("trials/*/result.json"):
        row = json.loads(result.read_text())
        row.update(recovered=False, status="failed", failure_reason="media did not flow both ways", media_gap_ms=None)
        result.write_text(json.dumps(row))
        (result.parent / "events.parquet").unlink()  # a trial that failed at set-up may have none
    page = build_report([failed], n_resamples=100).path.read_text()
    assert "no policy recovered in any trial" in page
    assert "media did not flow both ways" in page


def test_report_puts_peer_kinds_side_by_side(sample_run: Path, tmp_path: Path) -> None:
    # Half the sample's trials relabelled as a Chromium answerer on a copy: this checks the
    # rendering of the section, not a measurement (tests/browsers runs real Chromium trials).
    import shutil

    mixed = tmp_path / "mixed"
    shutil.copytree(sample_run, mixed)
    for name in ("trials.parquet", "trials.csv", "events.parquet"):
        (mixed / name).unlink()
    for i, result in enumerate(sorted(mixed.glob("trials/*/result.json"))):
        if i % 2:
            row = json.loads(result.read_text())
            row.update(peer_kind="aiortc-chromium", answerer_kind="chromium", browser_state="warm")
            result.write_text(json.dumps(row))
    page = build_report([mixed], n_resamples=100).path.read_text()
    assert "Peer kinds side by side" in page
    assert ">browser<" in page and ">warm<" in page  # the browser state column
    assert "aiortc-chromium: recovered, median gap" in page
    plain = build_report([sample_run], tmp_path / "plain.html", n_resamples=100).path.read_text()
    assert "Peer kinds side by side" not in plain
    assert ">browser<" not in plain  # no browser peer: no column


def test_report_compares_engines_and_marks_stand_ins(sample_run: Path, tmp_path: Path) -> None:
    # Relabelled copies again (rendering, not measurement: tests/browsers runs real Firefox trials):
    # odd trials with a Firefox answerer, even ones with a chrome stand-in as offerer.
    import shutil

    mixed = tmp_path / "engines"
    shutil.copytree(sample_run, mixed)
    for name in ("trials.parquet", "trials.csv", "events.parquet"):
        (mixed / name).unlink()
    for i, result in enumerate(sorted(mixed.glob("trials/*/result.json"))):
        row = json.loads(result.read_text())
        if i % 2:
            row.update(peer_kind="aiortc-firefox", answerer_kind="firefox")
        else:
            row.update(peer_kind="aiortc~chrome-aiortc", offerer_kind="aiortc~chrome")
        result.write_text(json.dumps(row))
    page = build_report([mixed], n_resamples=100).path.read_text()
    assert "Engines side by side" in page
    assert "firefox" in page and "aiortc~chrome <span class='muted'>(stand-in" in page


def test_report_shows_paths_small_samples_and_captured_packets(sample_run: Path, tmp_path: Path) -> None:
    # A capture is written for the representative trials of a copy of the sample run, from the
    # receiving agents' own media_rx (this tests the rendering; tests/experiment/test_run_e2e.py
    # checks a real tcpdump capture against the agents).
    import shutil

    from lab.analysis import plots
    from tests.experiment.test_pcap import rtp, udp_frame, write_pcap

    copy = tmp_path / "captured"
    shutil.copytree(sample_run, copy)
    runs = load_runs([copy])
    for _, trial in plots.representative_trials(runs.trials).iterrows():
        events = runs.trial_events(trial["run"], trial["trial_id"])
        rx = events[(events["kind"] == "media_rx") & (events["peer"] == "answerer")]
        frames = [(float(t) + 1.7e9, udp_frame("10.0.0.1", 5000, "10.0.0.2", 6000, rtp(int(q), int(s))))
                  for t, q, s in zip(rx["t_monotonic"], rx["seq"], rx["ssrc"], strict=False)]
        write_pcap(copy / "trials" / trial["trial_id"] / "capture-peer.pcap", frames)
    result = build_report([copy], n_resamples=100)
    page = result.path.read_text()
    assert "resumed on new pair / old path" in page and "n too small" in page
    assert "'disconnected' → media (ms)" in page and "'failed' → media (ms)" in page
    packets = [p for p in result.figures if "-packets-" in p.name]
    assert len(packets) == len(plots.representative_trials(runs.trials))
