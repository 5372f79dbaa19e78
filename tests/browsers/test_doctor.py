"""`icelab doctor` reports the browsers of the browser peer kinds (optional: never a failure)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.browsers.harness import ROOT


def doctor(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", "doctor"], capture_output=True, text=True, timeout=180,
                          cwd=ROOT, env={**os.environ, **(env or {})})


def test_doctor_reports_the_firefox_version() -> None:
    done = doctor()
    line = next(li for li in done.stdout.splitlines() if "peer kind firefox" in li)
    assert line.startswith("ok") and "Mozilla Firefox" in line and "esr" in line, line


def test_doctor_names_a_missing_firefox_without_failing_on_it(tmp_path: object) -> None:
    done = doctor({"ICELAB_FIREFOX": "/nonexistent/firefox"})
    line = next(li for li in done.stdout.splitlines() if "peer kind firefox" in li)
    assert line.startswith("--") and "firefox-esr" in line, line
    assert "firefox" not in (done.stderr.split("cannot run here:")[-1] if "cannot run here" in done.stderr else "")
