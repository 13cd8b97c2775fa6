"""Training on a tiny recorded dataset, checkpoints, and predicting from them."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional

from vla_ros.cli import main
from vla_ros.data.dataset import DatasetError, EpisodeReader, list_episodes
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.planner import Planner
from vla_ros.policy.errors import PolicyCheckpointError, PolicyInputError
from vla_ros.policy.inference import KeyframePolicy, load_checkpoint
from vla_ros.policy.language import InstructionEncoder
from vla_ros.policy.model import KeyframeNetwork
from vla_ros.policy.pointcloud import FEATURE_CHANNELS
from vla_ros.policy.rotation import rotation_angle
from vla_ros.policy.settings import PathNoiseConfig, PolicyConfig
from vla_ros.sim.collect import collect
from vla_ros.sim.oracle import oracle_path
from vla_ros.training.policy.batches import make_batch
from vla_ros.training.policy.data import episode_observation, load_samples, perturb_path, sample_frames
from vla_ros.training.policy.evaluation import ClosedLoopRunner, markdown_table, planner_config_for, summarise
from vla_ros.training.policy.planner_paths import PLANNER_PATHS_FILE, answer_dataset, read_planner_paths
from vla_ros.training.policy.train import _rotation_loss, train, training_forward


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two keyframe demonstrations with every third camera frame between the keyframes."""
    out = tmp_path_factory.mktemp("policy_demos")
    collect(
        ["lift_block", "press_button"], 1, "train", 0, out, progress=False, frames="keyframes", intermediate=3
    )
    return out


@pytest.fixture(scope="module")
def encoder() -> InstructionEncoder:
    return InstructionEncoder("cpu")


@pytest.fixture(scope="module")
def trained(dataset: Path, small_config: PolicyConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("policy") / "policy.pt"
    train([dataset], out, small_config, [dataset], progress=False)
    return out


def test_samples_follow_the_expert_keyframes(dataset: Path, small_config: PolicyConfig, encoder) -> None:
    training = replace(small_config.training, intermediate_every=1, intermediate_fraction=1.0)
    config = replace(small_config, training=training)
    samples = load_samples([dataset], config, encoder, seed=0, progress=False)
    episodes = [EpisodeReader(d) for d in list_episodes(dataset)]
    assert all(e.meta["intermediate_every"] == 3 for e in episodes)
    keyframe_samples = [s for s in samples if not s.intermediate]
    assert len(keyframe_samples) == sum(len(e.meta["expert_keyframes"]) for e in episodes)
    assert len(samples) > 2 * len(keyframe_samples)  # the frames between keyframes are samples too
    for sample in samples:  # each targets the keyframe its index names
        reader = next(e for e in episodes if e.directory.name == sample.episode)
        pose = reader.meta["expert_keyframes"][sample.keyframe_index]["tcp_pose"]
        assert np.allclose(sample.target_position, pose[:3])
    validation = load_samples([dataset], small_config, encoder, seed=0, progress=False, augmented=False)
    assert len(validation) == len(keyframe_samples) and not any(s.intermediate for s in validation)
    lift = [s for s in keyframe_samples if s.episode.startswith("lift_block")]
    assert [s.keyframe_index for s in lift] == list(range(len(lift)))
    assert [s.done for s in lift] == [False] * (len(lift) - 1) + [True]
    grasp = next(s for s in lift if not s.gripper_open)
    assert grasp.ignore_collisions  # the gripper closes there: a contact move
    assert grasp.proprio[0] == 1.0  # observed with the gripper still open
    # a second load comes from the cache and is identical
    again = load_samples([dataset], config, encoder, seed=0, progress=False)
    assert np.array_equal(again[0].points, samples[0].points)


def test_a_short_training_run_lowers_the_loss(trained: Path) -> None:
    log = [json.loads(line) for line in trained.with_name("policy.log.jsonl").read_text().splitlines()]
    losses = [entry["loss_total"] for entry in log]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5])  # two heatmap terms near their floor
    assert "translation_error_mm_mean" in log[-1]["validation"]


