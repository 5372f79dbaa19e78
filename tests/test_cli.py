import subprocess
import sys

from lab import __version__


def test_icelab_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lab", "version"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == __version__
