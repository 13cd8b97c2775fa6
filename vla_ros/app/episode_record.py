"""What one instruction did in the graph: its outcome, per-keyframe timings, and its image strip.

Pure (no ROS): the graph client (:mod:`vla_ros.app.graph_client`) fills an :class:`EpisodeRecord` from the
topics and the action, and the demo and ``vla-ros eval`` report it. Times are in seconds of the
graph's clock (simulated time under ``use_sim_time``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vla_ros.data.camera import CameraIntrinsics, project_points

STRIP_ROW_HEIGHT = 240  # pixels of each row of an episode's image strip
TEXT_COLOUR = (255, 255, 255)
OPEN_COLOUR = (40, 220, 40)  # keyframe marker with the gripper open (RGB)
CLOSED_COLOUR = (230, 40, 200)  # ... closed


@dataclass
class KeyframeEvent:
    """One keyframe of an episode: when it was asked for, predicted and reached, and what it was.

    ``requested_at``: the path (keyframe 0) or the previous keyframe reached; ``observed_at``: stamp of
    the camera frame it was predicted from; ``predicted_at`` / ``reached_at``: receipt of the policy's
    target and of the executor's echo (None when it was never reached).
    """

    index: int
    requested_at: float
    observed_at: float
    predicted_at: float
    position: tuple[float, float, float]
    gripper_open: bool
    confidence: float
    reached_at: float | None = None

    @property
    def predict_s(self) -> float:
        """From the request to the target: waiting for a fresh frame, inference, transport."""
        return self.predicted_at - self.requested_at

    @property
    def camera_to_keyframe_s(self) -> float:
        """Age of the camera frame when its keyframe arrived (camera-to-decision latency)."""
        return self.predicted_at - self.observed_at

    @property
    def delivered_late(self) -> bool:
        """The target reached this client after the executor's echo of it: the middleware held it back
        (a dropped, resent message), so its receipt time is not when it was predicted."""
        return self.reached_at is not None and self.reached_at < self.predicted_at

    @property
    def execute_s(self) -> float | None:
        """From the target to its reached echo: the executor's chunks and the controller's motion."""
        return None if self.reached_at is None else self.reached_at - self.predicted_at


@dataclass
class EpisodeRecord:
    """One instruction through the graph, from reset to the task check."""

    task: str
    split: str
    seed: int
    instruction: str
    episode_id: str = ""  # the goal id (32 hex digits) every message of the episode carried
    goal_status: str = ""  # succeeded, aborted or canceled (the action's)
    goal_message: str = ""
    episode_end: str = ""  # how the episode ended (EpisodeStatus): succeeded, aborted, timed_out, ...
    task_success: bool = False  # the simulator's ~/check_success, after the goal ended
    task_message: str = ""
    planner: str = ""
    planning_latency_s: float = float("nan")  # the planner's own (Path2D.latency)
    path_points: int = 0
    raw_answer: str = ""
    planning_time_s: float = float("nan")  # from the action result
    total_time_s: float = float("nan")  # from the action result
    wall_time_s: float = float("nan")
    keyframes: list[KeyframeEvent] = field(default_factory=list)
    hold_transitions: int = 0  # the controller's motions interrupted by a hold during the episode
    frames_published: int = 0  # camera frames the simulator published during the episode
    frames_dropped: int = 0  # ... and dropped because the machine could not keep up
    recording: dict[str, Any] = field(default_factory=dict)  # MCAP file and messages per topic, if any

    @property
    def keyframes_reached(self) -> int:
        """Keyframes the executor reported reached."""
        return sum(event.reached_at is not None for event in self.keyframes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields plus each keyframe's derived timings."""
        data = asdict(self)
        data["keyframes_reached"] = self.keyframes_reached
        for entry, event in zip(data["keyframes"], self.keyframes, strict=True):
            entry.update(
                predict_s=event.predict_s,
                camera_to_keyframe_s=event.camera_to_keyframe_s,
                execute_s=event.execute_s,
            )
        return data

    def timing_line(self) -> str:
        """One line: planning, then predict + execute per keyframe, then the total (ms / s)."""
        parts = [f"planning {1000 * self.planning_latency_s:.1f} ms"]
        for event in self.keyframes:
            if event.delivered_late:
                parts.append(f"kf{event.index}: target received late here, timing unknown")
                continue
            execute = "not reached" if event.execute_s is None else f"exec {event.execute_s:.2f} s"
            parts.append(f"kf{event.index}: predict {1000 * event.predict_s:.0f} ms, {execute}")
        parts.append(f"total {self.total_time_s:.1f} s")
        return "; ".join(parts)


