"""Small helpers for the nft scripts of the shaping tables.

Each shaping table has one base chain per family that dispatches on the output interface
through a verdict map (`oifname vmap @egress`), and one regular chain per shaped interface.
Shaping an interface adds or removes map elements and regular chains only: a base chain is
never deleted, because unregistering a netfilter hook makes the kernel drop every packet the
namespace's shapers are holding.
"""

from __future__ import annotations

import re

from lab.net.shaping.nsexec import run_in_netns


def chain_suffix(ifname: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", ifname)


def base(family: str, table: str, priority: int, extra_rules: tuple[str, ...] = ()) -> str:
    """Declares the table, its map and its base chain, and (re)writes the base chain's rules."""
    chain = f"{family} {table} postrouting"
    script = (
        f"add table {family} {table}\n"
        f"add map {family} {table} egress {{ type ifname : verdict; }}\n"
        f"add chain {chain} {{ type filter hook postrouting priority {priority}; policy accept; }}\n"
        f"flush chain {chain}\n"
        f"add rule {chain} oifname vmap @egress\n"
    )
    return script + "".join(f"add rule {chain} {rule}\n" for rule in extra_rules)


def dispatch(family: str, table: str, ifname: str, chain: str) -> str:
    """Points the interface's map element at its chain (idempotent)."""
    element = f'{family} {table} egress {{ "{ifname}" : jump {chain} }}'
    key = f'{family} {table} egress {{ "{ifname}" }}'
    return f"add element {element}\ndelete element {key}\nadd element {element}\n"


def undispatch(family: str, table: str, ifname: str, chain: str) -> str:
    """Removes the interface's map element and its chain (idempotent; the table must exist)."""
    element = f'{family} {table} egress {{ "{ifname}" : jump {chain} }}'
    key = f'{family} {table} egress {{ "{ifname}" }}'
    return (
        f"add chain {family} {table} {chain}\n"
        f"add element {element}\ndelete element {key}\n"
        f"delete chain {family} {table} {chain}\n"
    )


def tables(netns: str) -> set[tuple[str, str]]:
    """(family, name) of every nftables table in the namespace."""
    out = run_in_netns(netns, ["nft", "list", "tables"]).stdout
    return {(parts[1], parts[2]) for line in out.splitlines() if len(parts := line.split()) == 3}


def chains(netns: str, family: str, table: str) -> list[str]:
    out = run_in_netns(netns, ["nft", "list", "table", family, table], check=False).stdout
    return re.findall(r"^\s*chain (\S+) \{", out, flags=re.MULTILINE)


def run(netns: str, script: str) -> None:
    if script:
        run_in_netns(netns, ["nft", "-f", "-"], stdin=script)
