"""``DQNTrainer``: Deep Q-Network training (Mnih et al., 2015, "Human-level control
through deep reinforcement learning") on a retro game.

The loop in :meth:`DQNTrainer.train` reads as the algorithm does: act
epsilon-greedily, step the game, store the transition (as an n-step transition,
reward clipped if asked, once ``n_step`` turns are known), every ``train_every`` turns
(after ``learning_starts``) take ``gradient_steps`` steps fitting the Q-network
to TD targets (rewards scaled by :class:`~retro_gamer.rewards.RewardScaler`,
observed state values standardised by :class:`~retro_gamer.state_scaling.StateScaler`)
from a target network (Double DQN by default), copy the network
into the target every ``target_update_freq`` training steps, and decay epsilon
and the learning rate after each episode; every ``eval_every`` episodes, score
the greedy policy and keep the best as ``best.pt``. Nothing in the loop reads a value
back from the device except the chosen action (and, for prioritized replay,
the TD errors the sum-tree needs); the episode's mean loss is read once per
episode. docs/benchmarks.md has the measurements behind each default. Everything it writes goes
through :class:`~retro_gamer.run_dir.RunDirectory`; everything it reports goes
to the ``on_episode`` callback. The trainer reads no ``config.toml``: it is given its
settings as objects (:mod:`retro_gamer.settings` has their whole path), and hands what it
discovers (characters, board size, seed) to one config writer.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import random
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from retro_gamer import memory
from retro_gamer.agent import GreedyAgent
from retro_gamer.config import (
    AUTO,
    SHAPE_FIELDS,
    GameMetadata,
    Hyperparameters,
    check_center_on,
)
from retro_gamer.device import select_device  # noqa: F401 -- also importable from here
from retro_gamer.env import GameEnvironment, discover_player_characters
from retro_gamer.errors import (
    CheckpointError,
    RunDirectoryError,
    TrainingInterrupted,
)
from retro_gamer.evaluation import evaluate_agent
from retro_gamer.learner import Learner, td_targets
from retro_gamer.networks import QNetwork, build_network, describe, size_line, size_warning
from retro_gamer.numerics import subnormals_flushed
from retro_gamer.replay import ReplayBuffer, make_replay
from retro_gamer.exploration import EpisodicNoveltyBonus
from retro_gamer.rewards import RewardScaler
from retro_gamer.run_dir import (
    RunDirectory,
    check_same_game,
    eval_line,
    shell_path,
)
from retro_gamer.settings import (
    ConfigWriter,
    Discoveries,
    RunConfigFile,
    keyword_hyperparameters,
)
from retro_gamer.state_scaling import StateScaler
from retro_gamer.symmetry import SymmetryGroup
from retro_gamer.training_stats import EpisodeStats, TurnStats, mean_loss

CHECKPOINT_FORMAT = 1
# What only a resume needs; the run directory keeps it in the newest checkpoint alone.
RESUME_ONLY = ("target", "optimizer", "rng")
STOP_GRACE = 1.0  # seconds an episode may go on after a stop request before it is ended
REQUIRED_FIELDS = ("model", "network", "character_set", "actions", "epsilon", "learning_rate",
                   "episode", "env_steps", "train_steps", "seed")


# Long episodes (a large board, a good player) can run for minutes: the progress display
# hears about them every this many turns (it decides by the clock what to show), at the
# cost of one comparison per turn. A turn on a very large board can take a second.
TURN_REPORT_EVERY = 10


@dataclass
class TrainingResult:
    episodes_done: int
    env_steps: int
    train_steps: int
    final_checkpoint: Path | None
    interrupted: bool
    seconds: float
    discovered: Discoveries | None = None  # what config_writer recorded last


class NetworkSizeWarning(UserWarning):
    """The network costs so much per step that training will be slow (see ``size_warning``)."""


class RewardClipWarning(UserWarning):
    """``reward_clip`` made rewards that the game tells apart look the same."""


# --------------------------------------------------------------------- pure pieces


def decayed(value: float, decay: float, floor: float = 0.0) -> float:
    """One episode's multiplicative decay, never below ``floor``."""
    return max(floor, value * decay)


