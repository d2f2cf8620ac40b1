"""The learning update of DQN: sample, (transform), TD targets, loss, gradient step.

:class:`Learner` owns what one training step changes: the online network, the target
network and the optimizer. The trainer's loop decides *when* a step is taken
(``train_every``, ``gradient_steps``, ``learning_starts``); this module decides *what*
a step does, so that a change to the update (its targets, its loss, what is sampled
and how it is transformed) touches this module alone, and the loop, checkpoints,
exact resume and signal handling stay as they are.

The update (Mnih et al., 2015): fit ``Q(s, a)`` to ``r + gamma^n * Q_target(s', a*)``
with the Huber loss, where ``r`` is an n-step discounted return (Sutton, 1988) and
``a*`` the online network's choice (Double DQN, van Hasselt et al., 2016) or the
target's own maximum; copy the network into the target every ``target_update_freq``
steps. Options: prioritized replay's importance weights and new priorities (Schaul et
al., 2016), Munchausen targets (Vieillard, Pietquin & Geist, 2020), and symmetric
experience: each sampled transition seen through a random one of the game's declared
symmetries (:mod:`retro_gamer.symmetry`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from retro_gamer.config import Hyperparameters
from retro_gamer.networks import QNetwork
from retro_gamer.replay import Batch, ReplayBuffer
from retro_gamer.symmetry import SymmetryGroup

# Munchausen DQN's constants, as the paper sets them for Atari (Vieillard et al., 2020,
# section 4): the entropy temperature, the scale of the log-policy bonus, and the
# lower clip of the log-policy (so that a near-impossible action's bonus stays bounded).
MUNCHAUSEN_TAU = 0.03
MUNCHAUSEN_ALPHA = 0.9
MUNCHAUSEN_LOG_CLIP = -1.0


def td_targets(rewards: torch.Tensor, dones: torch.Tensor, next_q: torch.Tensor,
               gamma: float, next_actions: torch.Tensor | None = None) -> torch.Tensor:
    """``r + gamma * max_a' Q_target(s', a')``, with no bootstrap past a game's end.

    Shapes: ``rewards``, ``dones`` ``(B,)``; ``next_q`` ``(B, A)``; result ``(B,)``.
    With ``next_actions`` (Double DQN, van Hasselt et al., 2016) the bootstrap is
    ``Q_target(s', a*)`` for the action ``a*`` the online network chose instead of the max.
    For n-step returns ``rewards`` are the discounted sums and ``gamma`` is ``gamma ** n``.
    """
    if next_actions is None:
        next_value = next_q.max(dim=1).values
    else:
        next_value = next_q.gather(1, next_actions[:, None]).squeeze(1)
    return rewards + gamma * (1.0 - dones) * next_value


def munchausen_targets(rewards: torch.Tensor, dones: torch.Tensor, q_target: torch.Tensor,
                       actions: torch.Tensor, next_q_target: torch.Tensor, gamma: float,
                       tau: float = MUNCHAUSEN_TAU, alpha: float = MUNCHAUSEN_ALPHA,
                       log_clip: float = MUNCHAUSEN_LOG_CLIP) -> torch.Tensor:
    """Munchausen DQN's targets (Vieillard, Pietquin & Geist, 2020, eq. 2):

    ``r + alpha * tau * clip(log pi(a|s), log_clip, 0)
    + gamma * sum_a' pi(a'|s') * (Q_target(s', a') - tau * log pi(a'|s'))``

    where ``pi = softmax(Q_target / tau)``. The first term rewards the agent for the
    action it took in proportion to how sure its own policy was of it; the soft
    bootstrap adds an entropy bonus. Shapes: ``q_target`` and ``next_q_target``
    ``(B, A)``, the rest ``(B,)``; result ``(B,)``. For n-step returns the bonus is the
    first action's and ``gamma`` is ``gamma ** n``.
    """
    log_policy = F.log_softmax(q_target / tau, dim=1)
    bonus = alpha * tau * log_policy.gather(1, actions[:, None]).squeeze(1).clamp(log_clip, 0.0)
    next_log_policy = F.log_softmax(next_q_target / tau, dim=1)
    soft_value = (next_log_policy.exp() * (next_q_target - tau * next_log_policy)).sum(dim=1)
    return rewards + bonus + gamma * (1.0 - dones) * soft_value


def adam(params, lr: float) -> torch.optim.Adam:
    """Adam, fused into one kernel for all parameters where this torch offers it
    (measured 1.2x a whole training step on CPU)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr)


