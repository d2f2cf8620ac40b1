"""``retro-gamer info``: a run directory summarised with rich."""

from __future__ import annotations

import datetime as dt
import os

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from retro_gamer.config import Hyperparameters
from retro_gamer.run_dir import RunDirectory


def run_summary(run_dir: str | os.PathLike, recent: int = 10) -> dict:
    """Everything ``info`` shows, as plain data."""
    run = RunDirectory(run_dir)
    metadata, hyper = run.read_config()
    defaults = Hyperparameters().to_dict()
    episodes = run.episodes()
    checkpoints = []
    for path in run.checkpoints():
        stat = path.stat()
        checkpoints.append({
            "name": path.stem,
            "size_bytes": stat.st_size,
            "modified": dt.datetime.fromtimestamp(stat.st_mtime).isoformat(timespec="seconds"),
        })
    return {
        "run_dir": str(run.path),
        "game": metadata.to_dict(),
        "hyperparameters": hyper.to_dict(),
        "non_default": sorted(k for k, v in hyper.to_dict().items()
                              if k != "seed" and v != defaults[k]),
        "episodes_done": episodes[-1]["episode"] if episodes else 0,
        "recent_episodes": episodes[-recent:],
        "checkpoints": checkpoints,
    }


def render_run(summary: dict, console: Console) -> None:
    game = summary["game"]
    kind = "CNN (spatial)" if game["spatial"] else "MLP (non-spatial)"
    size = game.get("board_size") or ["?", "?"]
    lines = [
        f"[b]module[/b]        {escape(str(game['module']))}",
        f"[b]board[/b]         {size[0]} x {size[1]}",
        f"[b]actions[/b]       {escape(', '.join(game['actions']))} + no-op",
        f"[b]reward[/b]        {escape(game['reward'])}",
        "[b]characters[/b]    "
        + (escape(" ".join(game["character_set"])) if game["character_set"] is not None
           else "(discovered when training starts)"),
        f"[b]observe_state[/b] {escape(', '.join(game['observe_state'])) or '(none)'}",
        f"[b]network[/b]       {kind}",
    ]
    console.print(Panel("\n".join(lines), title=f"Run {escape(summary['run_dir'])}",
                        expand=False))

    hp = Table(title="Hyperparameters (* differs from the default)", title_justify="left")
    hp.add_column("name")
    hp.add_column("value", justify="right")
    hp.add_column("")
    for name, value in summary["hyperparameters"].items():
        changed = name in summary["non_default"]
        hp.add_row(escape(name), escape(str(value)), "*" if changed else "",
                   style="bold" if changed else None)
    console.print(hp)

    episodes = summary["recent_episodes"]
    if episodes:
        table = Table(title=f"Recent episodes ({summary['episodes_done']} done)",
                      title_justify="left")
        for column in ("episode", "total_reward", "steps", "epsilon", "avg_loss"):
            table.add_column(column, justify="right")
        for ep in episodes:
            table.add_row(str(ep["episode"]), f"{ep['total_reward']:g}", str(ep["steps"]),
                          f"{ep['epsilon']:.4f}", f"{ep['avg_loss']:.6f}")
        console.print(table)
    else:
        console.print("No episodes trained yet. Start with: retro-gamer train "
                      + escape(summary["run_dir"]))

    if summary["checkpoints"]:
        table = Table(title="Checkpoints", title_justify="left")
        table.add_column("name")
        table.add_column("size", justify="right")
        table.add_column("saved")
        for cp in summary["checkpoints"]:
            table.add_row(cp["name"], f"{cp['size_bytes'] / 1e6:.1f} MB", cp["modified"])
        console.print(table)
    else:
        console.print("No checkpoints yet.")


__all__ = ["run_summary", "render_run"]
