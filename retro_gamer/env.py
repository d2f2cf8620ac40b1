"""``GameEnvironment``: a retro game behind a gym-style ``reset`` / ``step`` interface."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from retro.input import ProgrammaticInput

from retro_gamer.config import GameMetadata
from retro_gamer.encoding import BoardEncoder, agent_cells, observation_vector, visible_characters
from retro_gamer.errors import GameCrashed, GameDescriptionError
from retro_gamer.games import FINITE_ADVICE, FLOAT32_MAX, make_game, raised_by_game

NO_CHARACTERS: frozenset[str] = frozenset()


class Turn(NamedTuple):
    """What one turn of :meth:`GameEnvironment.act` gave: the reward, whether the game
    ended, and the characters the board showed that the character set lacks (drawn as
    empty cells), seen since the previous turn or on the new game's first board."""

    reward: float
    done: bool
    new_characters: frozenset[str]


class GameEnvironment:
    """Steps a game programmatically and encodes what the agent sees.

    ``reset()`` starts a fresh game from ``create_game()`` and returns the first
    observation; ``step(action)`` sends one keystroke (a name from
    ``metadata.actions``, its index, or ``None`` for the no-op) and returns
    ``(observation, reward, done)``. The reward is the change of the state key
    ``metadata.reward`` during the turn.

    The trainer uses the compact side of the same object: :meth:`act` takes an
    action index and leaves the uint8 board in :attr:`board` and the observed
    state values in :attr:`extras`, with no float one-hot built per turn; it reports
    characters the character set lacks as they appear (:class:`Turn`), and
    :meth:`add_characters` grows the set.
    """

    def __init__(
        self,
        create_game: Callable[[], Any],
        metadata: GameMetadata,
        *,
        exploration_turns: int = 200,
        rng: random.Random | None = None,
    ):
        # Without an rng, discovery is seeded all the same (seed 0): environments built
        # alike must see the same characters, hence the same observation size.
        self.create_game = create_game
        self.metadata = metadata
        self._module = metadata.module or getattr(create_game, "__module__", "the game")
        character_set = metadata.character_set
        if character_set is None:
            character_set = discover_characters(
                create_game, metadata.actions, exploration_turns, rng or random.Random(0)
            )
        self.game = None
        self._input = ProgrammaticInput()
        self._keys: list[str | None] = [*metadata.actions, None]
        probe = make_game(create_game, self._module)
        self.board_size = tuple(probe.board_size)
        self.encoder = BoardEncoder(character_set, self.board_size)
        self.board = np.zeros((self.board_size[1], self.board_size[0]), dtype=np.uint8)
        self.extras = np.zeros(len(metadata.observe_state), dtype=np.float32)
        self._last_reward_value = 0.0
        self.turn = 0
        self.episode = 0  # what messages call the game being played (see start())

    # ------------------------------------------------------------------ specification API

    @property
    def character_set(self) -> list[str]:
        return self.encoder.characters

    @property
    def n_actions(self) -> int:
        return len(self._keys)

    @property
    def observation_size(self) -> int:
        width, height = self.board_size
        return width * height * self.encoder.n_channels + len(self.extras)

    def reset(self) -> np.ndarray:
        """Start a new game and return its first observation."""
        self.start()
        return self.observation()

    def step(self, action: str | int | None) -> tuple[np.ndarray, float, bool]:
        """Play one turn; return ``(observation, reward, done)``."""
        reward, done, _ = self.act(self.action_index(action))
        return self.observation(), reward, done

    def observation(self) -> np.ndarray:
        """The current observation as the specification lays it out (flat float32)."""
        return observation_vector(
            self.board, self.extras, self.encoder.n_channels, self.metadata.spatial
        )

    # ---------------------------------------------------------------------- compact API

    def action_index(self, action: str | int | None) -> int:
        if type(action) is int and 0 <= action < len(self._keys):  # the common case, first
            return action
        if action is None:
            return len(self._keys) - 1
        if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
            if 0 <= action < len(self._keys):
                return int(action)
        elif action in self.metadata.actions:
            return self.metadata.actions.index(action)
        raise ValueError(
            f"Unknown action {action!r}: use one of {self.metadata.actions}, None for the "
            f"no-op, or an index from 0 to {len(self._keys) - 1}."
        )

    def start(self, episode: int | None = None) -> None:
        """Start a fresh game and encode its first board.

        ``episode`` is the number a message about this game names (a trainer passes its
        episode); by default the games this environment started are counted.
        """
        self.episode = self.episode + 1 if episode is None else episode
        self.turn = 0
        self.game = make_game(self.create_game, self._module)
        self.game.input_source = self._input
        self.game.view = None
        with self._game_code():
            self.game.start()
        self._last_reward_value = self._reward_value()
        self._encode()

    def act(self, index: int) -> Turn:
        """Press ``actions[index]`` (the last index is the no-op) and play one turn."""
        if self.game is None or not self.game.playing:
            raise RuntimeError("The game is over (or not started); call reset() first.")
        if not 0 <= index < len(self._keys):
            raise ValueError(f"Action index {index} is outside 0..{len(self._keys) - 1} "
                             f"(the actions {self.metadata.actions}, then the no-op).")
        self._input.press(self._keys[index])
        with self._game_code():
            self.game.step()
        self.turn += 1
        value = self._reward_value()
        reward = value - self._last_reward_value
        if not -FLOAT32_MAX <= reward <= FLOAT32_MAX:  # NaN fails too
            raise self._not_finite(f"The change of '{self.metadata.reward}' (the reward)",
                                   reward)
        self._last_reward_value = value
        self._encode()
        unknown = self.encoder.unknown
        if not unknown:  # the common case: no set is built
            return Turn(reward, not self.game.playing, NO_CHARACTERS)
        new = frozenset(unknown)
        unknown.clear()  # a character still on the board is reported again next turn
        return Turn(reward, not self.game.playing, new)

    def add_characters(self, characters: Iterable[str]) -> None:
        """Append ``characters`` to the character set (one channel each, after the
        existing ones, whose codes keep their meaning) and encode the board again."""
        for character in characters:
            self.encoder.add_character(character)
        self._encode()

    @property
    def done(self) -> bool:
        return self.game is None or not self.game.playing

    @contextlib.contextmanager
    def _game_code(self) -> Iterator[None]:
        """Around a call into the game: whatever the game raises, ``sys.exit()`` included,
        becomes :class:`GameCrashed` naming the game, the turn and the episode."""
        try:
            yield
        except BaseException as error:
            if not raised_by_game(error):
                raise  # Ctrl+C or SIGTERM: the user's stop, not the game's crash
            raise GameCrashed(
                f"The game {self._module} raised {type(error).__name__} during turn "
                f"{self.turn + 1} of episode {self.episode}: {error}"
            ) from error

    def _not_finite(self, what: str, value: float) -> GameCrashed:
        return GameCrashed(
            f"{what} of {self._module} is {value!r} after turn {self.turn} of episode "
            f"{self.episode}. {FINITE_ADVICE}")

    def _encode(self) -> None:
        self.encoder.encode(self.game, out=self.board)
        if self.metadata.observe_state:
            state = self.game.state
            for i, key in enumerate(self.metadata.observe_state):
                self.extras[i] = self._number(state, key)

    def _reward_value(self) -> float:
        return self._number(self.game.state, self.metadata.reward)

    def _number(self, state, key: str) -> float:
        """The number the state holds under ``key``, checked where it enters: a value
        that is missing, not a number, not finite or too large for a 32-bit float stops
        here, before anything learns from it."""
        try:
            value = float(state[key])  # bools and ints become floats too
        except KeyError:
            raise GameDescriptionError(
                f"The state of {self._module} has no key '{key}' any more (turn "
                f"{self.turn} of episode {self.episode}); the description uses it."
            ) from None
        except (TypeError, ValueError, OverflowError):
            raise GameDescriptionError(
                f"The state key '{key}' of {self._module} holds {state[key]!r}, which is not "
                f"a number (turn {self.turn} of episode {self.episode})."
            ) from None
        if not -FLOAT32_MAX <= value <= FLOAT32_MAX:  # NaN fails too
            raise self._not_finite(f"The state key '{key}'", value)
        return value


