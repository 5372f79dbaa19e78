"""`icelab doctor`'s line for the SFU: is Janus installed, which version."""

from __future__ import annotations

from lab.net.doctor import Check


def sfu_checks() -> list[Check]:
    from lab.sfu.janus import janus_version

    version = janus_version()
    if version is None:
        return [Check("tool janus", False, "Janus SFU (sfu role): not installed (scripts/setup-debian.sh)",
                      required=False)]
    return [Check("tool janus", True, f"Janus SFU (sfu role) {version}", required=False)]
