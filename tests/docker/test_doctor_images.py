"""`icelab doctor` says whether each lab image exists and whether the peer image is current."""

from __future__ import annotations

import os
import subprocess

import pytest

from lab.runtime.docker import images
from tests.docker.conftest import DOCKER, ROOT

pytestmark = DOCKER

ICELAB = str(ROOT / ".venv" / "bin" / "icelab")


def _doctor(tag: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ICELAB_IMAGE_TAG"}
    if tag is not None:
        env["ICELAB_IMAGE_TAG"] = tag
    done = subprocess.run([ICELAB, "doctor"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    return done.stdout


def _line(output: str, image: str) -> str:
    lines = [line for line in output.splitlines() if f"image {image}" in line]
    assert len(lines) == 1, output
    return lines[0]


def test_doctor_lists_the_built_images_as_present() -> None:
    output = _doctor(os.environ.get("ICELAB_IMAGE_TAG"))  # the tag the session fixture built
    for image in (images.PEER_IMAGE, images.RELAY_IMAGE, images.SFU_IMAGE):
        assert _line(output, image).startswith("ok"), output


@pytest.mark.parametrize("tag", ["nosuchtag-doctor"])
def test_doctor_names_missing_images_and_how_to_build_them(tag: str) -> None:
    output = _doctor(tag)
    for image in (f"icelab/peer:{tag}", f"icelab/relay:{tag}", f"icelab/sfu:{tag}"):
        line = _line(output, image)
        assert line.startswith("--") and "missing" in line and "make images" in line, output