def test_training_resumes_from_its_last_step(
    trained: Path, dataset: Path, small_config: PolicyConfig
) -> None:
    copy = trained.with_name("resumed.pt")
    for suffix in (".pt", ".resume.pt", ".log.jsonl"):
        source = trained.with_name("policy" + suffix)
        copy.with_name("resumed" + suffix).write_bytes(source.read_bytes())
    longer = replace(small_config, training=replace(small_config.training, steps=33))
    record = train([dataset], copy, longer, resume=True, progress=False)
    assert record["steps"] == 33
    assert len(copy.with_name("resumed.log.jsonl").read_text().splitlines()) == 33


def test_the_trained_checkpoint_predicts_a_keyframe(
    trained: Path, dataset: Path, small_config, encoder
) -> None:
    policy = KeyframePolicy(replace(small_config, checkpoint=str(trained)), encoder)
    observation = episode_observation(EpisodeReader(list_episodes(dataset)[0]), 0, True, 0)
    prediction = policy.predict(observation)
    pose = prediction.keyframe.pose
    assert np.allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-6)
    assert np.all(np.abs(pose[:3, 3] - np.array(small_config.scene.centre)) <= small_config.scene.half_size)
    assert 0.0 <= prediction.keyframe.confidence <= 1.0
    size = small_config.model.image_size
    assert prediction.heatmaps.shape == (3, size, size)
    assert prediction.cloud_points.shape[1] == 3
    assert prediction.timings["total"] > 0
    with pytest.raises(PolicyInputError, match="no valid pixel"):
        policy.predict(replace(observation, depth=np.full_like(observation.depth, np.nan)))


def test_the_same_observation_gives_the_same_keyframe_whatever_came_before(
    trained: Path, dataset: Path, small_config, encoder
) -> None:
    """The cloud is thinned at random to max_points; the draw must not depend on earlier predictions."""
    policy = KeyframePolicy(replace(small_config, checkpoint=str(trained)), encoder)
    reader = EpisodeReader(list_episodes(dataset)[0])
    first, other = (episode_observation(reader, frame, True, 0) for frame in (0, 1))
    before = policy.predict(first)
    assert len(before.cloud_points) == small_config.scene.max_points  # thinned
    policy.predict(other)
    again = policy.predict(first)
    np.testing.assert_array_equal(again.cloud_points, before.cloud_points)
    np.testing.assert_array_equal(again.keyframe.pose, before.keyframe.pose)


def test_a_checkpoint_that_does_not_match_the_configuration_is_refused(trained: Path, small_config) -> None:
    other = replace(small_config, model=replace(small_config.model, width=64))
    with pytest.raises(PolicyCheckpointError, match=r"model\.width: checkpoint 32, config 64"):
        load_checkpoint(trained, other, "cpu")
    with pytest.raises(PolicyCheckpointError, match="not found"):
        load_checkpoint(trained.with_name("missing.pt"), small_config, "cpu")
    garbage = trained.with_name("garbage.pt")
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(PolicyCheckpointError, match="cannot read"):
        load_checkpoint(garbage, small_config, "cpu")


def test_the_shipped_policy_lifts_a_block_through_the_executor(policy_config, encoder) -> None:
    """The shipped checkpoint in lock-step: a train-split seed it was never trained on (the sim and
    the policy are deterministic), each keyframe executed by the executor's core."""
    runner = ClosedLoopRunner(KeyframePolicy(policy_config, encoder))
    try:
        path = oracle_path(runner.sim_config, "lift_block", "train", 50003)
        result = runner.run_episode("lift_block", "train", 50003, path)
    finally:
        runner.close()
    assert result.success, result.reason
    assert result.keyframes >= 2 and len(result.policy_timings_s) == result.keyframes
    summary = summarise([result])
    assert summary["episodes"] == 1 and summary["policy_latency_ms"]["total"]["median"] > 0
    report = {
        "split": "train",
        "planner": "oracle",
        "seeds": [50003, 50003],
        "tasks": {"lift_block": summary},
        "mean_success_rate": summary["success_rate"],
        "overall": summary,
    }
    assert "| lift_block |" in markdown_table(report)


