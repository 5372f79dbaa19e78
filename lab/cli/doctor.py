"""`icelab doctor`: can this machine run the lab?"""

from __future__ import annotations

import typer

from lab.cli import app


@app.command("doctor")
def doctor() -> None:
    """Check kernel features, tools, Docker and its images; exit 1 if the namespace runtime cannot run."""
    from lab.net.doctor import run_all
    from lab.runtime.docker.runtime import image_checks
    from lab.runtime.kinds import browser_checks
    from lab.sfu.doctor import sfu_checks

    checks = run_all() + image_checks() + sfu_checks() + browser_checks()
    for check in checks:
        mark = "ok " if check.ok else ("-- " if not check.required else "FAIL")
        typer.echo(f"{mark:4} {check.name}: {check.detail}".rstrip(": "))
    broken = [c.name for c in checks if c.required and not c.ok]
    if broken:
        typer.echo(f"the netns runtime cannot run here: {', '.join(broken)}", err=True)
        raise typer.Exit(1)
