"""Figures of recovery latency (matplotlib, Agg backend: no screen needed).

Every function returns a matplotlib Figure; `save(fig, path)` writes a PNG (and closes it). Colours follow the
policies' order in the experiment, the same in every figure.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

# Agg (files, no screen) everywhere but in a notebook, whose kernel picks its inline backend.
if not any(name in os.environ.get("MPLBACKEND", "") for name in ("inline", "ipympl", "widget")):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from lab.analysis.summary import (  # noqa: E402
    CONDITION,
    DEFAULTS,
    GAP,
    PHASE_LABELS,
    PHASES,
    interrupted_only,
    policy_order,
    with_defaults,
)

DPI = 110
PHASE_COLOURS = {
    "detection": "#9e9e9e", "decision": "#f2b134", "signaling": "#4c8bd6",
    "gathering": "#7fb3e8", "checks": "#8f6bc2", "first_media": "#3aa17e", "old_path": "#c7a27c",
    "no_restart": "#d9d9d9", "path_unknown": "#f0f0f0",
}
STATE_COLOURS = {
    "new": "#e0e0e0", "connecting": "#b9d4f0", "checking": "#b9d4f0", "connected": "#5cb85c",
    "completed": "#5cb85c", "disconnected": "#f0ad4e", "failed": "#d9534f", "closed": "#555555",
}
# kind -> (marker, colour, legend label, vertical offset inside the lane)
MARKERS = {
    "restart": ("*", "#d62728", "restart call", 0.22),
    "network_change": ("^", "#8c564b", "network change", 0.22),
    "pc_replaced": ("P", "#e377c2", "new RTCPeerConnection", -0.22),
    "offer_sent": (">", "#1f77b4", "offer sent", 0.0),
    "offer_received": ("o", "#1f77b4", "offer applied", 0.0),
    "answer_sent": ("<", "#ff7f0e", "answer sent", 0.0),
    "answer_received": ("s", "#ff7f0e", "answer applied", 0.0),
    "selected_pair": ("D", "#2ca02c", "new selected pair", -0.22),
}
PEER_ROLES = ("offerer", "answerer")


def policy_colours(trials: pd.DataFrame) -> dict[str, str]:
    tab10 = plt.get_cmap("tab10")
    cycle = [tab10(i) for i in range(tab10.N)]
    return {p: matplotlib.colors.to_hex(cycle[i % len(cycle)]) for i, p in enumerate(policy_order(trials))}


def save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


def condition_label(key: Sequence[object] | Mapping[str, object], multi_experiment: bool = False) -> str:
    """'fault, RTT x ms' (+ loss, non-aiortc peers, non-netns runtime, experiment when several)."""
    values = dict(key) if isinstance(key, Mapping) else dict(zip(CONDITION, key, strict=False))
    text = f"{values.get('fault')}"
    if values.get("path", DEFAULTS["path"]) != DEFAULTS["path"]:
        text += f", through the {str(values['path']).upper()}"
    if values.get("peer_kind", DEFAULTS["peer_kind"]) != DEFAULTS["peer_kind"]:
        text += f", {values['peer_kind']} peers"
    if values.get("browser_state", DEFAULTS["browser_state"]) != DEFAULTS["browser_state"]:
        text += f", {values['browser_state']} browser"
    if values.get("runtime", DEFAULTS["runtime"]) != DEFAULTS["runtime"]:
        text += f", {values['runtime']}"
    if "rtt_ms" in values:
        text += f", RTT {float(values['rtt_ms']):g} ms"  # type: ignore[arg-type]
    if float(values.get("loss_pct") or 0.0):  # type: ignore[arg-type]
        text += f", loss {float(values['loss_pct']):g} %"  # type: ignore[arg-type]
    if multi_experiment:
        text = f"{values.get('experiment')}: {text}"
    return text


def _conditions(trials: pd.DataFrame) -> list[tuple[tuple[object, ...], pd.DataFrame]]:
    return [(key, group) for key, group in trials.groupby(CONDITION, sort=True, dropna=False)]


def _grid(count: int, width: float = 6.0, height: float = 3.8) -> tuple[Figure, np.ndarray]:
    cols = 1 if count == 1 else 2
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[count:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def _no_data(message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


# ---------------------------------------------------------------- ECDF


def gap_ecdf(trials: pd.DataFrame, by: str | None = None) -> Figure:
    """ECDF of the media gap per policy, one panel per condition. The curve is over all trials,
    so it levels off at the fraction that recovered. `by` (e.g. "host", "worker"): one curve per
    policy and value of that column (line style per value), to show effects of the machine. Trials
    the fault did not interrupt measured no recovery and are left out."""
    trials = interrupted_only(with_defaults(trials))
    splits: list[object] = [None]
    if by is not None and by in trials:
        splits = sorted(trials[by].dropna().unique().tolist(), key=str)
    styles = ["-", "--", ":", "-."]
    colours = policy_colours(trials)
    conditions = _conditions(trials)
    if not conditions:
        return _no_data("no trials")
    multi = trials["experiment"].nunique() > 1
    fig, axes = _grid(len(conditions))
    for ax, (key, group) in zip(axes, conditions, strict=False):
        top = 0.0
        for policy, (i, value) in itertools.product(policy_order(group), enumerate(splits)):
            rows = group[group["policy"] == policy]
            if value is not None:
                rows = rows[rows[by] == value]
                if not len(rows):
                    continue
            gaps = np.sort(rows.loc[rows["recovered"], GAP].dropna().to_numpy(dtype=float)) / 1000.0
            n = len(rows)
            label = f"{policy}{'' if value is None else f' @ {value}'} (n={n}, {len(gaps)} recovered)"
            style = styles[i % len(styles)] if value is not None else "-"
            if len(gaps):
                y = np.arange(1, len(gaps) + 1) / n
                xs = np.concatenate([[0.0], np.repeat(gaps, 2)])
                ys = np.concatenate([[0.0, 0.0], np.repeat(y, 2)[:-1]])
                ax.plot(xs, ys, color=colours[policy], lw=2, ls=style, label=label, drawstyle="default")
                top = max(top, float(gaps.max()))
            else:
                ax.plot([], [], color=colours[policy], lw=2, ls=":", label=label)
        ax.set_xlim(0, top * 1.08 + 0.1 if top else 1.0)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("media gap (s): last unit before the fault → first after")
        ax.set_ylabel("fraction of trials with gap ≤ x")
        ax.set_title(condition_label(key, multi), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Media gap per restart policy" + (f" and {by}" if by else "")
                 + " (ECDF; trials that never recovered keep the curve below 1)", fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- phases


def phase_bars(summary: pd.DataFrame) -> Figure:
    """Stacked bars of the recovery phases (means over recovered trials, so the segments add up
    to the mean recovery time), one panel per condition, one bar per policy."""
    summary = summary[summary["recovered"] > 0]
    if not len(summary):
        return _no_data("no trial recovered: no recovery to split into phases")
    conditions = [(k, g) for k, g in summary.groupby(CONDITION, sort=True, dropna=False)]
    multi = summary["experiment"].nunique() > 1
    most = max(len(g) for _, g in conditions)
    fig, axes = _grid(len(conditions), width=7.0, height=1.2 + 0.55 * most)
    for ax, (key, group) in zip(axes, conditions, strict=False):
        group = group.iloc[::-1]  # first policy on top
        labels = [f"{p}\n(n={int(r)}/{int(n)} rec.)" for p, r, n in
                  zip(group["policy"], group["recovered"], group["n"], strict=False)]
        left = np.zeros(len(group))
        for phase in PHASES:
            width = group[f"{phase}_mean"].fillna(0.0).to_numpy() / 1000.0
            ax.barh(labels, width, left=left, color=PHASE_COLOURS[phase], edgecolor="white", height=0.6)
            left += width
        for y, total in enumerate(left):
            ax.text(total, y, f" {total:.2f} s", va="center", fontsize=8)
        ax.set_xlim(0, max(left.max() * 1.18, 0.1))
        ax.set_xlabel("mean time from the fault (s)")
        ax.set_title(condition_label(key, multi), fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    handles = [Patch(color=PHASE_COLOURS[p], label=PHASE_LABELS[p]) for p in PHASES]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("Where the recovery time goes (fault → media resumed at both peers)", fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


# ---------------------------------------------------------------- gap vs RTT


def gap_vs_rtt(trials: pd.DataFrame) -> Figure:
    """Media gap against the RTT of the matrix, per policy: trials as dots, medians joined by a
    line; trials that never recovered are drawn as x at the top of the panel (trials the fault did
    not interrupt are left out)."""
    trials = interrupted_only(with_defaults(trials))
    colours = policy_colours(trials)
    panel_keys = [c for c in CONDITION if c != "rtt_ms"]
    panels = [(k, g) for k, g in trials.groupby(panel_keys, sort=True, dropna=False)]
    if not panels:
        return _no_data("no trials")
    multi = trials["experiment"].nunique() > 1
    fig, axes = _grid(len(panels))
    for ax, (key, group) in zip(axes, panels, strict=False):
        policies = policy_order(group)
        rtts = sorted(group["rtt_ms"].unique())
        spacing = float(np.min(np.diff(rtts))) if len(rtts) > 1 else 10.0
        offsets = np.linspace(-0.15, 0.15, len(policies)) * spacing if len(policies) > 1 else [0.0]
        recovered_gaps = group.loc[group["recovered"], GAP].dropna() / 1000.0
        ceiling = float(recovered_gaps.max()) * 1.15 + 0.1 if len(recovered_gaps) else 1.0
        for policy, offset in zip(policies, offsets, strict=False):
            rows = group[group["policy"] == policy]
            ok = rows[rows["recovered"]]
            ax.scatter(ok["rtt_ms"] + offset, ok[GAP] / 1000.0, color=colours[policy], s=22, alpha=0.7,
                       label=f"{policy}")
            failed = rows[~rows["recovered"]]
            if len(failed):
                ax.scatter(failed["rtt_ms"] + offset, np.full(len(failed), ceiling), marker="x",
                           color=colours[policy], s=40)
            medians = ok.groupby("rtt_ms")[GAP].median() / 1000.0
            if len(medians):
                ax.plot(medians.index + offset, medians.to_numpy(), color=colours[policy], lw=1.5)
        ax.axhline(ceiling, color="#999999", lw=0.6, ls="--")
        ax.set_xlim(min(rtts) - 0.6 * spacing, max(rtts) + 0.6 * spacing)
        ax.text(1.0, ceiling, "not recovered (x) ", transform=ax.get_yaxis_transform(), ha="right",
                fontsize=7, va="bottom", color="#666666")
        ax.set_ylim(0, ceiling * 1.08)
        ax.set_xticks(rtts)
        ax.set_xlabel("RTT between the peers (ms)")
        ax.set_ylabel("media gap (s)")
        ax.set_title(condition_label(dict(zip(panel_keys, key, strict=False)), multi), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle("Media gap against RTT (dots: trials, policies side by side at each RTT; lines: medians)", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- swimlane


def _detail(value: object) -> dict[str, object]:
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
            return parsed if isinstance(parsed, dict) else {}
        except ValueError:
            return {}
    return {}


def swimlane(events: pd.DataFrame, trial: pd.Series | None = None, *, before_s: float = 2.0,
             after_s: float = 1.5) -> Figure:
    """One trial as a timeline: per peer its ICE connection state, its restart / offer / answer /
    selected-pair events, and the media units it received; the fault shaded; time 0 = fault."""
    faults = events[events["kind"] == "fault"]
    if not len(faults):
        return _no_data("this trial has no fault event")
    t0 = float(faults["t_monotonic"].min())
    rel = events.assign(t=events["t_monotonic"] - t0)
    ends = rel.loc[rel["kind"] == "trial_end", "t"]
    t_end = float(ends.max()) if len(ends) else float(rel["t"].max())
    resumed = math.nan
    if trial is not None and pd.notna(trial.get("t_media_resumed")):
        resumed = float(trial["t_media_resumed"]) - t0
    right = min(t_end, (resumed if math.isfinite(resumed) else t_end) + after_s)
    left = -before_s

    lanes: list[tuple[str, str, str]] = []  # (peer, lane kind, label)
    for peer in PEER_ROLES:
        lanes += [(peer, "state", f"{peer}\nICE state"), (peer, "events", f"{peer}\nsignaling/ICE"),
                  (peer, "media", f"{peer}\nmedia received")]
    fig, ax = plt.subplots(figsize=(11, 0.55 * len(lanes) + 1.9))
    y_of = {(peer, kind): len(lanes) - 1 - i for i, (peer, kind, _) in enumerate(lanes)}

    # fault window
    lifted = rel.loc[rel["kind"].isin(["fault_end"]), "t"]
    fault_to = float(lifted.min()) if len(lifted) else right
    ax.axvspan(0, fault_to, color="#d9534f", alpha=0.08, lw=0)
    ax.axvline(0, color="#d9534f", lw=1.2)
    fault_type = _detail(faults["detail"].iloc[0]).get("type", "fault")
    ax.text(0, len(lanes) - 0.35, f" {fault_type}", color="#d9534f", fontsize=8, va="bottom")
    for _, step in rel[rel["kind"] == "fault_step"].iterrows():
        ax.axvline(step["t"], color="#d9534f", lw=0.8, ls=":")
    if len(lifted):
        ax.axvline(fault_to, color="#d9534f", lw=0.8, ls="--")
        ax.text(fault_to, len(lanes) - 0.35, " fault lifted", color="#d9534f", fontsize=8, va="bottom")

    used_markers: set[str] = set()
    for peer in PEER_ROLES:
        mine = rel[rel["peer"] == peer].sort_values("t")
        # iceConnectionState as coloured segments (connectionState if the peer reported none)
        states = mine[mine["kind"] == "ice_state"]
        if not len(states):
            states = mine[mine["kind"] == "connection_state"]
        y = y_of[(peer, "state")]
        times = states["t"].tolist() + [t_end]
        for (t_a, t_b, state) in zip(times[:-1], times[1:], states["state"].tolist(), strict=False):
            a, b = max(t_a, left), min(t_b, right)
            if b <= a:
                continue
            ax.barh(y, b - a, left=a, height=0.6, color=STATE_COLOURS.get(str(state), "#cccccc"), lw=0)
        # signaling / ICE events as markers
        y = y_of[(peer, "events")]
        for kind, (marker, colour, _, offset) in MARKERS.items():
            hits = mine[(mine["kind"] == kind) & (mine["t"] >= left) & (mine["t"] <= right)]
            if len(hits):
                used_markers.add(kind)
                ax.scatter(hits["t"], np.full(len(hits), y + offset), marker=marker, color=colour, s=50,
                           zorder=3, edgecolor="black", linewidth=0.4)
        # media arrivals as ticks
        y = y_of[(peer, "media")]
        rx = mine[(mine["kind"] == "media_rx") & (mine["t"] >= left) & (mine["t"] <= right)]["t"]
        ax.vlines(rx, y - 0.3, y + 0.3, color="#333333", lw=0.6)

    if math.isfinite(resumed):
        ax.axvline(resumed, color="#3aa17e", lw=1.2, ls="--")
        ax.text(resumed, -0.75, " media resumed", color="#3aa17e", fontsize=8, va="top")
    ax.set_yticks([y_of[(p, k)] for p, k, _ in lanes], [label for _, _, label in lanes], fontsize=8)
    ax.set_ylim(-1.0, len(lanes) - 0.1)
    ax.set_xlim(left, right)
    ax.set_xlabel("time since the fault (s)")
    for boundary in range(3, len(lanes), 3):
        ax.axhline(boundary - 0.5, color="#999999", lw=0.6)
    ax.grid(axis="x", alpha=0.3)

    state_labels = {"checking": "checking", "connected": "connected/completed", "disconnected": "disconnected",
                    "failed": "failed", "closed": "closed"}
    state_handles = [Patch(color=STATE_COLOURS[s], label=label) for s, label in state_labels.items()]
    marker_handles = [Line2D([], [], marker=MARKERS[k][0], color=MARKERS[k][1], ls="", markeredgecolor="black",
                             markeredgewidth=0.4, label=MARKERS[k][2]) for k in MARKERS if k in used_markers]
    media_handle = [Line2D([], [], marker="|", color="#333333", ls="", label="media unit received")]
    ax.legend(handles=state_handles + marker_handles + media_handle, fontsize=7, ncol=1,
              loc="upper left", bbox_to_anchor=(1.005, 1.0), title="ICE state / event", title_fontsize=7)
    title = "trial timeline"
    if trial is not None:
        gap = trial.get(GAP)
        gap_text = f"media gap {float(gap):.0f} ms" if pd.notna(gap) else "not recovered"
        resumed_on = trial.get("resumed_on")
        if isinstance(resumed_on, str) and resumed_on != "none":
            where = {"new-pair": "the new pair", "old-path": "the old path"}.get(resumed_on, "an unknown path")
            gap_text += f", media back on {where}"
        title = f"{trial.get('trial_id')}: policy {trial.get('policy')}, {gap_text}"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def representative_trials(trials: pd.DataFrame, per_policy: int = 1) -> pd.DataFrame:
    """For each policy, the trial(s) whose media gap is closest to the policy's median (a trial
    that never recovered when none did), among the trials the fault interrupted."""
    trials = interrupted_only(trials)
    chosen = []
    for policy in policy_order(trials):
        rows = trials[trials["policy"] == policy]
        ok = rows[rows["recovered"] & rows[GAP].notna()]
        if len(ok):
            distance = (ok[GAP] - ok[GAP].median()).abs()
            chosen.append(ok.loc[distance.sort_values(kind="stable").index[:per_policy]])
        else:
            chosen.append(rows.head(per_policy))
    return pd.concat(chosen) if chosen else trials.head(0)


# ---------------------------------------------------------------- comparison


def comparison_forest(comparison: pd.DataFrame) -> Figure:
    """Difference of median media gaps (variant - baseline) with 95 % CIs, one row per variant
    and condition: left of zero, the variant resumed media sooner."""
    if not len(comparison):
        return _no_data("nothing to compare (no baseline policy, or no variant under the same condition)")
    comparison = comparison.reset_index(drop=True)
    multi = comparison["experiment"].nunique() > 1
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(comparison) + 1.6))
    labels = []
    for i, row in comparison.iloc[::-1].reset_index(drop=True).iterrows():
        key = {c: row[c] for c in CONDITION}
        labels.append(f"{row['variant']} vs {row['baseline']}\n{condition_label(key, multi)}")
        value, lo, hi = (row["diff_median"] / 1000.0, row["diff_median_lo"] / 1000.0, row["diff_median_hi"] / 1000.0)
        if pd.notna(value):
            ax.errorbar(value, i, xerr=[[value - lo], [hi - value]], fmt="o", color="#1f77b4", capsize=4)
            ax.text(hi, i, f"  {value:+.2f} s  (n={int(row['n_variant'])}/{int(row['n_baseline'])})",
                    va="center", fontsize=8)
        else:
            ax.text(0, i, "  no recovered trials to compare", va="center", fontsize=8)
    ax.axvline(0, color="#555555", lw=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    low, high = ax.get_xlim()
    ax.set_xlim(low, high + (high - low) * 0.35)
    ax.set_xlabel("difference of median media gaps, variant − baseline (s); < 0: variant faster")
    ax.set_title("Effect of the restart policy (BCa bootstrap 95 % CI; none drawn below 5 trials each)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


PACKET_COLOURS = {"stun": "#8f6bc2", "dtls": "#d62728", "rtp": "#555555", "rtcp": "#aaaaaa",
                  "turn-channel": "#ff7f0e", "signaling": "#1f77b4", "other": "#cccccc"}
PACKET_LABELS = {"stun": "STUN (checks, binding)", "dtls": "DTLS", "rtp": "RTP (media)", "rtcp": "RTCP",
                 "turn-channel": "TURN channel data", "signaling": "signaling (TCP)", "other": "other"}
MAX_PACKET_LANES = 14


def packet_swimlane(packets: pd.DataFrame, events: pd.DataFrame, trial: pd.Series | None = None, *,
                    before_s: float = 1.0, after_s: float = 1.5) -> Figure:
    """A trial's packets from its captures (lab.experiment.pcap.trial_packets): one lane per path
    (address:port pair, both directions, as seen where it was captured), markers by kind, time 0 =
    the fault; the restart calls and the media resumption drawn across. Each datagram is drawn once,
    where it was last captured (its arrival); a datagram no other host saw (lost on the way, e.g.
    into a blackhole) is drawn faint."""
    faults = events[events["kind"] == "fault"]
    if not len(faults) or not len(packets) or packets["t_monotonic"].isna().all():
        return _no_data("no packets captured (run with --capture)")
    t0 = float(faults["t_monotonic"].min())
    seen_at = packets.groupby("digest")["host"].nunique()
    table = packets.drop_duplicates("digest", keep="last").copy()  # one copy of each datagram: its arrival
    table["delivered"] = table["digest"].map(seen_at).to_numpy() > 1
    table["t"] = table["t_monotonic"] - t0
    resumed = float(trial["t_media_resumed"]) - t0 if trial is not None and pd.notna(trial.get("t_media_resumed")) \
        else math.nan
    ends = events.loc[events["kind"] == "trial_end", "t_monotonic"]
    t_end = float(ends.max()) - t0 if len(ends) else float(table["t"].max())
    right = min(t_end, (resumed if math.isfinite(resumed) else t_end) + after_s)
    table = table[(table["t"] >= -before_s) & (table["t"] <= right)]
    ends_a = table["src"] + ":" + table["sport"].astype(str)
    ends_b = table["dst"] + ":" + table["dport"].astype(str)
    table["path"] = [" ↔ ".join(sorted((a, b))) + f" @{h}" for a, b, h in zip(ends_a, ends_b, table["host"], strict=False)]
    # the busiest paths (media first, then checks), in the order they appeared
    weight = table.assign(w=table["kind"].map({"rtp": 1.0, "stun": 5.0, "dtls": 5.0}).fillna(0.5))
    busiest = weight.groupby("path").agg(weight=("w", "sum"), first=("t", "min"))
    paths = busiest.nlargest(MAX_PACKET_LANES, "weight").sort_values("first").index.tolist()
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(paths) + 2.0))
    y_of = {p: len(paths) - 1 - i for i, p in enumerate(paths)}
    used = set()
    lost_drawn = False
    for kind, colour in PACKET_COLOURS.items():
        for delivered in (True, False):
            hits = table[(table["kind"] == kind) & table["path"].isin(paths) & (table["delivered"] == delivered)]
            if not len(hits):
                continue
            used.add(kind)
            lost_drawn |= not delivered
            y = hits["path"].map(y_of).to_numpy(dtype=float)
            offset = {"stun": 0.22, "dtls": 0.0, "signaling": 0.0, "rtp": -0.18, "rtcp": -0.18}.get(kind, 0.1)
            marker = "|" if kind in ("rtp", "rtcp") else "o"
            ax.scatter(hits["t"], y + offset, marker=marker, s=14 if marker == "o" else 30, color=colour, lw=0.8,
                       zorder=3, alpha=1.0 if delivered else 0.2)
    ax.axvline(0, color="#d9534f", lw=1.2)
    for _, row in events[events["kind"].isin(["fault_end", "fault_step"])].iterrows():
        ax.axvline(float(row["t_monotonic"]) - t0, color="#d9534f", lw=0.8, ls="--")
    for t in events.loc[events["kind"] == "restart", "t_monotonic"]:
        ax.axvline(float(t) - t0, color="#d62728", lw=0.8, ls=":")
    if math.isfinite(resumed):
        ax.axvline(resumed, color="#3aa17e", lw=1.2, ls="--")
    ax.set_yticks(list(y_of.values()), [p for p in y_of], fontsize=7)
    ax.set_ylim(-0.8, len(paths) - 0.2)
    ax.set_xlim(-before_s, right)
    ax.set_xlabel("time since the fault (s); red: fault and its end, dotted: restart calls, green: media resumed")
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], marker="o" if k not in ("rtp", "rtcp") else "|", color=PACKET_COLOURS[k], ls="",
                      label=PACKET_LABELS[k]) for k in PACKET_COLOURS if k in used]
    if lost_drawn:
        handles.append(Line2D([], [], marker="o", color="#555555", alpha=0.2, ls="",
                              label="faint: seen only where it was sent"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    title = "packets per path"
    if trial is not None:
        title = f"{trial.get('trial_id', '')}: {title}"
    ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    return fig