def epsilon_greedy(q_values: Callable[[], torch.Tensor], epsilon: float, n_actions: int,
                   rng: random.Random) -> int:
    """A random action with probability ``epsilon``, else the best by ``q_values()``."""
    if rng.random() < epsilon:
        return rng.randrange(n_actions)
    return int(q_values().argmax().item())


class NStepQueue:
    """Turns one game's turns into n-step transitions (Sutton, 1988; Hessel et al., 2018).

    Each turn is added with its reward as learned (clipped, scaled); once ``n``
    turns are queued the oldest leaves as ``(board, extras, action, sum_k gamma^k r_k,
    board_n, extras_n, done)``. When the game ends every queued turn leaves with its
    truncated sum and ``done`` (no bootstrap is needed past the end). An episode cut off by
    ``max_turns_per_episode`` drops its last ``n - 1`` turns, whose targets would need
    another discount. The queue is empty at every episode boundary, so checkpoints (written
    between episodes) need not hold it.
    """

    def __init__(self, n: int, gamma: float):
        self.n, self.gamma = n, gamma
        self.turns: list[tuple] = []

    def add(self, board, extras, action: int, reward: float, next_board, next_extras,
            done: bool) -> list[tuple]:
        self.turns.append((board, extras, action, reward))
        ready = []
        if done:
            while self.turns:
                ready.append(self._pop(next_board, next_extras, True))
        elif len(self.turns) >= self.n:
            ready.append(self._pop(next_board, next_extras, False))
        return ready

    def clear(self) -> None:
        self.turns.clear()

    def rescale(self, factor: float) -> None:
        """Multiply the queued turns' rewards by ``factor`` (the reward scale changed)."""
        self.turns = [(*turn[:3], turn[3] * factor) for turn in self.turns]

    def _pop(self, next_board, next_extras, done: bool) -> tuple:
        ret = 0.0
        for k, turn in enumerate(self.turns):
            ret += (self.gamma ** k) * turn[3]
        board, extras, action, _ = self.turns.pop(0)
        return board, extras, action, ret, next_board, next_extras, done


def fresh_seed() -> int:
    return int.from_bytes(os.urandom(4), "little")


# --------------------------------------------------------------------- the trainer


