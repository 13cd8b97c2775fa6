"""Temporal ensembling written from the formula: weights, time indexing, latency, ACT equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.chunk import ActionChunkData
from vla_ros.control.ensembler import TemporalEnsembler, ensemble_weights
from vla_ros.control.errors import JointNamesError

NAMES = ("j1", "j2")


def _trajectory(t: np.ndarray, offset: float) -> np.ndarray:
    """A smooth 2-joint trajectory, different per offset."""
    t = np.asarray(t, dtype=float)
    return np.stack([np.sin(t) + offset, np.cos(2.0 * t) - offset], axis=-1)


def _chunk(
    t0: float,
    offset: float,
    chunk_id: int,
    dt: float = 0.1,
    horizon: int = 10,
    gripper: np.ndarray | None = None,
) -> ActionChunkData:
    times = t0 + dt * np.arange(horizon)
    return ActionChunkData(NAMES, t0, dt, _trajectory(times, offset), None, gripper, chunk_id, "test")


def _by_time(chunk: ActionChunkData, t: float) -> np.ndarray:
    """A chunk's action at t, interpolated by hand over its sample times."""
    times = chunk.times()
    return np.array([np.interp(t, times, chunk.positions[:, j]) for j in range(len(NAMES))])


@pytest.mark.parametrize("m", [0.01, 0.0, -0.3, 0.7])
def test_weights_follow_the_act_formula(m):
    weights = ensemble_weights(5, m)
    expected = np.exp(-m * np.arange(5))
    np.testing.assert_allclose(weights, expected / expected.sum())
    assert weights.sum() == pytest.approx(1.0)


def test_sign_of_m_decides_which_chunks_count_most():
    assert np.all(np.diff(ensemble_weights(4, 0.5)) < 0)  # older first
    assert np.all(np.diff(ensemble_weights(4, -0.5)) > 0)  # newer first
    np.testing.assert_allclose(ensemble_weights(4, 0.0), 0.25)


@pytest.mark.parametrize("m", [0.01, -0.4])
def test_blend_of_overlapping_chunks_equals_the_hand_computed_average(m):
    # Stamps are not multiples of dt and chunks arrive out of stamp order.
    chunks = [_chunk(0.31, 0.2, 2), _chunk(0.0, 0.0, 0), _chunk(0.13, -0.1, 1)]
    ensembler = TemporalEnsembler(NAMES, m)
    for chunk in chunks:
        ensembler.add(chunk)
    oldest_first = sorted(chunks, key=lambda c: c.t0)
    for t in (0.35, 0.47, 0.8, 0.9):
        covering = [c for c in oldest_first if c.t0 <= t <= c.end_time]
        weights = np.exp(-m * np.arange(len(covering)))
        expected = sum(w * _by_time(c, t) for w, c in zip(weights, covering, strict=True)) / weights.sum()
        action = ensembler.evaluate(t)
        np.testing.assert_allclose(action.positions, expected, atol=1e-12)
        assert action.chunk_ids == tuple(c.chunk_id for c in covering)


def test_jittered_stamps_are_interpolated_by_time():
    # Every chunk samples the same underlying trajectory at its own, jittered, stamps.
    rng = np.random.default_rng(0)
    ensembler = TemporalEnsembler(NAMES, 0.01)
    stamps = 0.1 * np.arange(8) + rng.uniform(-0.03, 0.03, 8)
    for index, t0 in enumerate(stamps):
        ensembler.add(_chunk(float(t0), 0.0, index, dt=0.02, horizon=50))
    for t in np.linspace(0.75, 1.0, 11):
        np.testing.assert_allclose(ensembler.evaluate(t).positions, _trajectory(t, 0.0), atol=5e-4)


def test_inference_delay_does_not_shift_the_blend():
    delay = 0.23
    on_time, late = TemporalEnsembler(NAMES, 0.01), TemporalEnsembler(NAMES, 0.01)
    chunks = [_chunk(0.1 * k, 0.05 * k, k, dt=0.02, horizon=50) for k in range(6)]
    for chunk in chunks:
        on_time.add(chunk)
    # The late ensembler gets each chunk `delay` after its stamp: at t it holds those with t0 <= t - delay.
    t = 0.9
    for chunk in chunks:
        if chunk.t0 + delay <= t:
            late.add(chunk)
    covering = [c for c in chunks if c.t0 + delay <= t and c.covers(t)]
    weights = ensemble_weights(len(covering), 0.01)
    expected = sum(w * _by_time(c, t) for w, c in zip(weights, covering, strict=True))
    np.testing.assert_allclose(late.evaluate(t).positions, expected, atol=1e-12)
    # Each chunk contributes its action for t, not the one `delay` earlier (what tick counting would give).
    for chunk in covering:
        np.testing.assert_allclose(
            chunk.sample(t).positions, _trajectory(t, 0.05 * chunk.chunk_id), atol=1e-3
        )
    assert not np.allclose(_trajectory(t - delay, 0.0), _trajectory(t, 0.0), atol=1e-2)


