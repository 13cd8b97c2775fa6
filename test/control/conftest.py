"""Shared fixtures of the control tests: settings from config/control.yaml and the Panda model."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.control.settings import ControllerSettings, ExecutorSettings

# Franka's "ready" pose.
READY = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])


@pytest.fixture(scope="session")
def executor_settings() -> ExecutorSettings:
    return ExecutorSettings.load()


@pytest.fixture(scope="session")
def controller_settings() -> ControllerSettings:
    return ControllerSettings.load()


@pytest.fixture(scope="session")
def kinematics(executor_settings: ExecutorSettings) -> ArmKinematics:
    return ArmKinematics.from_settings(executor_settings.robot)


@pytest.fixture()
def ready() -> np.ndarray:
    return READY.copy()
