"""HAMSTER's answer format: the prompt, the canonical answer text and a robust parser (no eval).

An answer lists the gripper's path as points between ``<ans>`` and ``</ans>``, with gripper events
between them::

    <ans>[(0.25, 0.32), <action>Close Gripper</action>, (0.74, 0.21)]</ans>

An event after point i (or before the first point) sets the gripper state from point i on.
:func:`format_answer` writes this canonical text (the simulator's labels use it);
:func:`parse_answer` reads it back, and also the odd answers real models give.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from vla_ros.planning.errors import (
    CoordinateScaleError,
    EmptyAnswerError,
    MalformedPointError,
    PointOutOfBoundsError,
    TooFewPointsError,
    UnknownActionError,
)
from vla_ros.planning.path import PlannedPath

INSTRUCTION_PLACEHOLDER = "{instruction}"
ANSWER_OPEN = "<ans>"
ANSWER_CLOSE = "</ans>"
OPEN_GRIPPER = "<action>Open Gripper</action>"
CLOSE_GRIPPER = "<action>Close Gripper</action>"

COORDINATE_SCALES = ("auto", "normalized", "pixels", "thousand")
AUTO_SCALES = ("pixels", "thousand")
OUT_OF_BOUNDS_POLICIES = ("clamp", "reject")
_THOUSAND = 1000.0
_EXCERPT_CONTEXT = 24

_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(
    r"(?P<tag><\s*action\s*>(?P<body>[^<]*)<\s*/?\s*action\s*>)"
    r"|(?P<bare>\b(?P<verb>open|close)\s+gripper\b)"
    rf"|(?P<pair>[(\[]\s*(?P<x>{_NUMBER})(?:\s*[,;]\s*|\s+)(?P<y>{_NUMBER})\s*[)\]])"
    rf"|(?P<number>{_NUMBER})",
    re.IGNORECASE,
)
_LOOSE_SEPARATOR = re.compile(r"[\s,;\[\]]*")
_GRIPPER_ACTION = re.compile(r"\s*(open|close)\s*gripper\s*", re.IGNORECASE)
_ANSWER_OPEN_TAGS = re.compile(r"(?:<\s*ans\s*>\s*)+", re.IGNORECASE)
_ANSWER_CLOSE_TAG = re.compile(r"<\s*/\s*ans\s*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<\s*/?\s*(?:ans|action)\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class ParseOptions:
    """How :func:`parse_answer` treats odd answers.

    coordinate_scale: "normalized" accepts only [0, 1] coordinates (others are rejected);
        "pixels" divides by the image size; "thousand" divides by 1000; "auto" takes coordinates
        whose largest value is at most ``normalized_limit`` as normalised and otherwise the first
        scale of ``auto_scales`` under which the largest x and y fall inside the image.
    normalized_limit: in "auto" mode, the largest value still read as a normalised coordinate
        (a normalised point slightly outside the image is not mistaken for pixels).
    auto_scales: the scales "auto" tries, in order ("pixels" only when the image size is known).
    out_of_bounds: "clamp" moves points outside the image onto its border; "reject" raises.
    min_points: the fewest points a path may have.
    initial_gripper_open: the gripper state before the first event.
    """

    coordinate_scale: str = "auto"
    normalized_limit: float = 1.5
    auto_scales: tuple[str, ...] = AUTO_SCALES
    out_of_bounds: str = "clamp"
    min_points: int = 2
    initial_gripper_open: bool = True

    def __post_init__(self) -> None:
        if self.coordinate_scale not in COORDINATE_SCALES:
            raise ValueError(
                f"coordinate_scale must be one of {COORDINATE_SCALES}, got {self.coordinate_scale!r}"
            )
        unknown = [scale for scale in self.auto_scales if scale not in AUTO_SCALES]
        if unknown:
            raise ValueError(f"auto_scales may only hold {AUTO_SCALES}, got {unknown}")
        if self.out_of_bounds not in OUT_OF_BOUNDS_POLICIES:
            raise ValueError(
                f"out_of_bounds must be one of {OUT_OF_BOUNDS_POLICIES}, got {self.out_of_bounds!r}"
            )
        if self.normalized_limit < 1.0:
            raise ValueError(f"normalized_limit must be at least 1, got {self.normalized_limit}")
        if self.min_points < 1:
            raise ValueError(f"min_points must be at least 1, got {self.min_points}")


def build_prompt(template: str, instruction: str) -> str:
    """Fill the instruction into a prompt template holding the ``{instruction}`` placeholder."""
    if INSTRUCTION_PLACEHOLDER not in template:
        raise ValueError(f"the prompt template has no {INSTRUCTION_PLACEHOLDER} placeholder")
    return template.replace(INSTRUCTION_PLACEHOLDER, instruction.strip())


def format_answer(path: PlannedPath, decimals: int = 2) -> str:
    """Write a path as HAMSTER's canonical answer text (events placed after the point they happen at)."""
    events = dict(path.gripper_events())
    items = []
    for index, (x, y) in enumerate(path.points):
        items.append(f"({x:.{decimals}f}, {y:.{decimals}f})")
        if index in events:
            items.append(OPEN_GRIPPER if events[index] else CLOSE_GRIPPER)
    return f"{ANSWER_OPEN}[{', '.join(items)}]{ANSWER_CLOSE}"


