"""Shared fixtures of the policy tests: the shipped configuration at a small, fast size."""

from __future__ import annotations

from dataclasses import replace

import pytest

from vla_ros.policy.settings import PolicyConfig, load_policy_config


@pytest.fixture(scope="session")
def policy_config() -> PolicyConfig:
    """config/policy.yaml as shipped."""
    return load_policy_config()


@pytest.fixture(scope="session")
def small_config(policy_config: PolicyConfig) -> PolicyConfig:
    """The shipped configuration with a small network (fast to train in a test)."""
    model = replace(policy_config.model, image_size=32, width=32, heads=2, decoder_channels=8, cross_layers=1)
    training = replace(policy_config.training, batch_size=4, warmup_steps=2, steps=30, validation_every=10)
    return replace(policy_config, model=model, training=training)
