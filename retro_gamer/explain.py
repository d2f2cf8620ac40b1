"""Why the agent moves: each action's Q-value, the choice, its margin, and what the network sees.

``retro-gamer play --explain`` (and the ``e`` key while playing) shows this beside the game;
with ``--record`` it is kept in every frame of the asciicast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from retro_gamer.agent import GreedyAgent

NO_OP = "no-op"
EMPTY = "·"  # an empty cell of the view
OFF_BOARD = "░"  # a cell beyond the board's edge, which the network sees as a wall
VIEW_RADIUS = 3  # the view shown: the 7x7 cells around the player


@dataclass
class Explanation:
    """One turn's decision: the Q-values (one per action, the no-op last), the greedy
    choice, its margin over the runner-up, and the cells the network sees."""

    actions: list[str]
    q_values: list[float]
    chosen: int
    margin: float
    view: list[str]  # rows of characters around the player (empty: no egocentric view)

    def lines(self) -> list[str]:
        """The explanation as text rows, the chosen action marked with ``▶``."""
        width = max(len(name) for name in self.actions)
        rows = ["Q-values (expected future reward):"]
        rows += [f"{'▶' if i == self.chosen else ' '} {name.ljust(width)} {q:10.4f}"
                 for i, (name, q) in enumerate(zip(self.actions, self.q_values, strict=True))]
        rows.append(f"greedy margin {self.margin:.4f} (best - runner-up)")
        if self.view:
            rows.append(f"view around the player ({OFF_BOARD} off board):")
            rows += ["  " + row for row in self.view]
        else:
            rows.append("it sees the whole board (no re-centring)")
        return rows


def explain(agent: GreedyAgent, board: np.ndarray, extras: np.ndarray,
            radius: int = VIEW_RADIUS) -> Explanation:
    """The agent's decision for one ``(H, W)`` board of codes and its state values.

    The Q-values are the network's own for this board (one forward pass); the view is
    the network's re-centred input cut to ``2 * radius + 1`` cells a side.
    """
    network = agent.network
    device = next(network.parameters()).device
    boards = torch.from_numpy(board).to(device)[None]
    with torch.no_grad():
        q = network(boards, torch.from_numpy(extras).to(device)[None])[0].cpu()
    chosen = int(q.argmax())  # as GreedyAgent.act chooses (the first of equal values)
    others = torch.cat([q[:chosen], q[chosen + 1:]])
    margin = float(q[chosen] - others.max()) if len(others) else 0.0
    view: list[str] = []
    if network.center_codes:
        with torch.no_grad():
            seen = network.recentre(boards)[0].cpu().numpy()
        h, w = seen.shape
        top, left = max(0, h // 2 - radius), max(0, w // 2 - radius)
        symbols = {0: EMPTY, network.WALL: OFF_BOARD}
        symbols.update({code: char for code, char in enumerate(agent.character_set, 1)})
        view = ["".join(symbols.get(int(code), "?") for code in row[left:w // 2 + radius + 1])
                for row in seen[top:h // 2 + radius + 1]]
    return Explanation([*agent.metadata.actions, NO_OP], [float(v) for v in q],
                       chosen, margin, view)


__all__ = ["Explanation", "explain"]