def parse_answer(
    text: str,
    options: ParseOptions | None = None,
    width: int | None = None,
    height: int | None = None,
) -> PlannedPath:
    """Parse a model's answer into a :class:`PlannedPath` (never evaluates the text).

    Tolerates whitespace and line breaks, missing or repeated ``<ans>`` tags, text before and after
    the answer, missing brackets and an event before the first point. ``width`` and ``height`` (the
    image size in pixels) allow pixel coordinates. Raises a subclass of
    :class:`~vla_ros.planning.errors.PathParseError` naming the offending excerpt.
    """
    options = options or ParseOptions()
    if not text or not _ANY_TAG.sub("", text).strip():
        raise EmptyAnswerError("the answer is empty", text, text)
    region_start, region_end = _answer_region(text)
    points, events = _tokenize(text, region_start, region_end)
    if len(points) < options.min_points:
        raise TooFewPointsError(
            f"the answer holds {len(points)} point(s), at least {options.min_points} needed",
            text,
            _excerpt(text, region_start, region_end),
        )
    coordinates = np.array([(point.x, point.y) for point in points], dtype=np.float64)
    normalised = _normalise(coordinates, points, text, options, width, height)
    normalised = _apply_bounds(normalised, points, text, options)
    gripper_open = _gripper_states(events, len(points), options.initial_gripper_open)
    return PlannedPath(normalised, gripper_open, options.initial_gripper_open, text)


@dataclass(frozen=True)
class _RawPoint:
    """A point as written in the answer, with its span in the text."""

    x: float
    y: float
    start: int
    end: int


def _answer_region(text: str) -> tuple[int, int]:
    """Return the span of the answer: after the first run of <ans> tags, up to the next </ans>."""
    opening = _ANSWER_OPEN_TAGS.search(text)
    start = opening.end() if opening is not None else 0
    closing = _ANSWER_CLOSE_TAG.search(text, start)
    return start, closing.start() if closing is not None else len(text)


