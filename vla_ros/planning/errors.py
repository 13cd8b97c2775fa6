"""Typed errors of the planner core: bad paths, unparseable answers, backend failures."""

from __future__ import annotations


class PlannerError(Exception):
    """Base class of every error the planner core raises."""


class InvalidPathError(PlannerError, ValueError):
    """A PlannedPath was built from inconsistent or out-of-range data."""


class InvalidImageError(PlannerError, ValueError):
    """An image is not an (H, W, 3) uint8 RGB array, or an image size is not positive."""


class EmptyInstructionError(PlannerError, ValueError):
    """The instruction to plan for is empty."""


class PathParseError(PlannerError, ValueError):
    """A model's answer could not be turned into a path.

    ``excerpt`` holds the offending part of the answer, ``text`` the whole answer.
    """

    def __init__(self, message: str, text: str = "", excerpt: str = "") -> None:
        self.text = text
        self.excerpt = excerpt
        super().__init__(f"{message}: {excerpt!r}" if excerpt else message)


class EmptyAnswerError(PathParseError):
    """The answer is empty or holds only whitespace and tags."""


class MalformedPointError(PathParseError):
    """A point has the wrong number of coordinates, or numbers do not pair up into points."""


class TooFewPointsError(PathParseError):
    """The answer holds fewer points than a path needs (none at all for a garbage answer)."""


class UnknownActionError(PathParseError):
    """An ``<action>`` tag names something other than Open Gripper or Close Gripper."""


class CoordinateScaleError(PathParseError):
    """The coordinates are not in [0, 1] and no allowed scale (pixels, 0-1000) explains them."""


class PointOutOfBoundsError(PathParseError):
    """A point lies outside the image and the parser is set to reject such points."""


class BackendError(PlannerError):
    """A planner backend could not produce an answer."""


class ModelLoadError(BackendError):
    """A local model directory is missing, incomplete or not loadable."""


class BackendRequestError(BackendError):
    """A request to a model server failed (connection, timeout or HTTP error).

    ``retryable`` tells whether trying again may help (connection errors, timeouts, 429, 5xx).
    """

    def __init__(self, message: str, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class BackendResponseError(BackendError):
    """A model server answered, but not in the expected chat-completions shape."""


class PlanningFailedError(PlannerError):
    """Every attempt to plan failed; ``errors`` holds the error of each attempt."""

    def __init__(self, message: str, errors: list[PlannerError]) -> None:
        self.errors = errors
        super().__init__(message)