def test_intermediate_frames_lie_between_keyframes_and_target_the_next() -> None:
    assert sample_frames([4, 9, 10], 0, 1.0) == [(0, 0, False), (4, 1, False), (9, 2, False)]
    assert sample_frames([4, 9, 10], 2, 1.0) == [
        (0, 0, False),
        (2, 0, True),
        (4, 1, False),
        (6, 1, True),
        (8, 1, True),
        (9, 2, False),
    ]

    # only the first half of the way: frames near an arrival are left out
    assert sample_frames([8, 16], 1, 0.5) == [
        (0, 0, False),
        (1, 0, True),
        (2, 0, True),
        (3, 0, True),
        (4, 0, True),
        (8, 1, False),
        (9, 1, True),
        (10, 1, True),
        (11, 1, True),
        (12, 1, True),
    ]


def test_path_noise_moves_all_but_the_start() -> None:
    path = PlannedPath([(0.5, 0.1), (0.4, 0.6), (0.6, 0.6), (0.98, 0.5)], [True, False, False, True])
    rng = np.random.default_rng(0)
    assert perturb_path(path, PathNoiseConfig(0.0, 0.05, 0.02), rng) is path
    moved = [perturb_path(path, PathNoiseConfig(1.0, 0.05, 0.02), rng) for _ in range(200)]
    for noisy in moved:
        assert np.array_equal(noisy.points[0], path.points[0])  # the gripper's start is kept
        assert noisy.points.min() >= 0.0 and noisy.points.max() <= 1.0
        assert np.array_equal(noisy.gripper_open, path.gripper_open)
    shifts = np.stack([noisy.points[1:3] - path.points[1:3] for noisy in moved])  # (200, 2, 2)
    # one offset shared by the points (std ~0.05) and a smaller jitter between them (std ~0.02 * sqrt 2)
    assert 0.035 < shifts[:, 0].std() < 0.07
    assert 0.015 < (shifts[:, 0] - shifts[:, 1]).std() < 0.045
    with pytest.raises(ValueError, match="path_noise"):
        PathNoiseConfig(1.5, 0.0, 0.0)


def test_planner_paths_are_answered_per_episode_and_used_for_their_share(
    dataset: Path, small_config: PolicyConfig, encoder, tmp_path: Path
) -> None:
    copy = tmp_path / "demos"
    shutil.copytree(dataset, copy, ignore=shutil.ignore_patterns(".policy_samples_*"))
    answered = PlannedPath([(0.2, 0.8), (0.3, 0.3), (0.7, 0.3)], [True, False, True])
    planner = Planner.from_config(planner_config_for("oracle"), answered)
    result = answer_dataset(copy, planner, progress=False)
    assert set(result["episodes"]) == {d.name for d in list_episodes(copy)}
    (copy / PLANNER_PATHS_FILE).write_text(json.dumps(result))
    assert all(path == answered for path in read_planner_paths(copy / PLANNER_PATHS_FILE).values())
    always = replace(small_config, training=replace(small_config.training, planner_paths=1.0))
    planned = load_samples([copy], always, encoder, seed=0, progress=False)
    labelled = load_samples([copy], small_config, encoder, seed=0, progress=False, augmented=False)
    assert {s.path_source for s in planned} == {"planner"}
    assert {s.path_source for s in labelled} == {"label"}
    # the first sample's cloud carries the planner's path, not the label's
    assert not np.array_equal(planned[0].features[:, 3:], labelled[0].features[:, 3:])
    never = replace(small_config, training=replace(small_config.training, planner_paths=0.0))
    assert {s.path_source for s in load_samples([copy], never, encoder, seed=0, progress=False)} == {"label"}