def _tokenize(text: str, start: int, end: int) -> tuple[list[_RawPoint], list[tuple[int, bool]]]:
    """Return the points and the events (number of points before the event, opens) in text[start:end]."""
    points: list[_RawPoint] = []
    events: list[tuple[int, bool]] = []
    loose: list[re.Match[str]] = []  # numbers outside brackets, paired up in order

    def flush_loose() -> None:
        for first, second in itertools.pairwise(loose):
            if not _LOOSE_SEPARATOR.fullmatch(text, first.end(), second.start()):
                raise MalformedPointError(
                    "numbers outside brackets must be separated by commas or spaces only",
                    text,
                    _excerpt(text, first.start(), second.end()),
                )
        if len(loose) % 2:
            raise MalformedPointError(
                "coordinates do not pair up into (x, y) points",
                text,
                _excerpt(text, loose[0].start(), loose[-1].end()),
            )
        for first, second in zip(loose[::2], loose[1::2], strict=True):
            points.append(_RawPoint(float(first.group()), float(second.group()), first.start(), second.end()))
        loose.clear()

    for match in _TOKEN.finditer(text, start, end):
        if match.group("tag"):
            verb = _GRIPPER_ACTION.fullmatch(match.group("body"))
            if verb is None:
                raise UnknownActionError(
                    "only Open Gripper and Close Gripper actions are known",
                    text,
                    _excerpt(text, match.start(), match.end()),
                )
            flush_loose()
            events.append((len(points), verb.group(1).lower() == "open"))
        elif match.group("bare"):
            flush_loose()
            events.append((len(points), match.group("verb").lower() == "open"))
        elif match.group("pair"):
            flush_loose()
            points.append(
                _RawPoint(float(match.group("x")), float(match.group("y")), match.start(), match.end())
            )
        elif _round_bracket_depth(text, start, match.start()) > 0:
            raise MalformedPointError(
                "a point must have exactly two coordinates", text, _excerpt(text, match.start(), match.end())
            )
        else:
            loose.append(match)
    flush_loose()
    return points, events


def _round_bracket_depth(text: str, start: int, position: int) -> int:
    """Number of round brackets open at ``position`` (square brackets enclose lists, not points)."""
    return text.count("(", start, position) - text.count(")", start, position)


def _choose_scale(
    largest: np.ndarray, options: ParseOptions, width: int | None, height: int | None
) -> str | None:
    """The scale the coordinates are in (None when "auto" finds none that fits)."""
    if options.coordinate_scale != "auto":
        return options.coordinate_scale
    if largest.max() <= options.normalized_limit:
        return "normalized"
    for candidate in options.auto_scales:
        if candidate == "pixels" and width and height and largest[0] <= width and largest[1] <= height:
            return candidate
        if candidate == "thousand" and largest.max() <= _THOUSAND:
            return candidate
    return None


def _normalise(
    coordinates: np.ndarray,
    points: list[_RawPoint],
    text: str,
    options: ParseOptions,
    width: int | None,
    height: int | None,
) -> np.ndarray:
    largest = coordinates.max(axis=0)
    widest = points[int(np.argmax(coordinates.max(axis=1)))]
    excerpt = _excerpt(text, widest.start, widest.end)
    scale = _choose_scale(largest, options, width, height)
    if scale is None:
        raise CoordinateScaleError(
            f"coordinates up to ({largest[0]:g}, {largest[1]:g}) fit none of the scales normalized, "
            f"{', '.join(options.auto_scales)} (image size {width}x{height})",
            text,
            excerpt,
        )
    if scale == "normalized":
        if largest.max() > options.normalized_limit:
            raise CoordinateScaleError("coordinates must be normalised to [0, 1]", text, excerpt)
        return coordinates
    if scale == "pixels":
        if not width or not height:
            raise CoordinateScaleError("pixel coordinates need the image size", text, excerpt)
        return coordinates / np.array([width, height], dtype=np.float64)
    return coordinates / _THOUSAND


def _apply_bounds(
    normalised: np.ndarray, points: list[_RawPoint], text: str, options: ParseOptions
) -> np.ndarray:
    outside = np.flatnonzero(np.any((normalised < 0.0) | (normalised > 1.0), axis=1))
    if outside.size == 0:
        return normalised
    if options.out_of_bounds == "reject":
        index = int(outside[0])
        raise PointOutOfBoundsError(
            f"point {index} at ({normalised[index, 0]:.3g}, {normalised[index, 1]:.3g}) "
            "lies outside the image",
            text,
            _excerpt(text, points[index].start, points[index].end),
        )
    return np.clip(normalised, 0.0, 1.0)


def _gripper_states(events: list[tuple[int, bool]], num_points: int, initial_open: bool) -> np.ndarray:
    """Gripper state from each point on: an event after point i (or before point 0) applies from i on."""
    states = np.full(num_points, initial_open, dtype=bool)
    for points_before, opens in events:
        states[max(points_before - 1, 0) :] = opens
    return states


def _excerpt(text: str, start: int, end: int) -> str:
    return text[max(start - _EXCERPT_CONTEXT, 0) : end + _EXCERPT_CONTEXT].strip()
