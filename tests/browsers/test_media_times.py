"""A browser's media_rx times against tcpdump at the same host, for each browser kind: the
receiveTime of each RTP packet (Chromium: the page's RTP receive times; Firefox:
RTCRtpScriptTransform metadata, moved from the worker's timeline onto the page's), mapped onto
CLOCK_MONOTONIC. Every packet lands within a few ms of the wire and the media gap within 5 ms."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.experiment.short_blackhole import ROOT, short_blackhole

pytestmark = pytest.mark.usefixtures("no_leftovers")

NAMES = {"chromium": "Chromium", "firefox": "Firefox"}


def test_media_times_match_a_capture(kind: str, tmp_path: Path) -> None:
    from lab.experiment.metrics import direction_metrics
    from lab.experiment.pcap import rtp_arrivals

    experiment = tmp_path / "exp.toml"
    experiment.write_text(short_blackhole(f"{kind}_capture", seed=4, answerer_kind=kind, capture=["bob"],
                                          connect_s=60, recover_s=30, settle_s=1))
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(experiment), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    row = pd.read_parquet(out / "trials.parquet").iloc[0]
    assert row["peer_kind"] == f"aiortc-{kind}" and bool(row["recovered"]), row.to_dict()
    # a gap that starts with the last unit before the fault: media from aiortc had RTP sequence
    # numbers that the browser reports as they were on the wire (matched with media_tx)
    assert row["units_lost"] >= 50, row["units_lost"]

    events = pd.read_parquet(out / "events.parquet")
    rx = events[(events["peer"] == "answerer") & (events["kind"] == "media_rx")]
    assert '"clock"' not in "".join(rx["detail"].dropna().head(50))  # receiveTime, not the transform's time
    wire = rtp_arrivals(out / "trials" / row["trial_id"] / "capture-bob.pcap")
    joined = rx.merge(wire, on=["ssrc", "seq"], how="inner")
    assert len(joined) > 0.8 * len(rx), (len(joined), len(rx))
    # the capture's clock is CLOCK_REALTIME: move it onto CLOCK_MONOTONIC (no clock step meanwhile)
    realtime_minus_monotonic = time.time() - time.monotonic()
    lag_ms = (joined["t_monotonic"] - (joined["t_capture"] - realtime_minus_monotonic)) * 1000.0
    print(f"{NAMES[kind]} receive time - capture time: median {lag_ms.median():.2f} ms, "
          f"p99 {lag_ms.quantile(0.99):.2f} ms, min {lag_ms.min():.2f} ms")
    assert -3.0 < lag_ms.median() < 5.0, lag_ms.describe()

    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
    t_end = float(events.loc[events["kind"] == "trial_end", "t_monotonic"].max())
    d = direction_metrics(events, "answerer", t_fault, t_end, None)
    # a browser may report several units with one receive time: the gap runs from the last of
    # those on the wire at its start to the first of those at its end
    at = joined.groupby("t_monotonic")["t_capture"]
    wire_gap = (at.min()[d.t_media_resumed] - at.max()[d.t_gap_start]) * 1000.0
    print(f"media gap at {NAMES[kind]} {d.media_gap_ms:.1f} ms, on the wire {wire_gap:.1f} ms")
    assert abs(d.media_gap_ms - wire_gap) <= 5.0, (d.media_gap_ms, wire_gap)