class Learner:
    """One DQN training step at a time, on a replay buffer's samples.

    ``network`` is trained; ``target`` (same shape signature) gives the bootstrap and
    is overwritten with ``network``'s weights every ``hp.target_update_freq`` steps.
    ``symmetries`` (a :class:`~retro_gamer.symmetry.SymmetryGroup` with more than the
    identity) turns on symmetric experience, drawing one symmetry per sampled
    transition from ``rng``; without it ``rng`` is never drawn from, so a run without
    symmetries learns exactly as before they existed.
    """

    def __init__(self, network: QNetwork, target: QNetwork, hp: Hyperparameters,
                 device: torch.device, symmetries: SymmetryGroup | None = None,
                 rng: np.random.Generator | None = None):
        self.network, self.target, self.hp, self.device = network, target, hp, device
        self.target.load_state_dict(network.state_dict())
        self.target.requires_grad_(False)
        self.optimizer = adam(network.parameters(), hp.learning_rate)
        self.symmetries = symmetries if symmetries and len(symmetries) > 1 else None
        self.rng = rng
        self.train_steps = 0

    def set_learning_rate(self, learning_rate: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

    def step(self, replay: ReplayBuffer, progress: float) -> torch.Tensor:
        """Sample a batch and take one gradient step; return the loss (a 0-d tensor on
        the device, not read back, so the loop reads losses once per episode).

        ``progress`` (0 to 1, the share of training done) anneals prioritized
        replay's importance-sampling correction.
        """
        hp = self.hp
        batch = replay.sample(hp.batch_size, progress)
        if self.symmetries is not None:
            batch = self._with_summaries(
                self._to_device(self.symmetries.transform_batch(batch, self.rng)))
        else:
            batch = self._to_device(batch)
        gamma = hp.gamma ** hp.n_step
        q_all = self.network(batch.boards, batch.extras)
        q = q_all.gather(1, batch.actions[:, None]).squeeze(1)
        with torch.no_grad():
            # Both networks have one signature, so the next boards are encoded once.
            next_encoded = self.network.encode(batch.next_boards, batch.next_extras)
            next_q_target = self.target.q_values(next_encoded, batch.next_extras)
            if hp.munchausen:
                targets = munchausen_targets(
                    batch.rewards, batch.dones, self.target(batch.boards, batch.extras),
                    batch.actions, next_q_target, gamma)
            else:
                next_actions = (self.network.q_values(next_encoded, batch.next_extras)
                                .argmax(dim=1) if hp.double_dqn else None)
                targets = td_targets(batch.rewards, batch.dones, next_q_target, gamma,
                                     next_actions)
        losses = F.smooth_l1_loss(q, targets, reduction="none")
        loss = (losses * batch.weights).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if hp.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), hp.grad_clip)
        self.optimizer.step()
        if hp.prioritize_experiences:
            replay.update_priorities(batch.indices.cpu().numpy(),
                                     (targets - q).detach().abs().cpu().numpy())
        self.train_steps += 1
        if self.train_steps % hp.target_update_freq == 0:
            self.target.load_state_dict(self.network.state_dict())
        return loss.detach()

    def replace_networks(self, network: QNetwork, target: QNetwork) -> None:
        """Train ``network`` (a widened copy, see :meth:`QNetwork.widened`) from now on.

        Adam's moments of every parameter whose shape is unchanged carry over; a
        widened input layer's restart.
        """
        old = self.optimizer.state_dict()
        lr = self.optimizer.param_groups[0]["lr"]
        self.network, self.target = network, target
        self.target.requires_grad_(False)
        self.optimizer = adam(network.parameters(), lr)
        parameters = list(network.parameters())
        old["state"] = {i: s for i, s in old["state"].items()
                        if s["exp_avg"].shape == parameters[i].shape}
        self.optimizer.load_state_dict(old)

    def _with_summaries(self, batch: Batch) -> Batch:
        """A bounded view's whole-board summary (stored after the observed state values)
        taken again from the transformed boards: a mirrored summary is not the summary
        of the mirrored board when the board does not split into whole blocks."""
        network = self.network
        if not network.summary_grid()[0]:
            return batch
        n = network.n_extras
        extras = torch.cat([batch.extras[:, :n], network.summary(batch.boards).flatten(1)], 1)
        next_extras = torch.cat([batch.next_extras[:, :n],
                                 network.summary(batch.next_boards).flatten(1)], 1)
        return batch._replace(extras=extras, next_extras=next_extras)

    def _to_device(self, batch: Batch) -> Batch:
        return Batch(*(torch.from_numpy(a).to(self.device, non_blocking=True) for a in batch))


__all__ = ["Learner", "adam", "munchausen_targets", "td_targets"]
