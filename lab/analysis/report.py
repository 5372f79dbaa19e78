"""The HTML report of one or several runs: one self-contained file (figures embedded as base64
PNG, styles inline, no external reference), with the PNGs also written beside it."""

from __future__ import annotations

import base64
import html
import io
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from lab.analysis import plots, stats
from lab.analysis.load import Runs, load_runs
from lab.analysis.reading import reading
from lab.analysis.summary import (
    CONDITION,
    DEFAULTS,
    PHASE_LABELS,
    PHASES,
    compare_policies,
    interrupted_of,
    peer_kind_table,
    recovery_phases,
    summary_table,
)

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.55em; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; } td { white-space: nowrap; }
td.text { white-space: normal; } .wide { overflow-x: auto; }
.ci { color: #777; font-size: 0.9em; display: block; } .muted { color: #666; font-size: 0.9em; }
.reading p { background: #f7faff; border-left: 4px solid #4c8bd6; padding: 0.5em 0.8em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
"""


@dataclass
class ReportResult:
    path: Path
    figures: list[Path] = field(default_factory=list)
    seconds: float = math.nan
    trials: int = 0


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: object, digits: int = 0) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _e(value)
    return f"{number:.{digits}f}" if math.isfinite(number) else "–"


def _with_ci(value: object, lo: object, hi: object, digits: int = 0) -> str:
    if _num(value) == "–":
        return "–"
    if _num(lo) == "–" or _num(hi) == "–":
        return f"{_num(value, digits)} <span class='ci'>n too small</span>"
    return f"{_num(value, digits)} <span class='ci'>[{_num(lo, digits)}, {_num(hi, digits)}]</span>"


def _median_of(row: pd.Series, column: str) -> str:
    if f"{column}_median" not in row:
        return "–"
    return _with_ci(row[f"{column}_median"], row[f"{column}_lo"], row[f"{column}_hi"])


def _table(header: list[str], rows: list[list[str]], text_columns: int = 0) -> str:
    def cell(tag: str, i: int, content: str) -> str:
        cls = " class='text'" if i < text_columns else ""
        return f"<{tag}{cls}>{content}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=plots.DPI, bbox_inches="tight", facecolor="white")
    plots.plt.close(fig)
    return buffer.getvalue()


def meta_section(runs: Runs) -> str:
    """Provenance of each run, one column per run: what is needed to trust and rerun it."""
    fields = [("experiment", "experiment"), ("started (UTC)", "started"), ("spec hash", "spec_hash"),
              ("seed", "seed"), ("runtime", "runtime"), ("delay backend", "delay_backend"),
              ("kernel", "kernel"), ("aiortc", "version_aiortc"), ("aioice", "version_aioice"),
              ("coturn", "version_coturn"), ("python", "version_python"), ("icelab", "version_icelab"),
              ("folder", "path")]
    columns = []
    for _, m in runs.meta.iterrows():
        revision = str(m.get("git_revision") or "unknown")
        if m.get("git_dirty"):
            revision += " (with uncommitted changes)"
        planned = m.get("trials_planned")
        trials = f"{int(m['trials'])}" + (f" of {int(planned)} planned" if pd.notna(planned) and planned else "")
        values = {label: _e(m.get(key)) for label, key in fields}
        values["git revision"] = _e(revision)
        values["trials (recovered)"] = f"{trials} ({_e(m.get('recovered'))})"
        columns.append((str(m["run"]), values))
    labels = [label for label, _ in fields[:3]] + ["git revision", "trials (recovered)"] + \
        [label for label, _ in fields[3:]]
    header = ["run"] + [_e(name) for name, _ in columns]
    rows = [[label] + [values.get(label, "") for _, values in columns] for label in labels]
    return _table(header, rows, text_columns=len(header))


def _params(values: dict[str, object], skip: tuple[str, ...] = ()) -> str:
    return ", ".join(f"{k} = {v}" for k, v in values.items() if k not in skip and v is not None)


def experiment_section(runs: Runs) -> str:
    """What each run did, from the spec recorded in its run.json."""
    header = ["run", "description", "fault", "ICE failure detection", "policies", "matrix", "repetitions"]
    rows = []
    for name, info in runs.info.items():
        spec = info.get("spec") or {}
        fault = dict(spec.get("fault") or {})
        fault_text = f"<b>{_e(fault.pop('type', '?'))}</b>: {_e(_params(fault))}"
        ice = spec.get("ice") or {}
        detection = _params({k: ice.get(k) for k in ("consent_interval_s", "disconnected_after_s", "failed_after_s")})
        policies = "<br>".join(f"<b>{_e(p.get('name'))}</b>: {_e(_params(p, skip=('name', 'retry_s')))}"
                               for p in spec.get("policies") or [])
        matrix = _params(spec.get("matrix") or {})
        mine = runs.trials[runs.trials["run"] == name]
        run = info.get("repetitions_run") or {}
        if run:
            reps = f"{run.get('min')}–{run.get('max')}" if run.get("min") != run.get("max") else run.get("max")
            reps = f"{reps} run of {info.get('repetitions_planned', spec.get('repetitions'))} planned"
        else:
            reps = int(mine["repetition"].max()) + 1 if "repetition" in mine and len(mine) else spec.get("repetitions")
        rows.append([_e(name), _e(spec.get("description")), fault_text, _e(detection), policies, _e(matrix),
                     _e(reps)])
    return _table(header, rows, text_columns=len(header))


CONDITION_HEADERS = {"experiment": "experiment", "fault": "fault", "path": "path", "peer_kind": "peers",
                     "browser_state": "browser", "runtime": "runtime",
                     "rtt_ms": "RTT (ms)", "loss_pct": "loss (%)"}


def shown_conditions(table: pd.DataFrame) -> list[str]:
    """The condition columns worth a column: peers and runtime only when not all the default."""
    shown = []
    for column in CONDITION:
        if column in ("path", "peer_kind", "browser_state", "runtime") and column in table and len(table):
            if table[column].nunique() <= 1 and (table[column] == DEFAULTS[column]).all():
                continue
        if column in table:
            shown.append(column)
    return shown


def _condition_header(columns: list[str]) -> list[str]:
    return [CONDITION_HEADERS[c] for c in columns]


def _condition_cells(row: pd.Series, columns: list[str]) -> list[str]:
    cells = []
    for column in columns:
        if column in ("rtt_ms", "loss_pct"):
            value = float(row[column])
            cells.append(_num(value, 1 if value % 1 else 0))
        else:
            cells.append(_e(row[column]))
    return cells


def summary_section(summary: pd.DataFrame) -> str:
    conditions = shown_conditions(summary)
    header = _condition_header(conditions) + ["policy", "n", "not interrupted by the fault",
              "recovered % [Wilson 95 % CI]",
              "resumed on new pair / old path / unknown", "median gap: fault → media (ms)",
              "'disconnected' → media (ms)", "'failed' → media (ms)", "p90 gap (ms)", "p95 gap (ms)",
              "units lost (median)", "freezes (median)"]
    rows = []
    for _, r in summary.iterrows():
        rows.append(_condition_cells(r, conditions) + [
            _e(r["policy"]), _num(r["n"]), _num(r.get("not_interrupted", 0)),
            _with_ci(r["recovered_pct"], r["recovered_pct_lo"], r["recovered_pct_hi"]),
            f"{_num(r.get('resumed_new_pair'))} / {_num(r.get('resumed_old_path'))} / {_num(r.get('resumed_unknown'))}",
            _with_ci(r["gap_median"], r["gap_median_lo"], r["gap_median_hi"]),
            _median_of(r, "disconnected_to_media_ms"), _median_of(r, "failed_to_media_ms"),
            _with_ci(r["gap_p90"], r["gap_p90_lo"], r["gap_p90_hi"]),
            _with_ci(r["gap_p95"], r["gap_p95_lo"], r["gap_p95_hi"]),
            _num(r.get("units_lost_median")), _num(r.get("freezes_median")),
        ])
    return _table(header, rows, text_columns=len(conditions) + 1)


def phases_section(summary: pd.DataFrame) -> str:
    conditions = shown_conditions(summary)
    header = _condition_header(conditions) + ["policy", "recovered"]
    header += [f"{_e(PHASE_LABELS[p])}" for p in PHASES] + ["gathering_ms (restart → new-network candidate)",
                                                            "recovery (fault → media), median"]
    rows = []
    for _, r in summary.iterrows():
        untouched = int(r.get("not_interrupted", 0) or 0)
        recovered = f"{int(r['recovered'])} of {int(r['n'])}" + (f" ({untouched} not interrupted)" if untouched else "")
        rows.append(_condition_cells(r, conditions) + [_e(r["policy"]), recovered]
                    + [_with_ci(r[f"{p}_median"], r[f"{p}_lo"], r[f"{p}_hi"]) for p in PHASES]
                    + [_median_of(r, "gathering_ms"), _num(r["recovery_median"])])
    return _table(header, rows, text_columns=len(conditions) + 1)


def peer_kinds_section(table: pd.DataFrame) -> str:
    kinds: list[str] = table.attrs["peer_kinds"]
    conditions = [c for c in shown_conditions(table) if c != "peer_kind"]
    header = _condition_header(conditions) + ["policy"]
    header += [f"{_e(kind)}: recovered, median gap (ms) [95 % CI]" for kind in kinds]
    rows = []
    for _, r in table.iterrows():
        cells = _condition_cells(r, conditions) + [_e(r["policy"])]
        for kind in kinds:
            if not r[f"{kind}_n"] and not r.get(f"{kind}_not_interrupted", 0):
                cells.append("–")
                continue
            gap = _with_ci(r[f"{kind}_gap_median"], r[f"{kind}_gap_lo"], r[f"{kind}_gap_hi"])
            untouched = int(r.get(f"{kind}_not_interrupted", 0) or 0)
            cells.append(f"{int(r[f'{kind}_recovered'])} of {int(r[f'{kind}_n'])}, {gap}"
                         + (f"; {untouched} not interrupted by the fault" if untouched else ""))
        rows.append(cells)
    return _table(header, rows, text_columns=len(conditions) + 1)


def engines_section(table: pd.DataFrame) -> str:
    """lab.analysis.engines: which engine detects first and where media comes back first."""
    header = ["policy", "engine", "peers", "detected (ms after fault), median", "media back at it (ms), median",
              "media back on new pair / old path / unknown", "detected first", "media back first"]
    rows = []
    for _, r in table.iterrows():
        engine = _e(r["engine"]) + (" <span class='muted'>(stand-in: aiortc with a calibrated profile)</span>"
                                    if r["stand_in"] else "")
        mixed = int(r["mixed_trials"])
        rows.append([_e(r["policy"]), engine, str(int(r["peers"])),
                     f"{_num(r['detected_ms_median'])} ({int(r['detected'])} of {int(r['peers'])})",
                     f"{_num(r['media_back_ms_median'])} ({int(r['media_back'])} of {int(r['peers'])})",
                     f"{int(r.get('back_new_pair', 0))} / {int(r.get('back_old_path', 0))} / {int(r.get('back_unknown', 0))}",
                     f"{int(r['detected_first'])} of {mixed}" if mixed else "–",
                     f"{int(r['media_back_first'])} of {mixed}" if mixed else "–"])
    return _table(header, rows, text_columns=2)


def comparison_section(comparison: pd.DataFrame) -> str:
    if not len(comparison):
        return ("<p class='muted'>No comparison: the runs lack a restart-on-failed policy or a "
                "restart-on-disconnected variant under the same condition.</p>")
    conditions = shown_conditions(comparison)
    header = _condition_header(conditions) + [
        "variant", "baseline", "n (variant / baseline)", "recovered % (variant / baseline)",
        "median gap variant (ms)", "median gap baseline (ms)", "difference of medians (ms) [95 % CI]",
        "permutation p", "Cliff's delta [95 % CI]", "P(variant faster)"]
    rows = []
    for _, r in comparison.iterrows():
        rows.append(_condition_cells(r, conditions) + [
            _e(r["variant"]), _e(r["baseline"]), f"{int(r['n_variant'])} / {int(r['n_baseline'])}",
            f"{_num(r['recovered_pct_variant'])} / {_num(r['recovered_pct_baseline'])}",
            _num(r["median_variant"]), _num(r["median_baseline"]),
            _with_ci(r["diff_median"], r["diff_median_lo"], r["diff_median_hi"]),
            _num(r["p_permutation"], 3),
            _with_ci(r["cliffs_delta"], r["cliffs_delta_lo"], r["cliffs_delta_hi"], 2),
            _num(r["p_faster"], 2),
        ])
    return _table(header, rows, text_columns=len(conditions) + 2)


def trials_section(trials: pd.DataFrame) -> str:
    """Every trial, folded: what each one measured (ms) and where its logs are."""
    phases = recovery_phases(trials)
    header = ["run", "trial", "policy", "status", "interrupted", "recovered", "resumed on", "observed", "media gap",
              "recovery",
              "disconnected → media", "failed → media"] + \
        [PHASE_LABELS[p].split(" (")[0] for p in PHASES] + ["gathering_ms", "units lost", "dropped by sender",
                                                           "outages", "freezes", "frozen", "restarts",
                                                           "negotiations", "rollbacks"]
    rows = []
    for index, t in trials.iterrows():
        rows.append([_e(t["run"]), _e(t["trial_id"]), _e(t["policy"]), _e(t.get("status")),
                     "yes" if t.get("interrupted", True) else "no", "yes" if t["recovered"] else "no", _e(t.get("resumed_on", "")), _num(t.get("observed_ms")),
                     _num(t.get("media_gap_ms")), _num(t.get("recovery_ms")),
                     _num(t.get("disconnected_to_media_ms")), _num(t.get("failed_to_media_ms"))]
                    + [_num(phases.at[index, p]) for p in PHASES]
                    + [_num(t.get("gathering_ms")), _num(t.get("units_lost")), _num(t.get("units_dropped_by_sender")),
                       _num(t.get("outages")), _num(t.get("freezes")), _num(t.get("freeze_ms")),
                       _num(t.get("restarts")), _num(t.get("negotiations")), _num(t.get("rollbacks"))])
    table = _table(header, rows, text_columns=4)
    return (f"<details><summary>{len(trials)} trials (times in ms; per-trial logs in each run's "
            f"trials/&lt;trial&gt;/ folder)</summary>{table}</details>")


def not_interrupted_section(trials: pd.DataFrame) -> str:
    untouched = trials[~interrupted_of(trials)]
    if not len(untouched):
        return ""
    rows = [[_e(t["run"]), _e(t["trial_id"]), _e(t["policy"]), _e(t.get("status")), _e(t.get("resumed_on"))]
            for _, t in untouched.iterrows()]
    return ("<h2>Trials the fault did not interrupt</h2><p class='muted'>No outage, and each receiver's media "
            "came over the same path before and after the fault (e.g. the call already ran on the network the "
            "fault left alone): no recovery was measured, so these trials are left out of every statistic and "
            "figure above, and counted per cell as 'not interrupted by the fault'.</p>"
            + _table(["run", "trial", "policy", "status", "media stayed on"], rows, text_columns=5))


def failures_section(trials: pd.DataFrame) -> str:
    failed = trials[~trials["recovered"] & interrupted_of(trials)]
    if not len(failed):
        return "<p>Every trial the fault interrupted recovered.</p>"
    rows = [[_e(t["run"]), _e(t["trial_id"]), _e(t["policy"]), _e(t.get("status")), _e(t.get("failure_reason"))]
            for _, t in failed.iterrows()]
    return _table(["run", "trial", "policy", "status", "why it did not recover"], rows, text_columns=5)


METHOD = f"""
<ul>
<li><b>Media gap</b> (fault → media): at each receiver, from the unit that opened the first outage after the
fault (the last one before a freeze) to the first unit of steady flow again: the receive rate back to at least
90 % of the pre-fault rate for 1 s. A loss burst is one gap from its first freeze to steady flow, not its longest
silence. The trial's gap is the larger of the two directions (lab.experiment.metrics,
lab.experiment.continuity). Gap statistics are over the trials that recovered; the recovered % beside them says
how many did.</li>
<li><b>Not interrupted by the fault</b>: a trial with no outage in which each receiver's media came over the same
ICE generation and candidate pair before and after the fault (the call already ran on the path the fault left
alone) measured no recovery. It is neither recovered nor failed: n, the recovered % and every gap, phase and
comparison leave it out, and each cell counts it apart. A direction whose path cannot be told is counted as
interrupted (its recovery is reported on an 'unknown' path). <b>'disconnected' → media</b> and <b>'failed' → media</b>: from the receiving peer's own
'disconnected' / 'failed' until its media flowed steadily again.</li>
<li><b>Observation</b>: every trial is watched until media flows steadily again at every receiver, or until
recover_s after the fault has fully ended (the blackhole lifted, the handover's break); only 'closed' stops it
early ('failed' is not final). "Never recovered" means within that window; each trial's observed time is in
the trials table.</li>
<li><b>Which path</b>: the ICE generation and selected candidate pair of the last unit before the gap and of the
first unit of steady flow after it. <i>new pair</i>: they differ (the restart's pair carried the recovery);
<i>old path</i>: the same pair came back (the network returned; a restart, if any, did not cause it);
<i>unknown</i>: a receiver could not tell which pair carried one of the two units (a unit carries its
generation in lab.rtc; a browser's unit is placed on the one candidate pair whose getStats byte counters show
data at its arrival, and is unknown when none or several do). The restart's phases are reported only for
trials resumed on a new pair.</li>
<li><b>Recovery phases</b>: the time from the fault until media resumed at both peers, split at the milestones
detected ('disconnected', 'failed' or a network change), the restart that worked (the newest offer answered
before the new pair; offers and answers are paired by their negotiation_id), its answer, the first candidate of
the new generation on the interface that carries media (gathering_ms runs from the restart to it; the bar shows
the part after the answer), the new pair (the cut-over of the sender whose media resumed last), first media.
Old-path trials show detection and "old path", unknown-path trials detection and "path unknown". The table gives each phase's median (restart phases over the
trials resumed on a new pair), the figure the means over all recovered trials (which add up).</li>
<li><b>Continuity</b>: freezes by libwebrtc's rule (a gap &gt; max(150 ms + mean inter-arrival, 3 × mean));
a silence still going on when the observation ends counts as a freeze. Units lost: sequence numbers the sender
assigned that the receiver never got; units the sender never handed to the network are counted apart.</li>
<li><b>Confidence intervals</b>: scipy.stats.bootstrap, BCa, {stats.N_RESAMPLES} resamples unless stated
otherwise, seeded (seed {stats.SEED}), so the same data give the same intervals. Shown only from
{stats.MIN_N[50.0]} trials for a median, {stats.MIN_N[90.0]} for p90 and {stats.MIN_N[95.0]} for p95
(benchmarks/bca_coverage.py measures the coverage behind these limits); below, "n too small". Recovered %:
Wilson score interval.</li>
<li><b>Comparison</b>: each restart-on-disconnected variant against restart-on-failed under the same condition.
Difference of medians = variant − baseline (negative: the variant's median gap is shorter), BCa interval with
both groups resampled independently (from {stats.MIN_N_DIFFERENCE} trials each). Cliff's delta =
P(variant gap &gt; baseline gap) − P(variant gap &lt; baseline gap) over all pairs of trials, with a trial that
never recovered ranked slower than any that did. P(variant faster) = P(variant &lt; baseline) + ½ P(tie).
Permutation p: scipy.stats.permutation_test, two-sided, of the difference of medians over the recovered
trials, exact up to 20000 relabellings; with few trials it cannot go low (3 against 3: never below 0.2).
The Reading's trial count for 80 % power is simulated by resampling the observed trials (Mann-Whitney,
alpha 0.05).</li>
</ul>
"""


def build_report(run_dirs: Sequence[str | Path], out: str | Path | None = None, *,
                 n_resamples: int = stats.N_RESAMPLES, seed: int = stats.SEED,
                 swimlanes_per_policy: int = 1, split_by: str | None = None) -> ReportResult:
    """Write report.html (default: <run>/report.html for one run, ./report.html for several)
    and its figures as PNGs beside it. `split_by` (a trials column: "host", "worker") adds the gap
    ECDF split by it; by default by host when trials ran on several hosts (a cluster run)."""
    started = time.perf_counter()
    runs = load_runs(list(run_dirs))
    if out is None:
        out = Path(run_dirs[0]) / "report.html" if len(run_dirs) == 1 else Path("report.html")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    trials = runs.trials
    summary = summary_table(trials, n_resamples=n_resamples, seed=seed)
    comparison = compare_policies(trials, n_resamples=n_resamples, seed=seed)
    kinds = peer_kind_table(summary)
    from lab.analysis.engines import engine_peers, engine_table

    engines = engine_table(engine_peers(trials, runs.events)) if "offerer_kind" in trials else pd.DataFrame()
    paragraphs = reading(summary, trials, n_resamples=n_resamples, seed=seed)

    figures: list[tuple[str, str, Figure]] = [
        ("ecdf", "ECDF of the media gap per policy. A curve that stays below 1 belongs to a policy whose "
                 "trials did not all recover.", plots.gap_ecdf(trials)),
        ("phases", "Mean recovery time per policy split into phases (see Method).", plots.phase_bars(summary)),
        ("gap-vs-rtt", "Media gap against the RTT of the matrix.", plots.gap_vs_rtt(trials)),
    ]
    if split_by is None and "host" in trials and trials["host"].nunique() > 1:
        split_by = "host"
    if split_by is not None:
        figures.insert(1, (f"ecdf-by-{split_by}", f"ECDF of the media gap per policy and {split_by} (line style): "
                           f"curves of one policy that part show an effect of the {split_by}.",
                           plots.gap_ecdf(trials, by=split_by)))
    if len(comparison):
        figures.append(("comparison", "Difference of median media gaps, restart-on-disconnected variants minus "
                        "restart-on-failed, with bootstrap 95 % CIs.", plots.comparison_forest(comparison)))
    for _, trial in plots.representative_trials(trials, swimlanes_per_policy).iterrows():
        events = runs.trial_events(trial["run"], trial["trial_id"])
        if not len(events):
            continue
        caption = (f"Timeline of trial {trial['trial_id']} (run {trial['run']}), the {trial['policy']} trial "
                   "whose media gap is closest to the policy's median.")
        figures.append((f"timeline-{trial['run']}-{trial['trial_id']}", caption, plots.swimlane(events, trial)))
        packets = _trial_packets(runs, str(trial["run"]), str(trial["trial_id"]), events)
        if packets is not None:
            figures.append((f"packets-{trial['run']}-{trial['trial_id']}",
                            f"Packets of trial {trial['trial_id']} from its capture (every host, one clock): STUN "
                            "checks, DTLS, RTP and signaling per path.", plots.packet_swimlane(packets, events, trial)))

    written: list[Path] = []
    blocks: list[str] = []
    for name, caption, fig in figures:
        png = _png(fig)
        path = out.with_name(f"{out.stem}-{_safe(name)}.png")
        path.write_bytes(png)
        written.append(path)
        data = base64.b64encode(png).decode()
        blocks.append(f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{data}'>"
                      f"<figcaption>{_e(caption)}</figcaption></figure>")

    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    conditions = summary.groupby(CONDITION, dropna=False).ngroups if len(summary) else 0
    body = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>icelab report: {_e(', '.join(runs.names))}</title><style>{STYLE}</style></head><body>",
        "<h1>ICE restart recovery report</h1>",
        f"<p class='muted'>{len(trials)} trials from {len(runs.names)} run(s), {conditions} condition(s); "
        f"generated {now}.</p>",
        "<h2>Reading</h2><div class='reading'>", *[f"<p>{_e(p)}</p>" for p in paragraphs], "</div>",
        "<h2>Runs</h2>", meta_section(runs), experiment_section(runs),
        "<h2>Recovery per condition and policy</h2>",
        f"<p class='muted'>Values in ms; brackets: 95 % confidence interval (BCa bootstrap, {n_resamples} "
        f"resamples, seed {seed}), given from {stats.MIN_N[50.0]} trials for a median, {stats.MIN_N[90.0]} for "
        f"p90, {stats.MIN_N[95.0]} for p95 (\"n too small\" below). Gap statistics are over the trials that "
        "recovered; 'resumed on new pair / old path / unknown' says which path carried their recovery. n counts the "
        "trials the fault interrupted; those it did not interrupt are counted apart and left out (see Method).</p>",
        summary_section(summary),
        "<h2>Where the recovery time goes</h2>",
        "<p class='muted'>Median of each phase over the recovered trials, in ms [95 % CI]; phases are defined "
        "in Method. Medians of phases need not add up to the median recovery; the phase figure shows means, "
        "which do.</p>", phases_section(summary),
        "<h2>Restart on 'disconnected' against restart on 'failed'</h2>", comparison_section(comparison),
        *(["<h2>Peer kinds side by side</h2>",
           "<p class='muted'>The same condition and policy with each peer kind (aiortc, Chromium, Firefox, or a "
           "mix such as chromium-aiortc: offerer-answerer). aiortc~chrome and aiortc~firefox are stand-ins: "
           "aiortc with a calibrated lab.rtc profile, not the browser.</p>", peer_kinds_section(kinds)]
          if len(kinds) else []),
        *(["<h2>Engines side by side</h2>",
           "<p class='muted'>Per peer: its own first 'disconnected'/'failed' after the fault, and when media "
           "came back at it. 'First' counts, in trials whose two peers ran different engines, which engine's "
           "peer was earlier. Browsers use their built-in detection; stand-ins are aiortc peers with a "
           "calibrated lab.rtc profile (engine~profile), not the browser.</p>", engines_section(engines)]
          if len(engines) else []),
        "<h2>Figures</h2>", *blocks,
        not_interrupted_section(trials),
        "<h2>Trials that did not recover</h2>", failures_section(trials),
        "<h2>All trials</h2>", trials_section(trials),
        "<h2>Method</h2>", METHOD.replace(str(stats.N_RESAMPLES) + " resamples", f"{n_resamples} resamples")
                                 .replace(f"seed {stats.SEED})", f"seed {seed})"),
        "</body></html>",
    ]
    out.write_text("\n".join(body), encoding="utf-8")
    return ReportResult(path=out, figures=written, seconds=time.perf_counter() - started, trials=len(trials))


def _trial_packets(runs: Runs, run: str, trial_id: str, events: pd.DataFrame) -> pd.DataFrame | None:
    """The trial's captured packets on the events' clock, when the run kept captures."""
    from lab.experiment.pcap import host_captures, trial_packets

    meta = runs.meta[runs.meta["run"] == run]
    if not len(meta):
        return None
    trial_dir = Path(str(meta["path"].iloc[0])) / "trials" / trial_id
    if not host_captures(trial_dir):
        return None
    port = ((runs.info.get(run) or {}).get("spec") or {}).get("signaling", {}).get("port")
    try:
        return trial_packets(trial_dir, events, signaling_port=port)
    except (OSError, ValueError):
        return None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