def random_play(
    create_game: Callable[[], Any], actions: Sequence[str], turns: int, rng: random.Random
) -> Iterator[Any]:
    """Play ``turns`` random turns (new games as needed), yielding the game after each change.

    ``rng`` picks the keys and seeds the games: retro games draw from Python's global
    ``random``, which is seeded from ``rng`` for these turns and restored afterwards, so
    the same ``rng`` sees the same games in any process and the caller's stream is
    left as it was.
    """
    keys = [*actions, None]
    source = ProgrammaticInput()
    outer = random.getstate()
    random.seed(rng.getrandbits(64))
    try:
        yield from _random_turns(create_game, keys, source, turns, rng)
    finally:
        random.setstate(outer)


def _random_turns(create_game, keys, source, turns: int, rng: random.Random) -> Iterator[Any]:
    game = None
    for _ in range(turns):
        if game is None or not game.playing:
            game = make_game(create_game)
            game.input_source, game.view = source, None
            with _exploring():
                game.start()
            yield game
        source.press(rng.choice(keys))
        with _exploring():
            game.step()
        yield game


@contextlib.contextmanager
def _exploring() -> Iterator[None]:
    try:
        yield
    except BaseException as error:
        if not raised_by_game(error):
            raise
        raise GameCrashed(
            f"The game raised {type(error).__name__} while exploring its characters: {error}"
        ) from error


def discover_characters(
    create_game: Callable[[], Any], actions: Sequence[str], turns: int, rng: random.Random
) -> list[str]:
    """Play ``turns`` random turns and return the characters seen, sorted."""
    seen: set[str] = set()
    for game in random_play(create_game, actions, turns, rng):
        seen.update(c for _, _, c in visible_characters(game))
    seen.discard(" ")
    return sorted(seen)


def discover_player_characters(
    create_game: Callable[[], Any], actions: Sequence[str], turns: int, rng: random.Random
) -> list[str]:
    """The characters only the player shows, seen over ``turns`` random turns, sorted.

    The player is what retro sends keystrokes to: the agents with a
    ``handle_keystroke`` method. A character that another agent shows as well is
    left out, since it would not say where the player is.
    """
    player: set[str] = set()
    others: set[str] = set()
    for game in random_play(create_game, actions, turns, rng):
        for agent in game.agents:
            for _, character in agent_cells(agent):
                (player if hasattr(agent, "handle_keystroke") else others).add(character)
    return sorted(player - others - {" "})
