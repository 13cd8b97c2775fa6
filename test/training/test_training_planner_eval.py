"""Planner evaluation: path distance, gripper events, parse rate and the report, on known inputs."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
from planner_dataset import EPISODES, synthetic_camera_and_object, write_episode, write_synthetic_dataset

from vla_ros.planning.hamster_format import ParseOptions, format_answer
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.settings import load_planner_config
from vla_ros.training.planner import evaluation as planner_eval
from vla_ros.training.planner.evaluation import (
    EpisodeResult,
    compare_answer,
    gripper_event_sequence,
    keypoint_errors,
    path_distance,
    summarise,
    summarise_by_task,
)
from vla_ros.training.planner.samples import PlannerDataError, PlannerSample, load_samples
from vla_ros.training.planner.tiny_vlm import build_tiny_llava

OPTIONS = ParseOptions()


@pytest.fixture(scope="module")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("planner_dataset"))


LABEL = PlannedPath([(0.2, 0.2), (0.2, 0.6), (0.6, 0.6)], [True, False, True])


def _sample(task: str = "lift_block", label: PlannedPath = LABEL) -> PlannerSample:
    return PlannerSample("episode", task, "lift the red block", np.zeros((40, 80, 3), np.uint8), label)


def test_path_distance_after_resampling() -> None:
    assert path_distance(LABEL, LABEL, 50) == 0.0
    shifted = PlannedPath(LABEL.points + np.array([0.1, 0.0]), LABEL.gripper_open)
    assert path_distance(shifted, LABEL, 50) == pytest.approx(0.1)
    # The same geometry written with an extra point on a segment resamples to the same points.
    densified = PlannedPath([(0.2, 0.2), (0.2, 0.4), (0.2, 0.6), (0.6, 0.6)], [True, True, False, True])
    assert path_distance(densified, LABEL, 50) == pytest.approx(0.0, abs=1e-12)
    # A path travelled backwards: the ends are 0.4 * sqrt(2) apart, the middle points coincide.
    reverse = PlannedPath(LABEL.points[::-1], LABEL.gripper_open)
    assert path_distance(reverse, LABEL, 3) == pytest.approx(2 * 0.4 * math.sqrt(2) / 3)


def test_gripper_events_compare_the_ordered_sequence() -> None:
    assert gripper_event_sequence(LABEL) == [False, True]
    moved_events = PlannedPath(LABEL.points, [False, False, True])  # same sequence, other points
    assert compare_answer(_sample(), format_answer(moved_events), OPTIONS, 50).events_match
    no_open = PlannedPath(LABEL.points, [True, False, False])
    assert not compare_answer(_sample(), format_answer(no_open), OPTIONS, 50).events_match


def test_compare_answer_parses_like_the_planner() -> None:
    exact = compare_answer(_sample(), format_answer(LABEL), OPTIONS, 50)
    assert exact.parsed and exact.path_distance == 0.0 and exact.events_match
    pixels = compare_answer(_sample(), "<ans>[(16, 8), (16, 24), (48, 24)]</ans>", OPTIONS, 50)
    assert pixels.parsed and pixels.path_distance == pytest.approx(0.0, abs=1e-12)
    broken = compare_answer(_sample(), "<ans>[(0.2, 0.3, 0.4)]</ans>", OPTIONS, 50)
    assert not broken.parsed and broken.error.startswith("MalformedPointError")
    assert broken.path_distance is None and broken.events_match is None


def test_summaries_on_known_results() -> None:
    results = [
        EpisodeResult("a", "lift_block", "", None, 0.02, True),
        EpisodeResult("b", "lift_block", "", None, 0.06, False),
        EpisodeResult("c", "press_button", "", "EmptyAnswerError: empty", None, None),
        EpisodeResult("d", "press_button", "", None, 0.10, True),
    ]
    overall = summarise(results)
    assert overall["episodes"] == 4 and overall["parse_rate"] == 0.75
    assert overall["mean_path_distance"] == pytest.approx(0.06)
    assert overall["median_path_distance"] == pytest.approx(0.06)
    assert overall["gripper_event_accuracy"] == 0.5  # the unparsed answer counts as wrong
    by_task = summarise_by_task(results)
    assert by_task["per_task"]["press_button"]["parse_rate"] == 0.5
    assert by_task["per_task"]["lift_block"]["mean_path_distance"] == pytest.approx(0.04)
    assert summarise(results[2:3])["mean_path_distance"] is None


def test_load_samples_and_bad_datasets(synthetic_dataset: Path, tmp_path: Path) -> None:
    samples = load_samples([synthetic_dataset], OPTIONS)
    assert [s.instruction for s in samples] == [instruction for _, instruction, _, _ in EPISODES]
    assert samples[0].image.shape == (60, 80, 3) and len(samples[0].label) == 3
    for sample, (_, instruction, _, centre) in zip(samples, EPISODES, strict=True):
        # the scene's cube, projected through the recorded camera, lands on the label's grasp point
        (landmark,) = sample.landmarks
        assert landmark.description == f"{instruction.split()[-2]} cube"
        assert np.allclose(landmark.point, centre, atol=1e-9)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PlannerDataError, match="no episodes"):
        load_samples([tmp_path / "empty"], OPTIONS)
    write_episode(tmp_path / "bad" / "ep", "lift_block", "lift", np.zeros((4, 4, 3), np.uint8), "no path")
    with pytest.raises(PlannerDataError, match="no readable path label"):
        load_samples([tmp_path / "bad"], OPTIONS)
    no_scene = tmp_path / "no_scene"
    write_episode(no_scene / "ep", "lift_block", "lift", np.zeros((4, 4, 3), np.uint8), format_answer(LABEL))
    assert load_samples([no_scene], OPTIONS)[0].landmarks == ()  # external data without a scene record
    broken = tmp_path / "broken_scene"
    camera, _ = synthetic_camera_and_object((0.5, 0.5), "red")
    scene = (camera, {"objects": [{"kind": "cube", "colour": "red"}]})  # no position
    write_episode(
        broken / "ep", "lift_block", "lift", np.zeros((4, 4, 3), np.uint8), format_answer(LABEL), scene
    )
    with pytest.raises(PlannerDataError, match="unreadable scene objects or camera"):
        load_samples([broken], OPTIONS)


def test_planner_eval_command_writes_the_report(synthetic_dataset: Path, tmp_path: Path) -> None:
    texts = [load_planner_config().prompt_template, format_answer(LABEL)]
    model = build_tiny_llava(tmp_path / "model", texts)
    out = tmp_path / "report.json"
    args = argparse.Namespace(
        model=model,
        data=[synthetic_dataset],
        out=out,
        device="cpu",
        threads=1,
        config="planner_training.yaml",
        planner_config="planner.yaml",
    )
    assert planner_eval._run(args) == 0
    report = json.loads(out.read_text())
    assert report["overall"]["episodes"] == 3 and len(report["results"]) == 3
    assert set(report["per_task"]) == {"lift_block", "press_button"}
    assert 0.0 <= report["overall"]["parse_rate"] <= 1.0 and report["resample_points"] == 50


def test_keypoint_errors_locate_the_start_the_first_gripper_event_and_the_end() -> None:
    label = PlannedPath(np.array([[0.5, 0.1], [0.3, 0.6], [0.7, 0.5]]), np.array([True, False, False]))
    moved = PlannedPath(np.array([[0.5, 0.1], [0.3, 0.7], [0.7, 0.2]]), np.array([True, False, False]))
    errors = keypoint_errors(moved, label)
    assert errors == pytest.approx({"start": 0.0, "first_event": 0.1, "end": 0.3})
    no_events = PlannedPath(moved.points, np.array([True, True, True]))
    assert set(keypoint_errors(no_events, label)) == {"start", "end"}
    results = [
        EpisodeResult("a", "lift_block", "", None, 0.1, True, errors),
        EpisodeResult("b", "lift_block", "", None, 0.1, False, {"start": 0.2, "end": 0.1}),
    ]
    assert summarise(results)["mean_keypoint_error"] == pytest.approx(
        {"start": 0.1, "first_event": 0.1, "end": 0.2}
    )
