"""The HAMSTER answer parser on a table of good, odd and broken answers, and the canonical format."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.planning.errors import (
    CoordinateScaleError,
    EmptyAnswerError,
    MalformedPointError,
    PathParseError,
    PointOutOfBoundsError,
    TooFewPointsError,
    UnknownActionError,
)
from vla_ros.planning.hamster_format import ParseOptions, build_prompt, format_answer, parse_answer
from vla_ros.planning.path import PlannedPath

WIDTH, HEIGHT = 640, 480
T, F = True, False

GOOD_ANSWERS = [
    (
        "canonical HAMSTER answer",
        "<ans>[(0.25, 0.32), <action>Close Gripper</action>, (0.74, 0.21)]</ans>",
        [(0.25, 0.32), (0.74, 0.21)],
        [F, F],
    ),
    (
        "pick and place, one item a line",
        "<ans>\n[\n  (0.52, 0.20),\n  (0.41, 0.55),\n  <action>Close Gripper</action>,\n  (0.41, 0.30),\n"
        "  (0.63, 0.48),\n  <action>Open Gripper</action>\n]\n</ans>",
        [(0.52, 0.20), (0.41, 0.55), (0.41, 0.30), (0.63, 0.48)],
        [T, F, F, T],
    ),
    (
        "answer starts with a tag (HAMSTER's eval parser fails here)",
        "<ans>[<action>Open Gripper</action>, (0.55, 0.40), (0.52, 0.61), <action>Close Gripper</action>, "
        "(0.30, 0.35)]</ans>",
        [(0.55, 0.40), (0.52, 0.61), (0.30, 0.35)],
        [T, F, F],
    ),
    (
        "no <ans> tags at all",
        "[(0.1, 0.2), (0.3, 0.4)]",
        [(0.1, 0.2), (0.3, 0.4)],
        [T, T],
    ),
    (
        "closing tag missing, answer cut off",
        "<ans>[(0.1, 0.2), (0.3, 0.4), <action>Close Gripper</action>",
        [(0.1, 0.2), (0.3, 0.4)],
        [T, F],
    ),
    (
        "doubled tags",
        "<ans> <ans>[(0.1, 0.2), (0.3, 0.4)]</ans></ans>",
        [(0.1, 0.2), (0.3, 0.4)],
        [T, T],
    ),
    (
        "chatty preamble and trailing text with numbers",
        "Sure! Here is the path: <ans>[(0.10, 0.20), (0.30, 0.40)]</ans> "
        "The gripper reaches the cube in 2 steps.",
        [(0.1, 0.2), (0.3, 0.4)],
        [T, T],
    ),
    (
        "outer list brackets missing",
        "<ans>(0.1, 0.2), <action>Close Gripper</action> (0.3, 0.4)</ans>",
        [(0.1, 0.2), (0.3, 0.4)],
        [F, F],
    ),
    (
        "no brackets at all",
        "<ans>0.1, 0.2, 0.3, 0.4</ans>",
        [(0.1, 0.2), (0.3, 0.4)],
        [T, T],
    ),
    (
        "points as square-bracket lists",
        "<ans>[[0.1, 0.2], [0.3, 0.4]]</ans>",
        [(0.1, 0.2), (0.3, 0.4)],
        [T, T],
    ),
    (
        "actions without tags, in lower case",
        "(0.1,0.2) close gripper (0.3,0.4) open gripper (0.5,0.6)",
        [(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)],
        [F, T, T],
    ),
    (
        "integers and a missing space",
        "<ans>[(1, 0),(0, 1)]</ans>",
        [(1.0, 0.0), (0.0, 1.0)],
        [T, T],
    ),
    (
        "pixel coordinates of a 640x480 image",
        "<ans>[(160, 120), (480, 360)]</ans>",
        [(0.25, 0.25), (0.75, 0.75)],
        [T, T],
    ),
    (
        "0-1000 scale (y beyond the image height in pixels)",
        "<ans>[(250, 500), (750, 900)]</ans>",
        [(0.25, 0.5), (0.75, 0.9)],
        [T, T],
    ),
    (
        "points slightly outside the image are clamped",
        "<ans>[(1.2, 0.5), (-0.1, 0.3)]</ans>",
        [(1.0, 0.5), (0.0, 0.3)],
        [T, T],
    ),
]

BROKEN_ANSWERS = [
    ("empty", "", EmptyAnswerError, ""),
    ("whitespace", "  \n\t ", EmptyAnswerError, ""),
    ("only tags", "<ans></ans>", EmptyAnswerError, "<ans></ans>"),
    ("refusal", "I cannot find a robot arm in this image.", TooFewPointsError, "robot arm"),
    ("code is never evaluated", "__import__('os').system('rm -rf /')", TooFewPointsError, "__import__"),
    ("one point", "<ans>[(0.1, 0.2)]</ans>", TooFewPointsError, "(0.1, 0.2)"),
    ("three coordinates", "<ans>[(0.1, 0.2, 0.3), (0.4, 0.5)]</ans>", MalformedPointError, "0.1"),
    ("one coordinate", "<ans>[(0.1, 0.2), (0.3)]</ans>", MalformedPointError, "(0.3)"),
    ("odd number of loose values", "<ans>0.1, 0.2, 0.3</ans>", MalformedPointError, "0.1, 0.2, 0.3"),
    ("random model output", "78}h34\x19\x0023\ufffdGripper tJc\x0023", MalformedPointError, "78}h34"),
    ("numbered steps", "Step 1: (0.1, 0.2) Step 2: (0.3, 0.4)", MalformedPointError, "Step 1"),
    (
        "unknown action",
        "<ans>[(0.1, 0.2), <action>Rotate Wrist</action>, (0.3, 0.4)]</ans>",
        UnknownActionError,
        "Rotate Wrist",
    ),
    ("no scale fits", "<ans>[(0.1, 0.2), (5000, 30)]</ans>", CoordinateScaleError, "(5000, 30)"),
]


@pytest.mark.parametrize(
    ("case", "text", "points", "gripper_open"), GOOD_ANSWERS, ids=[c[0] for c in GOOD_ANSWERS]
)
def test_good_and_odd_answers_parse(case: str, text: str, points: list, gripper_open: list) -> None:
    path = parse_answer(text, ParseOptions(), WIDTH, HEIGHT)
    np.testing.assert_allclose(path.points, points, atol=1e-9)
    assert path.gripper_open.tolist() == gripper_open
    assert path.text == text


@pytest.mark.parametrize(
    ("case", "text", "error", "excerpt"), BROKEN_ANSWERS, ids=[c[0] for c in BROKEN_ANSWERS]
)
def test_broken_answers_raise_typed_errors_with_excerpt(
    case: str, text: str, error: type, excerpt: str
) -> None:
    with pytest.raises(error) as caught:
        parse_answer(text, ParseOptions(), WIDTH, HEIGHT)
    assert isinstance(caught.value, PathParseError)
    assert excerpt in caught.value.excerpt
    assert caught.value.text == text


def test_scale_rules_are_configurable() -> None:
    pixels = "<ans>[(160, 120), (480, 360)]</ans>"
    with pytest.raises(CoordinateScaleError):
        parse_answer(pixels, ParseOptions(coordinate_scale="normalized"), WIDTH, HEIGHT)
    thousand_first = ParseOptions(auto_scales=("thousand", "pixels"))
    np.testing.assert_allclose(
        parse_answer(pixels, thousand_first, WIDTH, HEIGHT).points, [(0.16, 0.12), (0.48, 0.36)]
    )
    # Without the image size, pixels cannot be recognised: the 0-1000 scale is the remaining reading.
    np.testing.assert_allclose(parse_answer(pixels).points, [(0.16, 0.12), (0.48, 0.36)])
    with pytest.raises(CoordinateScaleError, match="image size"):
        parse_answer(pixels, ParseOptions(coordinate_scale="pixels"))
    with pytest.raises(CoordinateScaleError):
        parse_answer(pixels, ParseOptions(auto_scales=()), WIDTH, HEIGHT)


def test_points_outside_the_image_can_be_rejected() -> None:
    with pytest.raises(PointOutOfBoundsError) as caught:
        parse_answer("<ans>[(0.5, 0.5), (1.2, 0.5)]</ans>", ParseOptions(out_of_bounds="reject"))
    assert "1.2" in caught.value.excerpt
    assert "point 1" in str(caught.value)


def test_initial_gripper_state_is_configurable() -> None:
    closed_first = ParseOptions(initial_gripper_open=False)
    path = parse_answer(
        "<ans>[(0.1, 0.2), (0.3, 0.4), <action>Open Gripper</action>, (0.5, 0.6)]</ans>", closed_first
    )
    assert path.gripper_open.tolist() == [F, T, T]
    assert path.gripper_events() == [(1, True)]
    assert not path.initial_gripper_open


def test_min_points_and_bad_options() -> None:
    assert len(parse_answer("(0.1, 0.2)", ParseOptions(min_points=1))) == 1
    for bad in (
        {"coordinate_scale": "percent"},
        {"auto_scales": ("normalized",)},
        {"out_of_bounds": "wrap"},
        {"min_points": 0},
        {"normalized_limit": 0.5},
    ):
        with pytest.raises(ValueError):
            ParseOptions(**bad)


def test_format_answer_is_canonical_and_round_trips() -> None:
    path = PlannedPath([(0.25, 0.32), (0.5, 0.5), (0.74, 0.21)], [False, False, True])
    text = format_answer(path)
    assert text == (
        "<ans>[(0.25, 0.32), <action>Close Gripper</action>, (0.50, 0.50), (0.74, 0.21), "
        "<action>Open Gripper</action>]</ans>"
    )
    assert parse_answer(text) == path
    rng = np.random.default_rng(3)
    for _ in range(50):
        count = int(rng.integers(2, 9))
        random_path = PlannedPath(rng.random((count, 2)), rng.random(count) > 0.5, bool(rng.random() > 0.5))
        options = ParseOptions(initial_gripper_open=random_path.initial_gripper_open)
        parsed = parse_answer(format_answer(random_path, decimals=4), options)
        np.testing.assert_allclose(parsed.points, random_path.points, atol=5e-5)
        assert parsed.gripper_events() == random_path.gripper_events()


def test_build_prompt_fills_the_instruction() -> None:
    prompt = build_prompt(
        "Task: <quest>{instruction}</quest>. Answer in <ans></ans>.", "  stack the cubes \n"
    )
    assert prompt == "Task: <quest>stack the cubes</quest>. Answer in <ans></ans>."
    with pytest.raises(ValueError, match="placeholder"):
        build_prompt("no placeholder", "x")