def test_the_rotation_loss_takes_the_nearest_of_the_grippers_equivalent_targets(
    dataset: Path, small_config: PolicyConfig, encoder
) -> None:
    samples = load_samples([dataset], small_config, encoder, seed=0, progress=False, augmented=False)[:4]
    half_turn = (0.0, np.pi)
    batch = make_batch(samples, small_config, "cpu", None, half_turn)
    assert tuple(batch.rotation_bins.shape) == (4, 2, 3)
    for twins in batch.target_rotations:  # the second target is the first turned about the TCP z axis
        assert rotation_angle(twins[0], twins[1]) == pytest.approx(np.pi)
        np.testing.assert_allclose(twins[0][:, 2], twins[1][:, 2], atol=1e-9)
    torch.manual_seed(0)
    model = KeyframeNetwork(small_config.model, FEATURE_CHANNELS)
    output, _ = training_forward(model, batch, small_config, np.random.default_rng(0))

    def entropy(bins: torch.Tensor) -> torch.Tensor:  # per sample, each axis conditioned on ``bins``
        logits = model.heads(output.fine, output.fine_points, batch.proprio, bins).rotation_logits
        return (
            functional.cross_entropy(logits.flatten(0, 1), bins.flatten(), reduction="none")
            .view(-1, 3)
            .mean(1)
        )

    first, second = entropy(batch.rotation_bins[:, 0]), entropy(batch.rotation_bins[:, 1])
    assert not torch.allclose(first, second)
    expected = torch.minimum(first, second).mean()
    assert _rotation_loss(model, output, batch).item() == pytest.approx(expected.item(), rel=1e-5)
    single = make_batch(samples, small_config, "cpu", None)  # a gripper without the symmetry
    assert tuple(single.rotation_bins.shape) == (4, 1, 3)
    assert _rotation_loss(model, output, single).item() == pytest.approx(first.mean().item(), rel=1e-5)


def test_policy_validate_reports_the_shipped_checkpoints_errors_per_task(
    dataset: Path, tmp_path: Path
) -> None:
    """The shipped checkpoint on two of its own training demonstrations (seed 0): millimetre keyframes."""
    out = tmp_path / "validation.json"
    assert main(["policy-validate", "--data", str(dataset), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["checkpoint"].endswith("models/policy/policy.pt")
    assert report["equivalent_yaws"] == pytest.approx([0.0, np.pi])
    validation = report["validation"]
    assert set(validation["per_task"]) == {"lift_block", "press_button"}
    assert validation["translation_error_mm_median"] < 10.0
    assert validation["rotation_error_deg_median"] < 10.0
    assert validation["gripper_open_accuracy"] == 1.0


def test_a_recovery_demonstration_trains_on_the_recovery_only_and_on_the_planners_path(
    small_config: PolicyConfig, encoder, tmp_path: Path
) -> None:
    out = tmp_path / "recovery"
    collect(["push_to_target"], 1, "train", 2000, out, progress=False, frames="keyframes", recovery=1.0)
    reader = EpisodeReader(list_episodes(out)[0])
    keyframes = reader.meta["expert_keyframes"]
    # above the spoiled push's start (the fingers set there too), down, the push; then the recovery
    assert reader.recovery and [k["spoiled"] for k in keyframes] == [True] * 3 + [False] * (
        len(keyframes) - 3
    )
    with pytest.raises(DatasetError, match="run vla-ros policy-paths"):  # its label draws the spoiled push
        load_samples([out], small_config, encoder, seed=0, progress=False)
    with pytest.raises(DatasetError, match="no planner label"):  # nor does a planner learn that label
        reader.planner_label()
    answered = PlannedPath([(0.2, 0.8), (0.3, 0.3), (0.7, 0.3)], [True, False, True])
    planner = Planner.from_config(planner_config_for("oracle"), answered)
    (out / PLANNER_PATHS_FILE).write_text(json.dumps(answer_dataset(out, planner, progress=False)))
    labels_only = replace(small_config, training=replace(small_config.training, planner_paths=0.0))
    samples = load_samples([out], labels_only, encoder, seed=0, progress=False)
    unspoiled = [index for index, keyframe in enumerate(keyframes) if not keyframe["spoiled"]]
    assert [s.keyframe_index for s in samples] == unspoiled == list(range(3, len(keyframes)))
    assert {s.path_source for s in samples} == {"planner"}
    assert [s.done for s in samples] == [False] * (len(samples) - 1) + [True]
    # the first observes the arrival at the spoiled push's end and targets the lift from there
    np.testing.assert_allclose(samples[0].target_position[:2], keyframes[2]["tcp_pose"][:2], atol=1e-9)
    with pytest.raises(DatasetError, match="push_to_target only"):
        collect(["lift_block"], 1, "train", 0, tmp_path / "no", progress=False, recovery=0.5)
