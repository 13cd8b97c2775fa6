"""Time-indexed ACT temporal ensembling of overlapping action chunks.

At time t every live chunk that covers t (t0 <= t <= t0 + (H-1) dt) gives its action at t,
interpolated linearly between its samples by time (stamps t0 + i dt), never by tick count, so a
chunk that arrives late still contributes the action meant for t. The covering chunks are ranked by
stamp t0, oldest first (ties by arrival), and chunk rank i gets weight w_i = exp(-m i), normalised
to sum to one, as ACT's w_i = exp(-m i) with i = 0 for the oldest prediction.

What i means here: ACT queries the policy every step, so its i counts both inference steps and
chunks. With asynchronous, time-stamped chunks we keep "i = rank among the chunks covering t, by
stamp": it equals ACT (and LeRobot's ACTTemporalEnsembler) for synchronous chunks one step apart, does
not depend on arrival latency, and keeps m's meaning of "per newer chunk". m = 0 is a plain mean;
m > 0 favours older chunks (smoother, ACT's 0.01); m < 0 favours newer ones (more reactive).

Velocities are blended only when every covering chunk carries them; the gripper is blended over
the covering chunks that command it (renormalised weights), None when none does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vla_ros.control.chunk import ActionChunkData


@dataclass(frozen=True)
class EnsembledAction:
    """The blended action at one time, with the chunks and weights that made it."""

    time: float
    positions: np.ndarray
    velocities: np.ndarray | None
    gripper: float | None
    chunk_ids: tuple[int, ...]
    weights: np.ndarray


def ensemble_weights(count: int, m: float) -> np.ndarray:
    """ACT weights exp(-m i), i = 0..count-1 (0 = oldest), normalised to sum to one."""
    weights = np.exp(-m * np.arange(count, dtype=float))
    return weights / weights.sum()


class _PackedChunks:
    """Live chunks (oldest stamp first) packed into flat arrays, to blend at many times at once."""

    def __init__(self, chunks: Sequence[ActionChunkData], joints: int) -> None:
        self.ids = np.array([c.chunk_id for c in chunks], dtype=np.int64)
        self.t0 = np.array([c.t0 for c in chunks])
        self.dt = np.array([c.dt for c in chunks])
        self.last = np.array([c.horizon - 1 for c in chunks], dtype=np.int64)
        self.end = self.t0 + self.last * self.dt
        self.offsets = np.concatenate([[0], np.cumsum([c.horizon for c in chunks])[:-1]]).astype(np.int64)
        self.has_velocities = np.array([c.velocities is not None for c in chunks], dtype=bool)
        self.has_gripper = np.array([c.gripper is not None for c in chunks], dtype=bool)
        empty = np.zeros((0, joints))
        self.positions = np.concatenate([empty, *(c.positions for c in chunks)])
        self.velocities = np.concatenate(
            [empty, *(np.zeros_like(c.positions) if c.velocities is None else c.velocities for c in chunks)]
        )
        self.gripper = np.concatenate(
            [np.zeros(0), *(c.gripper if c.gripper is not None else np.zeros(c.horizon) for c in chunks)]
        )


@dataclass(frozen=True)
class _Blend:
    """Blends at N times: N x J positions and velocities, N gripper values, N x C weights."""

    positions: np.ndarray
    velocities: np.ndarray
    velocities_valid: np.ndarray
    gripper: np.ndarray
    gripper_valid: np.ndarray
    covering: np.ndarray
    weights: np.ndarray


class TemporalEnsembler:
    """Keeps live chunks for fixed joints and blends them at any time."""

    def __init__(self, joint_names: Sequence[str], m: float) -> None:
        self.joint_names = tuple(joint_names)
        self.m = float(m)
        self._chunks: list[ActionChunkData] = []
        self._packed = _PackedChunks([], len(self.joint_names))

    def _repack(self) -> None:
        self._packed = _PackedChunks(self._chunks, len(self.joint_names))

    @property
    def chunks(self) -> tuple[ActionChunkData, ...]:
        """Live chunks, oldest stamp first."""
        return tuple(self._chunks)

    def add(self, chunk: ActionChunkData) -> ActionChunkData:
        """Store a chunk (columns reordered to ``joint_names``); returns the stored chunk.

        Raises :class:`~vla_ros.control.errors.JointNamesError` when its joints differ.
        """
        stored = chunk.reordered(self.joint_names)
        index = len(self._chunks)
        while index > 0 and self._chunks[index - 1].t0 > stored.t0:
            index -= 1
        self._chunks.insert(index, stored)
        self._repack()
        return stored

    def prune(self, t: float) -> None:
        """Drop the chunks whose last action is before ``t``."""
        live = [chunk for chunk in self._chunks if chunk.end_time >= t]
        if len(live) != len(self._chunks):
            self._chunks = live
            self._repack()

    def clear(self) -> None:
        """Drop every chunk."""
        self._chunks.clear()
        self._repack()

    def _blend(self, times: np.ndarray) -> _Blend:
        """Blend every live chunk at each of ``times`` (vectorised over times and chunks)."""
        packed = self._packed
        t = np.asarray(times, dtype=float)[:, None]
        covering = (t >= packed.t0) & (t <= packed.end)
        rank = np.cumsum(covering, axis=1) - 1
        raw = np.where(covering, np.exp(-self.m * rank), 0.0)
        total = raw.sum(axis=1, keepdims=True)
        weights = raw / np.where(total > 0.0, total, 1.0)
        step = np.clip((t - packed.t0) / packed.dt, 0.0, packed.last)
        lower = np.minimum(np.floor(step), np.maximum(packed.last - 1, 0)).astype(np.int64)
        fraction = (step - lower)[..., None]
        rows_low = packed.offsets + lower
        rows_high = packed.offsets + np.minimum(lower + 1, packed.last)

        def blend(values: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
            sampled = values[rows_low] + fraction * (values[rows_high] - values[rows_low])
            return np.einsum("nc,ncj->nj", row_weights, sampled)

        gripper_raw = np.where(covering & packed.has_gripper, raw, 0.0)
        gripper_total = gripper_raw.sum(axis=1, keepdims=True)
        gripper_weights = gripper_raw / np.where(gripper_total > 0.0, gripper_total, 1.0)
        return _Blend(
            positions=blend(packed.positions, weights),
            velocities=blend(packed.velocities, weights),
            velocities_valid=~np.any(covering & ~packed.has_velocities, axis=1),
            gripper=blend(packed.gripper[:, None], gripper_weights)[:, 0],
            gripper_valid=gripper_total[:, 0] > 0.0,
            covering=covering,
            weights=weights,
        )

    def _action(self, blend: _Blend, index: int, time: float) -> EnsembledAction:
        covering = blend.covering[index]
        return EnsembledAction(
            time,
            blend.positions[index],
            blend.velocities[index] if blend.velocities_valid[index] else None,
            float(blend.gripper[index]) if blend.gripper_valid[index] else None,
            tuple(int(i) for i in self._packed.ids[covering]),
            blend.weights[index][covering],
        )

    def evaluate(self, t: float) -> EnsembledAction | None:
        """The blended action at ``t``; None when no live chunk covers ``t``. Does not drop chunks."""
        blend = self._blend(np.array([t]))
        return self._action(blend, 0, t) if blend.covering[0].any() else None

    def sample(self, t: float) -> EnsembledAction | None:
        """Drop ended chunks, then blend at ``t``."""
        self.prune(t)
        return self.evaluate(t)

    def horizon(self, times: Sequence[float]) -> list[EnsembledAction]:
        """Blended actions at increasing ``times``, stopping before the first time no chunk covers."""
        times = np.asarray(times, dtype=float)
        blend = self._blend(times)
        covered = blend.covering.any(axis=1)
        count = int(np.argmin(covered)) if not covered.all() else covered.size
        return [self._action(blend, index, float(times[index])) for index in range(count)]