def _lerobot_style_running_average(predictions: list[np.ndarray], m: float) -> list[np.ndarray]:
    """ACT temporal ensembling as LeRobot's ACTTemporalEnsembler computes it, one inference per step.

    Keeps, for every future step, the running weighted average of the predictions made so far and
    how many there were; the weight of the k-th prediction for a step is exp(-m k).
    """
    horizon = predictions[0].shape[0]
    weights = np.exp(-m * np.arange(horizon))
    cumulative = np.cumsum(weights)
    averages: np.ndarray | None = None
    counts: np.ndarray | None = None
    executed = []
    for chunk in predictions:
        if averages is None:
            averages, counts = chunk.copy(), np.ones(horizon, dtype=int)
        else:
            old = averages * cumulative[counts - 1][:, None]
            averages = np.concatenate(
                [(old + weights[counts][:, None] * chunk[:-1]) / cumulative[counts][:, None], chunk[-1:]]
            )
            counts = np.concatenate([counts + 1, [1]])
        executed.append(averages[0].copy())
        averages, counts = averages[1:], counts[1:]
    return executed


@pytest.mark.parametrize("m", [0.0, 0.01, -0.5])
def test_synchronous_chunks_one_step_apart_match_lerobot_act(m):
    dt, horizon, steps = 0.02, 8, 20
    rng = np.random.default_rng(1)
    predictions = [rng.normal(size=(horizon, 2)) for _ in range(steps)]
    reference = _lerobot_style_running_average(predictions, m)
    ensembler = TemporalEnsembler(NAMES, m)
    for step, prediction in enumerate(predictions):
        ensembler.add(ActionChunkData(NAMES, step * dt, dt, prediction, chunk_id=step))
        action = ensembler.sample(step * dt)
        np.testing.assert_allclose(action.positions, reference[step], atol=1e-12)
        if m == 0.0:
            first = max(0, step - horizon + 1)
            plain_mean = np.mean([predictions[k][step - k] for k in range(first, step + 1)], axis=0)
            np.testing.assert_allclose(action.positions, plain_mean, atol=1e-12)


def test_joint_names_are_checked_and_columns_reordered():
    ensembler = TemporalEnsembler(NAMES, 0.01)
    chunk = _chunk(0.0, 0.0, 0)
    swapped = ActionChunkData(("j2", "j1"), 0.0, 0.1, chunk.positions[:, ::-1])
    ensembler.add(swapped)
    np.testing.assert_allclose(ensembler.evaluate(0.25).positions, _by_time(chunk, 0.25))
    with pytest.raises(JointNamesError, match="unexpected"):
        ensembler.add(ActionChunkData(("j1", "elbow"), 0.0, 0.1, chunk.positions))


def test_ended_chunks_are_dropped_and_future_ones_wait():
    ensembler = TemporalEnsembler(NAMES, 0.01)
    ensembler.add(_chunk(0.0, 0.0, 0))  # ends at 0.9
    ensembler.add(_chunk(2.0, 0.0, 1))  # starts at 2.0
    assert ensembler.sample(0.5).chunk_ids == (0,)
    assert ensembler.sample(1.0) is None
    assert [c.chunk_id for c in ensembler.chunks] == [1]
    assert ensembler.sample(2.0).chunk_ids == (1,)


def test_gripper_is_blended_over_the_chunks_that_command_it():
    ensembler = TemporalEnsembler(NAMES, 0.0)
    ensembler.add(_chunk(0.0, 0.0, 0, gripper=np.ones(10)))
    ensembler.add(_chunk(0.05, 0.0, 1))
    ensembler.add(_chunk(0.1, 0.0, 2, gripper=np.zeros(10)))
    assert ensembler.evaluate(0.5).gripper == pytest.approx(0.5)
    assert ensembler.evaluate(0.02).gripper == pytest.approx(1.0)
    no_gripper = TemporalEnsembler(NAMES, 0.0)
    no_gripper.add(_chunk(0.0, 0.0, 0))
    assert no_gripper.evaluate(0.5).gripper is None


def test_horizon_stops_where_no_chunk_covers():
    ensembler = TemporalEnsembler(NAMES, 0.01)
    ensembler.add(_chunk(0.0, 0.0, 0))
    actions = ensembler.horizon(0.5 + 0.1 * np.arange(10))
    assert [round(a.time, 6) for a in actions] == [0.5, 0.6, 0.7, 0.8, 0.9]
