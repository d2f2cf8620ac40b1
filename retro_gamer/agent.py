"""A trained agent: a Q-network loaded from a checkpoint, acting greedily."""

from __future__ import annotations

import numpy as np
import torch

from retro_gamer import memory
from retro_gamer.config import GameMetadata
from retro_gamer.errors import CheckpointError
from retro_gamer.networks import QNetwork
from retro_gamer.run_dir import RunDirectory, check_same_game


def default_checkpoint(run: RunDirectory) -> tuple[str, str | None]:
    """The checkpoint to use when none is named: ``final``, or the newest if there is no
    ``final`` yet (a stopped run), with a note saying so (None when ``final`` exists)."""
    found = run.checkpoints()
    if not found or any(path.stem == "final" for path in found):
        return "final", None
    newest = run.checkpoint_path("latest")
    return str(newest), (
        f"{run.path} has no final checkpoint (its training has not finished): using the "
        f"newest, {newest.stem}. Finish it with: retro-gamer train {run.path} --resume latest")


class GreedyAgent:
    """Picks the action with the highest Q-value for a compact board and state values."""

    def __init__(self, network: QNetwork, metadata: GameMetadata, character_set: list[str]):
        self.network = network.eval()
        self.metadata = metadata
        self.character_set = character_set

    @classmethod
    def from_checkpoint(cls, run: RunDirectory, name: str = "final") -> GreedyAgent:
        metadata, _ = run.read_config()
        path = run.checkpoint_path(name)
        state = run.load_checkpoint(path)
        signature = dict(state.get("network", {}))
        try:
            signature["board_size"] = tuple(signature["board_size"])
            memory.require(4 * memory.parameter_count(signature), f"The network in {path}",
                           "The checkpoint declares a network larger than this machine can "
                           "hold; use a checkpoint of a smaller run.")
            network = QNetwork(**signature)
            network.load_state_dict(state["model"])
        except (KeyError, TypeError, RuntimeError) as error:
            raise CheckpointError(
                f"{path} does not hold a network retro-gamer can rebuild: "
                f"{str(error).splitlines()[0]}"
            ) from None
        check_same_game(state, metadata, path)
        metadata.character_set = list(state["character_set"])
        return cls(network, metadata, metadata.character_set)

    def act(self, board: np.ndarray, extras: np.ndarray) -> int:
        with torch.no_grad():
            q = self.network(torch.from_numpy(board)[None], torch.from_numpy(extras)[None])
        return int(q[0].argmax())

    def act_batch(self, boards: np.ndarray, extras: np.ndarray) -> np.ndarray:
        """Greedy action indices, shape ``(n,)``, for ``n`` boards and their state values.

        Runs on the network's device (a trainer evaluating its own network on a GPU).
        """
        device = next(self.network.parameters()).device
        with torch.no_grad():
            q = self.network(torch.from_numpy(boards).to(device),
                             torch.from_numpy(extras).to(device))
        return q.argmax(dim=1).cpu().numpy()


