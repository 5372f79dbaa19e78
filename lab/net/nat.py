"""nftables rulesets that give a router one RFC 4787 NAT behaviour.

mapping (how a LAN endpoint's packets appear on the WAN):
  endpoint-independent (full, restricted, port-restricted cone): `masquerade` keeps the port,
  so one internal ip:port keeps one public port for every destination;
  address-and-port-dependent (symmetric): `masquerade fully-random`, a fresh port per flow.
filtering (which unsolicited WAN packets reach the LAN endpoint):
  port-restricted and symmetric: conntrack only lets replies of the exact 5-tuple in;
  restricted cone: packets from any port of an address the endpoint has sent to;
  full cone: packets from anyone.
The two cone filters use a dynamic map public port -> internal ip.port, refreshed by outbound
packets (after source NAT, so it holds the real public port), and for the restricted cone a set
of (public port, remote address) pairs; a matching inbound packet is DNATed to the endpoint.
Unsolicited WAN input to the router itself is dropped: otherwise conntrack confirms an entry
for it and masquerade re-maps the next outbound packet of that 5-tuple (looks symmetric).
Only sources of the router's own LAN are translated; a packet forwarded to the WAN with any
other source (a host sending from the address of an interface it lost, a spoofed source) is
dropped, as a carrier NAT or a BCP 38 router does (beside the routers' rp_filter, lab.net.build).
"""

from __future__ import annotations

from lab.naming import NFT_TABLE_PREFIX
from lab.net.nat_behaviour import behaviour

NAT_TABLE = f"{NFT_TABLE_PREFIX}nat"


def ruleset(
    nat: str, public_address: str, udp_timeout: int, hairpin: bool,
    wan: str = "wan", lan: str = "lan", lan_subnet: str = "0.0.0.0/0", replace: bool = True,
) -> str:
    """An nft script that creates the router's NAT table (atomically replacing it if `replace`)."""
    table = f"ip {NAT_TABLE}"
    # Deleting a table costs the kernel ~10 ms (RCU grace period): skip it in fresh namespaces.
    lines = [f"table {table} {{}}", f"delete table {table}"] if replace else []
    lines.append(f"table {table} {{")
    lan_only = f'    oifname "{wan}" ip saddr != {lan_subnet} drop'
    axes = behaviour(nat)
    if axes is None:
        lines += [
            "  chain forward_guard {",
            "    type filter hook forward priority filter; policy accept;",
            lan_only,
            "  }",
            "}",
        ]
        return "\n".join(lines) + "\n"
    eim = axes.endpoint_independent_mapping
    full_cone = axes.filtering == "endpoint-independent"
    restricted = axes.filtering == "address-dependent"
    if eim:
        lines += [
            "  map mapping {",
            "    type inet_service : ipv4_addr . inet_service",
            f"    flags dynamic,timeout; timeout {udp_timeout}s;",
            "  }",
        ]
    if restricted:
        lines += [
            "  set permitted {",
            "    type inet_service . ipv4_addr",
            f"    flags dynamic,timeout; timeout {udp_timeout}s;",
            "  }",
        ]
    # Inbound: DNAT for the cone filters, and hairpinning from the LAN to a public mapping.
    lines += ["  chain nat_in {", "    type nat hook prerouting priority dstnat; policy accept;"]
    if full_cone:
        lines.append(f'    iifname "{wan}" udp dport @mapping dnat ip to udp dport map @mapping')
    elif restricted:
        lines.append(f'    iifname "{wan}" udp dport . ip saddr @permitted dnat ip to udp dport map @mapping')
    if hairpin and eim:
        lines.append(
            f'    iifname "{lan}" ip daddr {public_address} udp dport @mapping dnat ip to udp dport map @mapping'
        )
    lines.append("  }")
    masquerade = "masquerade" if eim else "masquerade fully-random"
    lines += [
        "  chain nat_out {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        f'    oifname "{wan}" ip saddr {lan_subnet} {masquerade}',
    ]
    if hairpin and eim:
        # (iifname is unknown in postrouting: match the LAN by source address)
        lines.append(f'    oifname "{lan}" ip saddr {lan_subnet} ct status dnat snat ip to {public_address}')
    lines.append("  }")
    if eim:
        lines += [
            "  chain record_mapping {",
            "    type filter hook postrouting priority srcnat + 10; policy accept;",
            f'    oifname "{wan}" meta l4proto udp ct direction original '
            "update @mapping { udp sport : ct original ip saddr . ct original proto-src }",
        ]
        if restricted:
            lines.append(
                f'    oifname "{wan}" meta l4proto udp ct direction original update @permitted {{ udp sport . ip daddr }}'
            )
        lines.append("  }")
    lines += [
        "  chain input_guard {",
        "    type filter hook input priority filter; policy accept;",
        f'    iifname "{wan}" ct state established,related accept',
        f'    iifname "{wan}" icmp type echo-request accept',
        f'    iifname "{wan}" drop',
        "  }",
        "  chain forward_guard {",
        "    type filter hook forward priority filter; policy accept;",
        f'    iifname "{wan}" ct state established,related accept',
        f'    iifname "{wan}" ct status dnat accept',
        f'    iifname "{wan}" drop',
        lan_only,
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def conntrack_sysctls(udp_timeout: int) -> dict[str, str]:
    """Per-namespace conntrack lifetimes of UDP bindings (unreplied and established)."""
    return {
        "net/netfilter/nf_conntrack_udp_timeout": str(udp_timeout),
        "net/netfilter/nf_conntrack_udp_timeout_stream": str(udp_timeout),
    }
