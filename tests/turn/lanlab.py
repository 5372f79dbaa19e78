"""A minimal hermetic network for relay tests that do not need lab.net: one bridge namespace,
a relay namespace and client namespaces on 10.77.0.0/24, nothing connected to the host."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from pyroute2 import NetNS, netns

from lab import naming

SUBNET = IPv4Network("10.77.0.0/24")
_counter = itertools.count()


@dataclass
class LanLab:
    tag: str
    namespaces: list[str] = field(default_factory=list)

    def ns(self, node: str) -> str:
        return naming.netns_name(self.tag, node)

    def add_host(self, node: str, *addresses: str) -> str:
        """A namespace with one veth on the bridge carrying `addresses` (x.x.x.x/24)."""
        name = self.ns(node)
        netns.create(name)
        self.namespaces.append(name)
        index = len(self.namespaces)
        outer, inner = f"port{index}", "eth0"
        bridge_ns = self.namespaces[0]
        # Made inside the bridge namespace, the far end placed straight into the host's:
        # nothing ever touches the machine's own network namespace.
        with NetNS(bridge_ns) as br:
            br.link("add", ifname=outer, kind="veth",
                    peer={"ifname": f"{outer}p", "net_ns_fd": name})
            port = br.link_lookup(ifname=outer)[0]
            br.link("set", index=port, master=br.link_lookup(ifname="br0")[0], state="up")
        with NetNS(name) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
            dev = ns.link_lookup(ifname=f"{outer}p")[0]
            ns.link("set", index=dev, ifname=inner)
            for address in addresses:
                ns.addr("add", index=dev, address=address.split("/")[0],
                        prefixlen=int(address.split("/")[1]))
            ns.link("set", index=dev, state="up")
        return name

    def down(self) -> None:
        for name in reversed(self.namespaces):
            try:
                netns.remove(name)
            except OSError:
                pass
        self.namespaces.clear()


def make_lanlab() -> LanLab:
    lab = LanLab(tag=f"trn{next(_counter)}")
    bridge = lab.ns("br")
    netns.create(bridge)
    lab.namespaces.append(bridge)
    with NetNS(bridge) as br:
        br.link("add", ifname="br0", kind="bridge")
        br.link("set", index=br.link_lookup(ifname="br0")[0], state="up")
    return lab
