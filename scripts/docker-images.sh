#!/usr/bin/env bash
# Build the lab's Docker images (icelab/peer, icelab/relay, icelab/sfu) offline; cached when nothing changed.
#
#   BASE_IMAGE=python:3.11-slim-bookworm scripts/docker-images.sh
#   ICELAB_IMAGE_TAG=w17 scripts/docker-images.sh   # tags icelab/*:w17 (default: latest), e.g. for a
#                                                   # work tree whose sources differ from another's
#
# The base is BASE_IMAGE when present or pullable; when no registry is reachable, a Debian
# bookworm made locally with debootstrap (python3, venv, coturn) is imported as icelab/base and
# kept for later builds. Python packages come from wheels prepared here on the host (the same
# versions as the host's .venv); Debian's chromium and firefox-esr (the browser peer kinds), Debian's
# janus (the sfu image) and the packages they need beyond the base come as .debs downloaded by the
# host's apt (the same bookworm archive and versions as the host's). Nothing inside a build reaches
# the network.
# Cold: debootstrap + wheels + debs + pip/apt install (minutes); cached: seconds.
# Needs a running Docker engine (scripts/docker-daemon.sh start).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim-bookworm}
LOCAL_BASE=icelab/base:bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=python3,python3-venv,coturn,ca-certificates,iproute2
# The peer image's browsers: Debian's chromium (+ libatomic1 for Playwright's node driver) and firefox-esr.
BROWSER_PACKAGES=(chromium libatomic1 firefox-esr)
# The sfu image's Janus (lab.sfu): Debian's janus, the same package as on the host.
SFU_PACKAGES=(janus)
TAG=${ICELAB_IMAGE_TAG:-latest}
PY=${PY:-.venv/bin/python}
# The build context (wheels, logs) lives outside the work tree so that a fresh clone on the same
# machine (CI) reuses the prepared wheels and Docker's layer cache.
CONTEXT=${ICELAB_DOCKER_CONTEXT:-/var/cache/icelab/docker-context}
WHEELS=$CONTEXT/wheels
export DOCKER_BUILDKIT=0   # the classic builder needs no frontend image from a registry

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
now() { date +%s.%N; }
took() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

