"""Image names and tags (no engine needed): ICELAB_IMAGE_TAG picks the tag both the build script
and the runtime use, so two work trees with different lab sources never retag each other's images."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.docker.conftest import ROOT

PRINT_NAMES = "from lab.runtime.docker import images as i; print(i.PEER_IMAGE, i.RELAY_IMAGE, i.SFU_IMAGE)"


def _names(tag: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ICELAB_IMAGE_TAG"}
    if tag is not None:
        env["ICELAB_IMAGE_TAG"] = tag
    done = subprocess.run([sys.executable, "-c", PRINT_NAMES], capture_output=True, text=True, env=env, cwd=ROOT,
                          check=True)
    return done.stdout.split()


def test_default_tag_is_latest() -> None:
    assert _names(None) == ["icelab/peer:latest", "icelab/relay:latest", "icelab/sfu:latest"]
    assert _names("") == ["icelab/peer:latest", "icelab/relay:latest", "icelab/sfu:latest"]


def test_tag_from_the_environment() -> None:
    assert _names("w17b") == ["icelab/peer:w17b", "icelab/relay:w17b", "icelab/sfu:w17b"]


def test_build_script_builds_every_image_with_the_same_tag() -> None:
    script = (ROOT / "scripts" / "docker-images.sh").read_text()
    assert 'TAG=${ICELAB_IMAGE_TAG:-latest}' in script and '-t "icelab/$image:$TAG"' in script
    for image in ("peer", "relay", "sfu"):
        assert f"    build {image} " in script and (ROOT / "docker" / image / "Dockerfile").is_file()
