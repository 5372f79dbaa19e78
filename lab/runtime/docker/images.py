"""The lab's Docker images: names, the source hash a peer image was built from, its requirements.

`python -m lab.runtime.docker.images source-hash|requirements` serves scripts/docker-images.sh.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tomllib
from pathlib import Path

# ICELAB_IMAGE_TAG (default latest): a work tree whose sources differ from another's builds and
# runs its own tag (scripts/docker-images.sh reads the same variable), leaving the other's alone.
IMAGE_TAG = os.environ.get("ICELAB_IMAGE_TAG") or "latest"
PEER_IMAGE = f"icelab/peer:{IMAGE_TAG}"
RELAY_IMAGE = f"icelab/relay:{IMAGE_TAG}"
SFU_IMAGE = f"icelab/sfu:{IMAGE_TAG}"
LOCAL_BASE_IMAGE = "icelab/base:bookworm"
SOURCE_LABEL = "org.icelab.source"

REPO_ROOT = Path(__file__).resolve().parents[3]


def source_hash(root: Path = REPO_ROOT) -> str:
    """Hash of what the peer image installs: the lab package's files and pyproject.toml."""
    digest = hashlib.sha256()
    files = [root / "pyproject.toml"]
    files += sorted(p for p in (root / "lab").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def requirements(root: Path = REPO_ROOT) -> list[str]:
    """The lab package's runtime dependencies, as pyproject.toml declares them."""
    with (root / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def main(argv: list[str]) -> int:
    if argv == ["source-hash"]:
        print(source_hash())
    elif argv == ["requirements"]:
        print("\n".join(requirements()))
    else:
        print("usage: python -m lab.runtime.docker.images source-hash|requirements", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