base_image() {  # prints the base to build FROM and the network builds may use
    if have_image "$BASE_IMAGE"; then echo "$BASE_IMAGE default"; return; fi
    if timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then echo "$BASE_IMAGE default"; return; fi
    if ! have_image "$LOCAL_BASE"; then
        echo "docker-images: no registry reachable for $BASE_IMAGE; making $LOCAL_BASE with debootstrap" >&2
        command -v debootstrap >/dev/null || { echo "docker-images: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }
        local t0 root; t0=$(now)
        root=$(mktemp -d /var/tmp/icelab-rootfs.XXXXXX)
        trap 'rm -rf "$root"' RETURN
        debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$root" "$DEBIAN_MIRROR" \
            >"$CONTEXT/debootstrap.log" 2>&1 \
            || { echo "docker-images: debootstrap failed, see $CONTEXT/debootstrap.log" >&2; tail -n 5 "$CONTEXT/debootstrap.log" >&2; exit 1; }
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -c . | docker import \
            --change 'ENV LANG=C.UTF-8' --change 'LABEL org.icelab.image=base' \
            --change 'CMD ["sleep", "infinity"]' - "$LOCAL_BASE" >/dev/null
        echo "docker-images: $LOCAL_BASE made in $(took "$t0") s" >&2
    fi
    echo "$LOCAL_BASE none"
}

pip_quiet() {  # pip on the host; its output only when it fails
    "$PY" -m pip "$@" >"$CONTEXT/pip.log" 2>&1 \
        || { echo "docker-images: pip $1 failed:" >&2; grep -v 'is ignored: it is neither' "$CONTEXT/pip.log" | tail -n 20 >&2; return 1; }
}

prepare_wheels() {
    mkdir -p "$WHEELS/deps" "$WHEELS/lab"
    # Dependencies: pinned to what the host's venv has, re-made only when that set changes.
    local reqs constraints stamp
    reqs=$("$PY" -m lab.runtime.docker.images requirements)
    constraints=$("$PY" -m pip freeze --exclude-editable 2>/dev/null | grep -v '^-e ' || true)
    stamp=$(printf '%s\n--\n%s\n' "$reqs" "$constraints" | sha256sum | cut -c1-16)
    if [ "$(cat "$WHEELS/deps/.stamp" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$WHEELS/deps"; mkdir -p "$WHEELS/deps"
        printf '%s\n' "$reqs" >"$WHEELS/deps/requirements.txt"
        printf '%s\n' "$constraints" >"$CONTEXT/constraints.txt"
        pip_quiet wheel -q --wheel-dir "$WHEELS/deps" -r "$WHEELS/deps/requirements.txt" \
            -c "$CONTEXT/constraints.txt"
        echo "$stamp" >"$WHEELS/deps/.stamp"
    fi
    # The lab package: re-made only when its sources change (same bytes keep Docker's cache).
    local source
    source=$("$PY" -m lab.runtime.docker.images source-hash)
    if [ "$(cat "$WHEELS/lab/.stamp" 2>/dev/null)" != "$source" ] || ! ls "$WHEELS"/lab/*.whl >/dev/null 2>&1; then
        rm -rf "$WHEELS/lab"; mkdir -p "$WHEELS/lab"
        # From a clean copy of the work tree: setuptools' build/ folder would keep deleted modules.
        local tree; tree=$(mktemp -d /var/tmp/icelab-src.XXXXXX)
        cp -r pyproject.toml README.md "$tree"/
        tar -c --exclude=__pycache__ --exclude='*.pyc' lab | tar -C "$tree" -x
        pip_quiet wheel -q --no-deps --wheel-dir "$WHEELS/lab" "$tree"
        rm -rf "$tree"
        echo "$source" >"$WHEELS/lab/.stamp"
    fi
    echo "$source"
}

prepare_debs() {  # prepare_debs BASE NAME PACKAGE...: the packages and what BASE lacks of their dependencies
    local base=$1 name=$2; shift 2
    local debs=$CONTEXT/debs/$name status plan stamp cid
    command -v apt-get >/dev/null || { echo "docker-images: apt-get missing: the $name .debs come from the host's apt (Debian bookworm)" >&2; return 1; }
    status=$(mktemp /var/tmp/icelab-dpkg-status.XXXXXX)
    cid=$(docker create --network none "$base" true)
    docker cp "$cid:/var/lib/dpkg/status" "$status" >/dev/null; docker rm "$cid" >/dev/null
    local apt=(apt-get -o Dir::State::status="$status" -o Debug::NoLocking=1 --no-install-recommends -y -qq)
    # What apt would install on BASE (names and versions): re-downloaded only when that changes.
    plan=$("${apt[@]}" -s install "$@" 2>&1 | grep '^Inst ' | sort) \
        || { echo "docker-images: apt cannot plan $* for $base (apt-get update?)" >&2; rm -f "$status"; return 1; }
    stamp=$(printf '%s\n' "$plan" | sha256sum | cut -c1-16)
    if [ "$(cat "$debs/.stamp" 2>/dev/null)" != "$stamp" ] || ! ls "$debs"/"$1"_*.deb >/dev/null 2>&1; then
        rm -rf "$debs"; mkdir -p "$debs/partial"
        "${apt[@]}" -o Dir::Cache::archives="$debs" install --download-only "$@" >"$CONTEXT/apt-$name.log" 2>&1 \
            || { echo "docker-images: downloading the $name .debs failed:" >&2; tail -n 10 "$CONTEXT/apt-$name.log" >&2; rm -f "$status"; return 1; }
        rm -rf "$debs/partial" "$debs/lock"
        echo "$stamp" >"$debs/.stamp"
    fi
    rm -f "$status"
}

build() {  # build IMAGE [docker build options]; its output only when it fails
    local image=$1; shift
    docker build -q --force-rm "$@" -f "docker/$image/Dockerfile" -t "icelab/$image:$TAG" "$CONTEXT" \
        >"$CONTEXT/build-$image.log" 2>&1 \
        || { echo "docker-images: building icelab/$image failed:" >&2; tail -n 20 "$CONTEXT/build-$image.log" >&2; return 1; }
}

main() {
    # One build at a time on the machine (parallel trials may all find the image stale).
    mkdir -p "$CONTEXT"
    exec 8>"$CONTEXT/.lock"
    flock 8
    docker version >/dev/null 2>&1 || { echo "docker-images: no Docker engine answers (scripts/docker-daemon.sh start)" >&2; exit 1; }
    mkdir -p "$CONTEXT"
    local t0 base network source
    t0=$(now)
    read -r base network < <(base_image)
    source=$(prepare_wheels)
    prepare_debs "$base" chromium "${BROWSER_PACKAGES[@]}"
    prepare_debs "$base" janus "${SFU_PACKAGES[@]}"
    build peer --build-arg BASE_IMAGE="$base" --build-arg SOURCE_HASH="$source" --network "$network"
    build relay --build-arg BASE_IMAGE="$base" --network "$network"
    build sfu --build-arg BASE_IMAGE="$base" --network "$network"
    # Images the rebuilt tags left behind (each lab change makes one).
    docker image prune --force --filter label=org.icelab.image >/dev/null
    echo "docker-images: icelab/peer:$TAG (source $source), icelab/relay:$TAG, icelab/sfu:$TAG on $base in $(took "$t0") s"
}

main "$@"
