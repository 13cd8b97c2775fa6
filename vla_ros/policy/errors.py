"""Errors of the keyframe policy: bad input (no prediction for this observation) and bad checkpoints."""

from __future__ import annotations


class PolicyError(RuntimeError):
    """Base class of the policy's errors."""


class PolicyInputError(PolicyError, ValueError):
    """An observation the policy cannot predict from (empty cloud, invalid depth, no path...)."""


class PolicyCheckpointError(PolicyError):
    """A checkpoint that is missing, unreadable, or does not match the configuration."""