def project_keyframes(
    events: list[KeyframeEvent],
    camera_matrix: np.ndarray,
    base_from_optical: np.ndarray,
    size: tuple[int, int],
) -> np.ndarray:
    """Pixel coordinates (N, 2) of the keyframes' positions on a (width, height) camera image."""
    if not events:
        return np.zeros((0, 2))
    width, height = size
    intrinsics = CameraIntrinsics.from_matrix(width, height, camera_matrix)
    pixels, _ = project_points(intrinsics, base_from_optical, [event.position for event in events])
    return pixels


def draw_keyframes(image: np.ndarray, events: list[KeyframeEvent], pixels: np.ndarray) -> np.ndarray:
    """The image with each keyframe as a numbered circle, green open / magenta closed, the last filled."""
    canvas = np.ascontiguousarray(image.copy())
    for number, (event, (u, v)) in enumerate(zip(events, pixels, strict=True)):
        if not (np.isfinite(u) and np.isfinite(v)):
            continue
        centre = (round(float(u)), round(float(v)))
        colour = OPEN_COLOUR if event.gripper_open else CLOSED_COLOUR
        last = number == len(events) - 1
        cv2.circle(canvas, centre, 7 if last else 5, colour, -1 if last else 2, cv2.LINE_AA)
        cv2.putText(
            canvas,
            str(event.index),
            (centre[0] + 7, centre[1] - 5),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            colour,
            1,
            cv2.LINE_AA,
        )
    return canvas


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _caption(image: np.ndarray, text: str) -> np.ndarray:
    canvas = np.ascontiguousarray(image.copy())
    cv2.rectangle(canvas, (0, 0), (canvas.shape[1], 16), (0, 0, 0), -1)
    cv2.putText(canvas, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, TEXT_COLOUR, 1, cv2.LINE_AA)
    return canvas


def episode_strip(
    record: EpisodeRecord,
    path_overlay: np.ndarray,
    keyframe_frames: list[np.ndarray | None],
    keyframe_heatmaps: list[dict[str, np.ndarray]],
    keyframe_pixels: np.ndarray,
) -> np.ndarray:
    """An RGB image: the planned path, then one row per keyframe (its camera frame with the path and the
    keyframes so far, and each view's heatmap), each captioned with what happened."""
    height = STRIP_ROW_HEIGHT
    outcome = "SUCCESS" if record.task_success else "failure"
    rows = [
        _caption(
            _fit_height(path_overlay, height),
            f"{record.task}/{record.seed} {outcome}: path of {record.path_points} points, "
            f"{1000 * record.planning_latency_s:.1f} ms",
        )
    ]
    for number, (event, frame, heatmaps) in enumerate(
        zip(record.keyframes, keyframe_frames, keyframe_heatmaps, strict=True)
    ):
        camera = frame if frame is not None else np.zeros_like(path_overlay)
        camera = draw_keyframes(camera, record.keyframes[: number + 1], keyframe_pixels[: number + 1])
        reached = "not reached" if event.execute_s is None else f"reached in {event.execute_s:.1f} s"
        panels = [
            _caption(
                _fit_height(camera, height),
                f"kf {event.index} {'open' if event.gripper_open else 'closed'}: "
                f"{1000 * event.predict_s:.0f} ms, {reached}",
            )
        ]
        panels += [_caption(_fit_height(image, height), view) for view, image in heatmaps.items()]
        rows.append(np.concatenate(panels, axis=1))
    width = max(row.shape[1] for row in rows)
    padded = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows]
    return np.concatenate(padded, axis=0)


@dataclass
class EpisodeImages:
    """The images of an episode, for its strip: the path overlay, and per keyframe its camera frame and
    each view's heatmap."""

    path_overlay: np.ndarray | None = None
    keyframe_frames: list[np.ndarray | None] = field(default_factory=list)
    keyframe_heatmaps: list[dict[str, np.ndarray]] = field(default_factory=list)
    camera_matrix: np.ndarray | None = None
    camera_pose: np.ndarray | None = None


def save_strip(record: EpisodeRecord, images: EpisodeImages, out: Path) -> str:
    """Write the episode's image strip as PNG under ``out``; returns its file name ("" without a path)."""
    if images.path_overlay is None:
        return ""
    height, width = images.path_overlay.shape[:2]
    if images.camera_matrix is None or images.camera_pose is None:  # keyframes are not drawn
        pixels = np.full((len(record.keyframes), 2), np.nan)
    else:
        pixels = project_keyframes(
            record.keyframes, images.camera_matrix, images.camera_pose, (width, height)
        )
    strip = episode_strip(
        record, images.path_overlay, images.keyframe_frames, images.keyframe_heatmaps, pixels
    )
    name = f"{record.task}_{record.split}_{record.seed:03d}.png"
    cv2.imwrite(str(out / name), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    return name
