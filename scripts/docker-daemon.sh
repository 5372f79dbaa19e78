#!/usr/bin/env bash
# Start or stop the Docker engine the lab uses, touching no host networking.
#
#   scripts/docker-daemon.sh start [USER_PID]  # starts dockerd unless one answers; records its pid
#   scripts/docker-daemon.sh stop [USER_PID]   # stops the dockerd `start` started (by pid), nothing else
#   scripts/docker-daemon.sh status
#
# dockerd runs with no bridge, no iptables/ip6tables rules, no ip_forward and no masquerading:
# lab containers use `--network none` and are wired into the lab topology by lab.runtime.docker.
# Several callers may share one daemon: `start` records the caller (USER_PID, default the
# calling process) as a user; `stop` removes it and stops the daemon only when no live user is
# left, and only when this script started it. Users that died without `stop` do not count.
set -euo pipefail

STATE_DIR=${ICELAB_DOCKER_STATE:-/run/icelab-docker}
PIDFILE=$STATE_DIR/dockerd.pid      # written only for a dockerd we started
USERS=$STATE_DIR/users
USER_PID=${2:-$PPID}
LOCK=$STATE_DIR/lock
LOG=${ICELAB_DOCKERD_LOG:-/var/log/icelab-dockerd.log}
SOCKET=/var/run/docker.sock
WAIT_S=${ICELAB_DOCKERD_WAIT_S:-60}

mkdir -p "$STATE_DIR" "$USERS"
exec 9>"$LOCK"
flock 9

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
live_users() {  # prunes users that are gone, prints how many are left
    local n=0 f
    for f in "$USERS"/*; do
        [ -e "$f" ] || continue
        if kill -0 "${f##*/}" 2>/dev/null; then n=$((n + 1)); else rm -f "$f"; fi
    done
    echo "$n"
}
ours() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start() {
    if answers; then
        touch "$USERS/$USER_PID"
        if ours; then echo "docker-daemon: running (ours, pid $(cat "$PIDFILE"))"; else echo "docker-daemon: running (not ours)"; fi
        return 0
    fi
    command -v dockerd >/dev/null || { echo "docker-daemon: dockerd missing (apt-get install docker.io)" >&2; exit 1; }
    rm -f "$PIDFILE" "$USERS"/*   # users of an earlier daemon do not hold this one
    # setsid: the daemon outlives the shell that started it and gets no terminal signals.
    setsid dockerd \
        --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        --userland-proxy=false --pidfile "$STATE_DIR/dockerd.engine.pid" \
        >>"$LOG" 2>&1 </dev/null 9>&- &
    echo $! >"$PIDFILE"
    local deadline=$(( SECONDS + WAIT_S ))
    until [ -S "$SOCKET" ] && answers; do
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            rm -f "$PIDFILE"
            echo "docker-daemon: dockerd exited; last lines of $LOG:" >&2; tail -n 20 "$LOG" >&2; exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "docker-daemon: dockerd did not answer within ${WAIT_S}s (see $LOG)" >&2; exit 1
        fi
        sleep 0.2
    done
    touch "$USERS/$USER_PID"
    echo "docker-daemon: started dockerd (pid $(cat "$PIDFILE"), log $LOG)"
}

stop() {
    rm -f "$USERS/$USER_PID"
    local n; n=$(live_users)
    if [ "$n" -gt 0 ]; then echo "docker-daemon: still in use by $n other user(s)"; return 0; fi
    if ! ours; then rm -f "$PIDFILE"; echo "docker-daemon: nothing of ours to stop"; return 0; fi
    local pid; pid=$(cat "$PIDFILE")
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    rm -f "$PIDFILE"
    echo "docker-daemon: stopped dockerd (pid $pid)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if answers; then if ours; then echo "running (ours, pid $(cat "$PIDFILE"), users $(live_users))"; else echo "running (not ours)"; fi; else echo "not running"; exit 3; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