class DQNTrainer:
    """Trains a DQN agent on ``create_game`` and writes the run into ``run_dir``.

    ``hyperparameters`` (a :class:`Hyperparameters`) are the settings to train with;
    keyword arguments override single values, and an unknown name is refused with a
    suggestion. Without ``hyperparameters`` (the keyword form), the values of
    ``run_dir/config.toml``, when there is one, are the starting point.
    ``config_writer`` records the settings and what training discovers
    (:class:`~retro_gamer.settings.Discoveries`) before the first episode and whenever
    the character set grows; by default ``run_dir/config.toml``
    (:class:`~retro_gamer.settings.RunConfigFile`). ``on_note`` receives one-line facts
    for the user (the network's size) when training starts; a network too costly to
    train at a useful rate is also reported as a :class:`NetworkSizeWarning` and in
    ``training.log``.
    """

    def __init__(self, create_game: Callable[[], Any], metadata: GameMetadata,
                 run_dir: str | os.PathLike, hyperparameters: Hyperparameters | None = None,
                 *, on_episode: Callable[[EpisodeStats], None] | None = None,
                 on_note: Callable[[str], None] | None = None,
                 on_turn: Callable[[TurnStats], None] | None = None,
                 config_writer: ConfigWriter | None = None,
                 **overrides: Any):
        self.create_game = create_game
        self.metadata = copy.deepcopy(metadata)  # discovery must not change the caller's
        self.run = RunDirectory(run_dir)
        text = None
        if hyperparameters is None:
            self.hp, text = keyword_hyperparameters(run_dir, overrides, "DQNTrainer")
        else:  # a copy: the resolved seed must not change the caller's object
            self.hp = Hyperparameters.from_mapping({**hyperparameters.to_dict(), **overrides},
                                                   "DQNTrainer")
        # Resuming by the keyword form needs the run's config.toml (it says what the run is).
        self.config_required = hyperparameters is None
        self.config_writer = config_writer or RunConfigFile(self.run.path, text)
        self.on_episode = on_episode
        self.on_note = on_note  # one-line facts for the user: the network's size
        self.on_turn = on_turn
        self.stop_requested = False
        self.stop_time = 0.0
        self.cut_short: int | None = None  # turns of an episode a stop request ended early

    # What the learning update owns (retro_gamer.learner) -------------------------

    @property
    def network(self) -> QNetwork:
        """The online Q-network being trained."""
        return self.learner.network

    @property
    def target(self) -> QNetwork:
        return self.learner.target

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.learner.optimizer

    @property
    def train_steps(self) -> int:
        return self.learner.train_steps

    @train_steps.setter
    def train_steps(self, value: int) -> None:
        self.learner.train_steps = value

    # The loop -----------------------------------------------------------------

    def train(self, resume: str | os.PathLike | None = None) -> TrainingResult:
        """Train for ``training_episodes`` episodes in all (continuing a checkpoint if given)."""
        hp = self.hp
        checkpoint = self._resume_state(resume)
        if checkpoint is None:
            self.run.refuse_fresh_start()
        if checkpoint:
            hp.seed = checkpoint["seed"]
        elif hp.seed is None:
            hp.seed = fresh_seed()
        seed = hp.seed
        random.seed(seed)
        torch.manual_seed(seed)
        self.np_rng = np.random.default_rng(seed)
        self.agent_rng = random.Random(seed ^ 0x5EED)
        self.device = select_device(hp.device)
        if hp.torch_threads:
            torch.set_num_threads(hp.torch_threads)

        metadata = self.metadata
        if checkpoint:
            metadata.character_set = list(checkpoint["character_set"])
        network = checkpoint["network"] if checkpoint else {}
        self.resumed_center_codes = network.get("center_codes")
        self.env = GameEnvironment(self.create_game, metadata,
                                   exploration_turns=hp.exploration_turns,
                                   rng=random.Random(seed))
        metadata.character_set = list(self.env.character_set)
        metadata.board_size = list(self.env.board_size)
        self._build(self.env.encoder.n_channels)
        # state_scaling: the running statistics the networks standardise observed values by.
        self.state_scaler = (StateScaler(self.network.n_extras) if self.network.scales_state
                             else None)
        width, height = self.env.board_size
        n_stored = len(self._observed_extras(self.env.board, self.env.extras))
        self.replay: ReplayBuffer = make_replay(
            hp.prioritize_experiences, hp.memory_capacity, (height, width),
            n_stored, self.np_rng, hp.priority_alpha, hp.priority_beta)
        self.epsilon, self.learning_rate = hp.epsilon, hp.learning_rate
        self.episode = self.env_steps = self.train_steps = 0
        self.n_step = NStepQueue(hp.n_step, hp.gamma)
        self.reward_scaler = RewardScaler(hp.reward_clip, hp.reward_scaling)
        self.novelty = EpisodicNoveltyBonus(hp.novelty_bonus) if hp.novelty_bonus else None
        self.best_evaluation: dict | None = None
        note = self._restore(checkpoint) if checkpoint else None
        started = time.perf_counter()
        last_saved: Path | None = None
        # Everything is validated and loaded: only now is the first byte written, and from
        # here on a stop request is met by saving (never by leaving the run half-begun).
        with self._stop_on_signals(), self._naming_failed_writes(), subnormals_flushed():
            self._start_writing(checkpoint, note)
            while self.episode < hp.training_episodes:
                self._play_episode(started)
                if self.episode % hp.checkpoint_every == 0:
                    last_saved = self._save(self.run.named_checkpoint(self.episode))
                if self.stop_requested:
                    break
            interrupted = self.episode < hp.training_episodes or self.cut_short is not None
            if interrupted:
                if last_saved is None or _saved_at(last_saved) != self.episode:
                    last_saved = self._save(self.run.named_checkpoint(self.episode))
                raise TrainingInterrupted(
                    f"Training stopped at episode {self.episode} of {hp.training_episodes}"
                    f"{self._cut_note()}; checkpoint saved to {last_saved}."
                    f"{self._schedule_note()} Resume with: retro-gamer train "
                    f"{shell_path(self.run.path)} --resume latest")
            final = self._save(self.run.named_checkpoint(None))
        return TrainingResult(self.episode, self.env_steps, self.train_steps, final,
                              False, time.perf_counter() - started, self.discoveries())

    def _start_writing(self, checkpoint: dict | None, note: str | None) -> None:
        """The run's first writes: config.toml, then a new log or the resumed one."""
        self._record()
        if checkpoint:
            self.run.truncate_log_after(self.episode, f"# resumed from "
                                        f"{Path(checkpoint['_path']).name} after episode "
                                        f"{self.episode}; {note}")
        else:
            self.run.start_log(self._header())
        self._report_size()

    def _play_episode(self, started: float) -> None:
        hp, env = self.hp, self.env
        self.episode += 1
        env.start(self.episode)
        self._observe_state()
        total_reward, steps = 0.0, 0
        loss_sum, n_losses = torch.zeros((), device=self.device), 0
        epsilon = self.epsilon
        starts = max(hp.batch_size, hp.learning_starts)
        self.n_step.clear()
        if self.novelty is not None:
            self.novelty.reset()
            self.novelty.bonus(env.board)  # the start counts as seen
        while steps < hp.max_turns_per_episode:
            if self.stop_requested and self._stop_overdue(steps):
                break
            board, extras = env.board.copy(), self._observed_extras(env.board, env.extras)
            action = epsilon_greedy(functools.partial(self._q_values, board, extras), epsilon,
                                    env.n_actions, self.agent_rng)
            reward, done, new_characters = env.act(action)
            self._observe_state()
            if new_characters:
                self._meet_characters(new_characters)
            self._store(board, extras, action, reward, done)
            steps += 1
            self.env_steps += 1
            total_reward += reward
            if self.env_steps % hp.train_every == 0 and self.env_steps >= starts \
                    and len(self.replay) >= hp.batch_size:
                for _ in range(hp.gradient_steps):
                    loss_sum += self.learner.step(self.replay,
                                                  self.episode / hp.training_episodes)
                    n_losses += 1
            if done:
                break
            if self.on_turn and steps % TURN_REPORT_EVERY == 0:
                self.on_turn(TurnStats(self.episode, hp.training_episodes, steps, self.env_steps,
                                       self.train_steps, time.perf_counter() - started))
        self.n_step.clear()
        warning = self.reward_scaler.clipping_warning()
        if warning:
            self.run.append_log(f"# warning: {warning}")
            warnings.warn(warning, RewardClipWarning, stacklevel=1)
        # One device-to-host read of the losses per episode, not one per training step.
        avg_loss = mean_loss(loss_sum, n_losses, self.episode, self.run.path)
        self.run.log_episode(self.episode, total_reward, steps, epsilon, avg_loss,
                             self.learning_rate, self.env_steps, time.perf_counter() - started)
        if self.cut_short is not None:
            self.run.append_log(f"# episode {self.episode} ended early after {steps} turns: "
                                "a stop was requested")
        self.epsilon = decayed(self.epsilon, hp.epsilon_decay, hp.epsilon_min)
        self.learning_rate = decayed(self.learning_rate, hp.lr_decay)
        self.learner.set_learning_rate(self.learning_rate)
        evaluation = self._evaluate() if self._evaluation_due() else None
        # The callback may ask to stop (an Optuna pruner did): the same path as Ctrl+C.
        if self.on_episode and self.on_episode(EpisodeStats(
                self.episode, hp.training_episodes, total_reward, steps, epsilon, avg_loss,
                self.learning_rate, self.env_steps, self.train_steps,
                time.perf_counter() - started, evaluation)):
            self.stop_requested = True

    def _observe_state(self) -> None:
        """``state_scaling``: count the observed values of the board just seen into the
        statistics, and have both networks standardise by them from now on (the replay
        buffer keeps the raw values, so every sample is standardised alike)."""
        if self.state_scaler is None:
            return
        self.state_scaler.observe(self.env.extras)
        mean, std = self.state_scaler.statistics()
        self.network.set_state_statistics(mean, std)
        self.target.set_state_statistics(mean, std)

    def _store(self, board: np.ndarray, extras: np.ndarray, action: int, reward: float,
               done: bool) -> None:
        """Scale the reward and store the turn (as n-step transitions once they are known)."""
        env = self.env
        learned, rescale = self.reward_scaler.observe(reward)
        if rescale != 1.0:  # the scale grew: what is stored follows it
            self.replay.rescale_rewards(rescale)
            self.n_step.rescale(rescale)
        if self.novelty is not None:  # learned only: the logged score stays the game's
            learned += self.novelty.bonus(env.board)
        for transition in self.n_step.add(board, extras, action, learned, env.board,
                                          self._observed_extras(env.board, env.extras), done):
            self.replay.push(*transition)

    def _evaluation_due(self) -> bool:
        hp = self.hp
        return bool(hp.eval_every and hp.eval_episodes and self.episode % hp.eval_every == 0)

    def _evaluate(self) -> float:
        """``eval_every``: score the greedy policy, log it, keep the best as ``best.pt``.

        The ``eval_episodes`` games are seeded with the run's seed, so every
        evaluation plays the same games and ``retro-gamer eval --checkpoint best``
        gives the logged figures again. The random streams training draws from
        are restored afterwards, so training goes on exactly as without it.
        """
        hp = self.hp
        metadata = copy.deepcopy(self.metadata)
        metadata.character_set = list(self.env.character_set)
        was_training = self.network.training
        agent = GreedyAgent(self.network, metadata, metadata.character_set)
        try:
            result = evaluate_agent(agent, self.create_game, hp.eval_episodes,
                                    hp.max_turns_per_episode, hp.seed)
        finally:
            self.network.train(was_training)
        best = self.best_evaluation is None or result.mean > self.best_evaluation["mean"]
        if best:
            self.best_evaluation = {
                "episode": self.episode, "mean": result.mean, "median": result.median,
                "maximum": result.maximum, "episodes": result.episodes, "seed": hp.seed}
            # No replay companion: that belongs to the newest ep_NNNN.pt (exact resume).
            self.run.save_checkpoint(self.run.best_checkpoint_path, self._state())
        self.run.append_log(eval_line(self.episode, result.mean, result.median,
                                      result.maximum, result.episodes, hp.seed, best))
        return result.mean

    def _q_values(self, board: np.ndarray, extras: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return self.network(torch.from_numpy(board).to(self.device).unsqueeze(0),
                                torch.from_numpy(extras).to(self.device).unsqueeze(0))[0]

    def _observed_extras(self, board: np.ndarray, extras: np.ndarray) -> np.ndarray:
        """What the replay buffer stores beside a board: the observed state values and,
        for a bounded view, the board's summary (computed once, not once per sample).
        With 'extend' the channels, hence the summary's size, may change: not stored."""
        if self.hp.unknown_character_strategy == "extend":
            return extras.copy()
        return self.network.with_summary(board, extras)

    # Building, extending, saving and restoring ----------------------------------

    def _build(self, n_channels: int) -> None:
        hp, md = self.hp, self.metadata
        codes = self._center_codes()  # may play random turns: once only
        with torch.device("meta"):  # sized before anything is allocated
            planned = build_network(n_channels, self.env.board_size, md, hp, codes)
        self._require_memory(planned)
        network = build_network(n_channels, self.env.board_size, md, hp, codes).to(self.device)
        signature = network.shape_signature()
        signature["board_size"] = tuple(signature["board_size"])
        symmetries = None
        if hp.symmetric_experience and md.symmetries:
            symmetries = SymmetryGroup(md.symmetries, md.actions, self.env.encoder.codes,
                                       md.observe_state)
        self.learner = Learner(network, QNetwork(**signature).to(self.device), hp, self.device,
                               symmetries, self.np_rng)

    def _require_memory(self, planned: QNetwork) -> None:
        """Refuse, before allocating, a run larger than the memory available (the networks
        live on the GPU when there is one; the replay buffer always in main memory).
        ``planned`` is the network on torch's meta device."""
        hp = self.hp
        signature = planned.shape_signature()
        signature["board_size"] = tuple(signature["board_size"])
        needed = memory.estimate(signature, hp.memory_capacity, hp.batch_size,
                                 hp.prioritize_experiences,
                                 parameters=sum(p.numel() for p in planned.parameters()))
        in_main = needed.total if self.device.type == "cpu" else needed.replay
        memory.require(in_main, f"This run ({needed.describe()})",
                       "Lower memory_capacity, layer_size, n_layers or batch_size.")

    def _center_codes(self) -> list[int]:
        """Board codes of the characters the egocentric view centres on (none: no such view).

        ``center_on = "auto"`` looks for the player (the agents retro sends keystrokes
        to) over ``exploration_turns`` random turns; a resumed run keeps the codes its
        checkpoint was trained with. Explicit characters must be in the character set.
        """
        hp, codes = self.hp, self.env.encoder.codes
        if hp.center_on == AUTO:
            if not self.metadata.spatial:
                return []
            if self.resumed_center_codes is not None:
                return list(self.resumed_center_codes)
            found = discover_player_characters(self.create_game, self.metadata.actions,
                                               max(hp.exploration_turns, 200),
                                               random.Random(hp.seed ^ 0xCE27))
            return [codes[c] for c in found if c in codes]
        check_center_on(hp.center_on, self.env.character_set, self.metadata.spatial)
        return [codes[c] for c in hp.center_on]

    def _meet_characters(self, characters: frozenset[str]) -> None:
        """``unknown_character_strategy``: ignore characters the set lacks (they count as
        empty cells), or grow the game's encoding and the networks by a channel for each,
        and record the new character set."""
        if self.hp.unknown_character_strategy != "extend":
            return
        self.env.add_characters(sorted(characters))
        n = len(self.env.character_set)
        self.widen_inputs(n)
        self.metadata.character_set = list(self.env.character_set)
        self._record()
        self.run.append_log(f"# extended character_set to {self.metadata.character_set!r} "
                            f"at episode {self.episode}; the network now has {n} input channels")

    def widen_inputs(self, n_channels: int) -> None:
        """Give the online and target networks ``n_channels`` input channels (the new ones
        start at zero weight, so the Q-values do not change); Adam's moments of every
        unchanged parameter carry over, the widened input layer's restart."""
        self.learner.replace_networks(self.network.widened(n_channels),
                                      self.target.widened(n_channels))

    def _report_size(self) -> None:
        """The network's size to ``on_note``; a warning (log and Python) when it is too big."""
        if self.on_note:
            self.on_note(size_line(self.network))
        too_big = size_warning(self.network)
        if too_big:
            self.run.append_log(f"# warning: {too_big}")
            warnings.warn(too_big, NetworkSizeWarning, stacklevel=3)

    def discoveries(self) -> Discoveries:
        """What training found out: the characters, the board's size, the seed used,
        the player's characters an egocentric view centres on."""
        characters = self.env.character_set
        return Discoveries(tuple(characters), tuple(self.env.board_size), self.hp.seed,
                           tuple(characters[code - 1] for code in self.network.center_codes))

    def _record(self) -> None:
        """Hand the settings and what training discovered to the config writer."""
        self.config_writer.record(self.metadata, self.hp, self.discoveries())

    def _header(self) -> str:
        md = self.metadata
        return "\n".join([
            f"retro-gamer training run: {md.module or 'game'}, seed {self.hp.seed}, "
            f"device {self.device}",
            describe(self.network, md.actions, list(self.env.character_set)),
            "",
        ])

    def _state(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.network.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "network": self.network.shape_signature(),
            "module": self.metadata.module,
            "actions": list(self.metadata.actions),
            "character_set": list(self.env.character_set),
            "epsilon": self.epsilon,
            "learning_rate": self.learning_rate,
            "episode": self.episode,
            "env_steps": self.env_steps,
            "train_steps": self.train_steps,
            "rewards": self.reward_scaler.state_dict(),
            **({"observed_state": self.state_scaler.state_dict()} if self.state_scaler else {}),
            "seed": self.hp.seed,
            "best_evaluation": self.best_evaluation,
            "rng": {
                "game": random.getstate(),
                "agent": self.agent_rng.getstate(),
                "numpy": self.np_rng.bit_generator.state,
                "torch": torch.get_rng_state(),
            },
        }

    def _save(self, path: Path) -> Path:
        self.run.save_checkpoint(path, self._state(), self.replay.state_dict(),
                                 resume_only=RESUME_ONLY)
        return path

    def _resume_state(self, resume) -> dict | None:
        if resume is None:
            return None
        if self.config_required:
            self.run.require_config()
        path = self.run.checkpoint_path(str(resume))
        state = self.run.load_checkpoint(path)
        network = state.get("network")
        if isinstance(network, dict):
            # Saved before these fields existed, the network was built as they were then
            # (raw observed values; 16 channels), and goes on so: config.toml, which takes
            # today's default for a field it lacks, then records the value it was built with.
            for name, then in NETWORK_FIELDS_BEFORE.items():
                if name not in network and getattr(self.hp, name) != then:
                    setattr(self.hp, name, then)
                    if self.on_note:
                        self.on_note(f"{path.name} was saved before {name} existed: the run "
                                     f"goes on with {name} = {then}, as its network was built "
                                     "(config.toml records it).")
        check_compatible(state, self.metadata, self.hp, path)
        state["_path"] = str(path)
        return state

    def _restore(self, state: dict) -> str:
        """Load a checkpoint's state into the trainer (nothing is written); return the
        log's note of what was restored."""
        path = Path(state["_path"])
        if state["character_set"] != list(self.env.character_set):  # pragma: no cover
            raise CheckpointError(f"{path}: its character set does not match the run's.")
        try:
            self.network.load_state_dict(state["model"])
            self.target.load_state_dict(state.get("target", state["model"]))
            if "optimizer" in state:
                self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError) as error:
            raise CheckpointError(
                f"{path} does not fit this run's network: {str(error).splitlines()[0]}"
            ) from None
        try:
            self.epsilon = float(state["epsilon"])
            self.learning_rate = float(state["learning_rate"])
            self.episode = int(state["episode"])
            self.env_steps = int(state["env_steps"])
            self.train_steps = int(state["train_steps"])
            if "rewards" in state:  # checkpoints before reward scaling: its scale starts afresh
                self.reward_scaler.load_state_dict(state["rewards"])
            if self.state_scaler is not None:  # every checkpoint of such a run holds them
                self.state_scaler.load_state_dict(state["observed_state"])
                self.network.set_state_statistics(*self.state_scaler.statistics())
                self.target.set_state_statistics(*self.state_scaler.statistics())
            self.best_evaluation = state.get("best_evaluation")
            self.learner.set_learning_rate(self.learning_rate)
            self._restore_rng(state.get("rng"))
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"{path} is not a complete retro-gamer checkpoint ({type(error).__name__}: "
                f"{error}). Resume from another checkpoint (retro-gamer info lists them)."
            ) from None
        notes = [self._restore_replay(path)]
        if "optimizer" not in state or "rng" not in state:
            notes.append("this checkpoint holds weights only (only the newest keeps the "
                         "optimizer, target network and random states): those start afresh, "
                         "so this continuation is not the one an uninterrupted run would give")
        return "; ".join(notes)

    def _restore_rng(self, rng: dict | None) -> None:
        if rng is None:  # a weights-only checkpoint: a fresh but reproducible stream
            seed = self.hp.seed * 1_000_003 + self.episode
            random.seed(seed)
            self.agent_rng.seed(seed ^ 0x5EED)
            self.np_rng = np.random.default_rng(seed)
            self.replay.rng = self.learner.rng = self.np_rng
            torch.manual_seed(seed)
            return
        random.setstate(rng["game"])
        self.agent_rng.setstate(rng["agent"])
        self.np_rng.bit_generator.state = rng["numpy"]
        torch.set_rng_state(rng["torch"])

    def _restore_replay(self, checkpoint: Path) -> str:
        """Refill the replay buffer from the checkpoint's companion file, saying how."""
        try:
            replay = self.run.load_replay(checkpoint)
        except CheckpointError as error:
            raise CheckpointError(
                f"{error} It is the replay buffer saved for {checkpoint.name}: delete "
                f"{self.run.replay_path(checkpoint)} to resume with an empty buffer (training "
                "refills it; the continuation is then not bit-identical), or restore it."
            ) from None
        if replay is None:
            return "replay buffer starts empty (no saved buffer for this checkpoint)"
        try:
            kept = self.replay.load_state_dict(replay)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(
                f"{self.run.replay_path(checkpoint)} does not fit this run's replay buffer "
                f"({error}). Delete it to resume with an empty buffer.") from None
        saved = int(replay["size"])
        if replay["capacity"] == self.replay.capacity:
            return "replay buffer restored"
        return (f"replay buffer restored with the newest {kept} of its {saved} transitions "
                f"(memory_capacity changed from {replay['capacity']} to "
                f"{self.replay.capacity})")

    def _stop_overdue(self, steps: int) -> bool:
        """A stop request not met by the episode's end within ``STOP_GRACE`` seconds ends
        the episode here (as ``max_turns_per_episode`` would), so a stop never waits on
        a long episode."""
        if time.monotonic() - self.stop_time < STOP_GRACE:
            return False
        self.cut_short = steps
        return True

    def _schedule_note(self) -> str:
        """When a stop cuts the schedule short: where epsilon and the learning rate are,
        beside where the schedule takes them, so the user knows the agent is unfinished."""
        hp, left = self.hp, self.hp.training_episodes - self.episode
        epsilon_end = max(hp.epsilon_min, self.epsilon * hp.epsilon_decay ** left)
        rate_end = self.learning_rate * hp.lr_decay ** left
        if self.epsilon <= epsilon_end * 1.01 and self.learning_rate <= rate_end * 1.01:
            return ""  # nothing left to decay: the agent is as the schedule leaves it
        return (f" The schedule had {left} episodes to go: epsilon is {self.epsilon:.3g} "
                f"(it ends at {epsilon_end:.3g}) and the learning rate {self.learning_rate:.3g}"
                f" (it ends at {rate_end:.3g}); resuming finishes it.")

    def _cut_note(self) -> str:
        if self.cut_short is None:
            return ""
        return (f" (a stop request ended episode {self.episode} early, after "
                f"{self.cut_short} turns)")

    @contextlib.contextmanager
    def _naming_failed_writes(self) -> Iterator[None]:
        """A write that fails mid-training (a full disk) says which file, and how to go on."""
        try:
            yield
        except RunDirectoryError as error:
            if isinstance(error, TrainingInterrupted) or not str(error).startswith(
                    "Could not write"):
                raise
            raise RunDirectoryError(
                f"{error} Training stopped at episode {self.episode}; the checkpoints saved "
                f"before are intact. Then {self.run.how_to_continue()}") from None
        except OSError as error:
            raise RunDirectoryError(
                f"Could not write {error.filename or self.run.log_path}: {error.strerror}. "
                f"Training stopped at episode {self.episode}; the checkpoints saved before are "
                f"intact. Free some space, then {self.run.how_to_continue()}") from None

    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """First Ctrl+C or SIGTERM: finish this episode (or end it after ``STOP_GRACE``
        seconds), save, stop. A second one: stop now."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            self.stop_time = time.monotonic()

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _saved_at(path: Path) -> int:
    name = path.stem
    return int(name[3:]) if name.startswith("ep_") else -1


# Network fields a checkpoint lacks when it was saved before they existed, with the
# value every network had then.
NETWORK_FIELDS_BEFORE = {"layer_norm": False, "conv_width": QNetwork.CONV1,
                         "state_scaling": False}


def check_compatible(state: dict, metadata: GameMetadata, hp: Hyperparameters, path) -> None:
    """Refuse a checkpoint from another game or another network shape, saying why."""
    if state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} was written by an unknown retro-gamer version.")
    missing = [key for key in REQUIRED_FIELDS if key not in state]
    if missing:
        raise CheckpointError(
            f"{path} lacks {', '.join(repr(k) for k in missing)}: it is not a complete "
            "retro-gamer checkpoint. Resume from another checkpoint (retro-gamer info lists "
            "them).")
    check_same_game(state, metadata, path)
    network = dict(state.get("network", {}))
    if "view_radius" not in network:  # saved before views were bounded: the whole board
        width, height = network.get("board_size", (0, 0))
        fits = max(width, height) <= hp.view_radius + 1
        network["view_radius"] = hp.view_radius if fits else 0
    for name, then in NETWORK_FIELDS_BEFORE.items():
        network.setdefault(name, then)
    for name in SHAPE_FIELDS:
        if network.get(name) != getattr(hp, name):
            raise CheckpointError(
                f"{path} has {name} = {network.get(name)}, but the run's config.toml says "
                f"{getattr(hp, name)}. A network's shape cannot change mid-training: set "
                f"{name} back, or start a new run with 'retro-gamer create'."
            )
    if network.get("spatial") != metadata.spatial:
        raise CheckpointError(f"{path} has spatial = {network.get('spatial')}; the run differs.")


__all__ = ["DQNTrainer", "EpisodeStats", "TurnStats", "TrainingResult", "TrainingInterrupted",
           "RewardClipWarning", "NetworkSizeWarning",
           "select_device", "epsilon_greedy", "td_targets", "decayed"]
