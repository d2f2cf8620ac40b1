"""A game's declared mirror symmetries, applied to stored transitions (symmetric experience).

Many grid games play the same seen in a mirror, once the keys and the glyphs that
carry a direction are swapped alike: Snake mirrored left-right is Snake, with
``KEY_LEFT``/``KEY_RIGHT`` and the head glyphs ``<``/``>`` exchanged. A transition
seen through such a symmetry is one the game could have produced, so it is extra
experience that costs no game turn (Symmetric DQN; group-equivariant DQN, Mondal,
Nair & Siddiqi, 2020). A game declares its symmetries in its description::

    [tool.retro-gamer.symmetries.left-right]
    actions = [["KEY_LEFT", "KEY_RIGHT"]]
    characters = [["<", ">"]]

    [tool.retro-gamer.symmetries.up-down]
    actions = [["KEY_UP", "KEY_DOWN"]]
    characters = [["^", "v"]]
    negate_state = ["apple_dy"]          # observed values that change sign

Each mirror swaps the listed pairs; every other action and character is its own
image. Observed state values are unchanged unless listed in ``negate_state``. With
both mirrors declared, their composition (a half turn) holds too. retro-gamer never
assumes a symmetry a game does not declare: a game with gravity, or a wall on one
side, declares none (or only the mirror its rules keep) and learns as before.

:class:`SymmetryGroup` holds the mirrors as lookup tables over the compact board's
codes and the actions' indices, and transforms a sampled :class:`~retro_gamer.replay.Batch`
(each transition by a symmetry drawn uniformly from the group, the identity included).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from retro_gamer.config import MIRRORS
from retro_gamer.replay import Batch


@dataclass(frozen=True)
class Symmetry:
    """One element of the group: which axes it flips and its lookup tables.

    ``codes[c]`` is the board code that code ``c`` becomes (256 entries, uint8);
    ``actions[i]`` the action index that action ``i`` becomes (the no-op included);
    ``signs`` multiplies the observed state values (``+1`` or ``-1`` each).
    """

    flip_rows: bool
    flip_columns: bool
    codes: np.ndarray
    actions: np.ndarray
    signs: np.ndarray

    def board(self, boards: np.ndarray) -> np.ndarray:
        """``(..., H, W)`` uint8 boards seen in this mirror (positions and glyphs)."""
        out = boards
        if self.flip_rows:
            out = out[..., ::-1, :]
        if self.flip_columns:
            out = out[..., :, ::-1]
        return self.codes[out]


class SymmetryGroup:
    """The group a game's declared mirrors generate, over the run's encoding.

    ``codes`` maps each character of the run's character set to its board code
    (:class:`~retro_gamer.encoding.BoardEncoder`'s ``codes``); ``actions`` are the
    description's actions (the no-op, last, is its own image); ``n_extras`` the
    observed state values (``observe_state``) a stored transition carries first.
    """

    def __init__(self, symmetries: dict, actions: list[str], codes: dict[str, int],
                 observe_state: list[str]):
        generators = []
        for mirror in MIRRORS:
            if mirror not in symmetries:
                continue
            table = symmetries[mirror]
            code_map = np.arange(256, dtype=np.uint8)
            for a, b in table.get("characters", []):
                if a in codes and b in codes:
                    code_map[codes[a]], code_map[codes[b]] = codes[b], codes[a]
            action_map = np.arange(len(actions) + 1)
            for a, b in table.get("actions", []):
                i, j = actions.index(a), actions.index(b)
                action_map[i], action_map[j] = j, i
            signs = np.array([-1.0 if key in table.get("negate_state", []) else 1.0
                              for key in observe_state], dtype=np.float32)
            generators.append((mirror == "up-down", mirror == "left-right", code_map,
                               action_map, signs))
        identity = (False, False, np.arange(256, dtype=np.uint8), np.arange(len(actions) + 1),
                    np.ones(len(observe_state), dtype=np.float32))
        self.elements = [Symmetry(*identity)]
        # Mirrors about perpendicular axes commute: the group is every subset of them.
        for count in range(1, len(generators) + 1):
            for subset in itertools.combinations(generators, count):
                rows, columns, codes_map, action_map, signs = identity
                for g in subset:
                    rows, columns = rows ^ g[0], columns ^ g[1]
                    codes_map, action_map, signs = g[2][codes_map], g[3][action_map], signs * g[4]
                self.elements.append(Symmetry(rows, columns, codes_map, action_map, signs))
        self.n_state = len(observe_state)

    def __len__(self) -> int:
        return len(self.elements)

    def transform_batch(self, batch: Batch, rng: np.random.Generator) -> Batch:
        """Each transition of ``batch`` seen through a symmetry drawn uniformly from the
        group (the identity included), boards and next boards alike.

        Extras beyond the observed state values (a bounded view's whole-board summary)
        are left as they are: the learner recomputes them from the transformed boards.
        """
        choice = rng.integers(len(self.elements), size=len(batch.actions))
        boards, next_boards = batch.boards.copy(), batch.next_boards.copy()
        actions, extras, next_extras = (batch.actions.copy(), batch.extras.copy(),
                                        batch.next_extras.copy())
        for k, element in enumerate(self.elements):
            if k == 0:
                continue
            rows = np.flatnonzero(choice == k)
            if not len(rows):
                continue
            boards[rows] = element.board(batch.boards[rows])
            next_boards[rows] = element.board(batch.next_boards[rows])
            actions[rows] = element.actions[batch.actions[rows]]
            if self.n_state:
                extras[rows, :self.n_state] *= element.signs
                next_extras[rows, :self.n_state] *= element.signs
        return batch._replace(boards=boards, next_boards=next_boards, actions=actions,
                              extras=extras, next_extras=next_extras)


__all__ = ["Symmetry", "SymmetryGroup"]
