"""Render a resolved SfuSpec into Janus's configuration folder from the templates in sfu/.

Janus reads `janus.jcfg` (-C) and each loaded plugin's and transport's `<package>.jcfg` from
its configs folder (-F). Every plugin, transport, logger and event handler the lab does not use
is disabled by name, so Janus never tries MQTT, RabbitMQ, nanomsg, HTTP or Unix sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from lab.errors import ConfigError
from lab.sfu.spec import SfuSpec

TEMPLATES = Path(__file__).resolve().parents[2] / "sfu"
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
FOLDERS = ("plugins", "transports", "events", "loggers")
# what the lab loads; everything else found in Janus's folders is disabled
WANTED = {"plugins": {"libjanus_videoroom.so"}, "transports": {"libjanus_websockets.so"},
          "events": set(), "loggers": set()}
# Janus's own plugin and transport names, used before they are installed (rendering in tests)
KNOWN = {
    "plugins": ("libjanus_audiobridge.so", "libjanus_duktape.so", "libjanus_echotest.so",
                "libjanus_lua.so", "libjanus_nosip.so", "libjanus_recordplay.so", "libjanus_sip.so",
                "libjanus_streaming.so", "libjanus_textroom.so", "libjanus_videocall.so",
                "libjanus_videoroom.so", "libjanus_voicemail.so"),
    "transports": ("libjanus_http.so", "libjanus_mqtt.so", "libjanus_nanomsg.so", "libjanus_pfunix.so",
                   "libjanus_rabbitmq.so", "libjanus_websockets.so"),
    "events": ("libjanus_gelfevh.so", "libjanus_mqttevh.so", "libjanus_nanomsgevh.so",
               "libjanus_rabbitmqevh.so", "libjanus_sampleevh.so", "libjanus_wsevh.so"),
    "loggers": ("libjanus_jsonlog.so",),
}


@dataclass(frozen=True)
class TurnServer:
    """Janus's own TURN server (the topology's relay), static credentials."""

    address: str
    port: int
    username: str
    password: str


@dataclass(frozen=True)
class SfuFiles:
    """Where one Janus keeps its files: config folder (state) and its log (run output)."""

    configs: Path
    log: Path

    @property
    def core(self) -> Path:
        return self.configs / "janus.jcfg"


def _modules(folder: str, lib: Path) -> list[str]:
    found = {p.name for p in (lib / folder).glob("libjanus_*.so")} | set(KNOWN[folder])
    return sorted(found - WANTED[folder])


def render_configs(spec: SfuSpec, name: str, iface: str, files: SfuFiles,
                   turn: TurnServer | None = None, lib: Path = JANUS_LIB) -> dict[str, str]:
    """File name -> text of Janus's config folder; `spec.host` and `spec.address` resolved."""
    if spec.host is None or spec.address is None:
        raise ConfigError(None, "sfu.address", "SFU host and address not resolved")
    turn_lines = ""
    if turn is not None:
        turn_lines = "\n".join([f'\tturn_server = "{turn.address}"', f"\tturn_port = {turn.port}",
                                '\tturn_type = "udp"', f'\tturn_user = "{turn.username}"',
                                f'\tturn_pwd = "{turn.password}"'])
    values: dict[str, object] = {
        "version": "1.1", "name": name, "host": spec.host, "address": spec.address,
        "configs_folder": files.configs, "debug_level": spec.debug_level,
        "session_timeout": spec.session_timeout_s, "rtp_min_port": spec.rtp_min_port,
        "rtp_max_port": spec.rtp_max_port, "ice_enforce_list": iface, "turn": turn_lines,
        "ws_port": spec.ws_port, "room": spec.room, "publishers": 4, "audiocodec": "pcmu,opus",
    }
    for folder in FOLDERS:
        values[f"{folder}_folder"] = lib / folder
        values[f"disabled_{folder}"] = ",".join(_modules(folder, lib))
    return {
        "janus.jcfg": _render("janus.jcfg.tmpl", values),
        "janus.transport.websockets.jcfg": _render("janus.transport.websockets.jcfg.tmpl", values),
        "janus.plugin.videoroom.jcfg": _render("janus.plugin.videoroom.jcfg.tmpl", values),
    }


def _render(template: str, values: dict[str, object]) -> str:
    return Template((TEMPLATES / template).read_text()).substitute(values)
