#!/usr/bin/env bash
# Installs the Debian packages the lab drives. Idempotent; needs root.
set -euo pipefail
packages=(
    coturn            # turnserver, turnutils_natdiscovery
    janus             # the SFU role (lab.sfu): Janus 1.1 with its VideoRoom plugin
    nftables          # NAT and filtering
    conntrack         # flush NAT bindings
    iproute2          # ip netns (inspection only; the lab builds with pyroute2)
    iputils-ping
    tcpdump
    procps
    psmisc
    gcc               # builds a Python wheel when PyPI has none for this platform
    python3-venv
    chromium          # the browser peer kind (lab.runtime.chromium), driven by Playwright
    firefox-esr       # the firefox peer kind (lab.runtime.firefox), driven over WebDriver BiDi
    docker.io         # the Docker runtime; dockerd is started and stopped by scripts/docker-daemon.sh
    debootstrap       # the images' base when no registry is reachable (scripts/docker-images.sh)
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup-debian: all packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "setup-debian: root is needed to install: ${missing[*]}" >&2
    exit 1
fi
echo "setup-debian: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts coturn as a service on install; the lab runs its own relays only.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now coturn >/dev/null 2>&1 || true; fi
# Likewise Janus: the lab runs its own, inside an SFU host's namespace.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now janus >/dev/null 2>&1 || true; fi
# Nor the Docker service (it would make a bridge and iptables rules): the lab starts its own dockerd.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now docker.socket docker >/dev/null 2>&1 || true; fi
pkill -x turnserver 2>/dev/null || true
