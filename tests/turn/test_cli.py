"""`icelab turn ...`: bad input exits 2 with one line; credentials come out as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def icelab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True,
                          timeout=60)


def test_credential_command_prints_a_rest_api_credential() -> None:
    done = icelab("turn", "credential", "--secret", "s3cret", "--user", "alice", "--ttl", "60")
    assert done.returncode == 0, done.stderr
    cred = json.loads(done.stdout)
    assert cred["username"].endswith(":alice") and cred["username"].split(":")[0] == str(cred["expires_at"])


def test_bad_relay_file_is_one_message_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "relays.toml"
    bad.write_text('[[relays]]\nname = "r1"\nhost = "relay"\nlisteners = ["udp", "sctp"]\n')
    done = icelab("turn", "start", "no_such_topology", "--spec", str(bad))
    # the topology is looked up first: exit 1 with one line, no traceback
    assert done.returncode == 1 and "no topology named" in done.stderr
    assert "Traceback" not in done.stderr


def test_relay_file_errors_name_file_key_and_reason(tmp_path: Path) -> None:
    from lab.errors import ConfigError
    from lab.turn.spec import load_relay_file

    bad = tmp_path / "relays.toml"
    bad.write_text('[[relays]]\nname = "r1"\nhost = "relay"\ncolour = "blue"\n')
    try:
        load_relay_file(bad)
    except ConfigError as error:
        assert error.message == f"{bad}: relays[0].colour: unknown key"
    else:
        raise AssertionError("no ConfigError")
