"""Shared fixtures of the simulator tests: one workcell and one kinematic model per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.sim.settings import SimConfig, load_sim_config
from vla_ros.sim.workcell import Workcell


@pytest.fixture(scope="session")
def sim_config() -> SimConfig:
    return load_sim_config()


@pytest.fixture(scope="session")
def workcell(sim_config: SimConfig) -> Iterator[Workcell]:
    cell = Workcell(sim_config)
    yield cell
    cell.close()


@pytest.fixture(scope="session")
def kinematics(sim_config: SimConfig) -> ArmKinematics:
    return ArmKinematics.from_settings(sim_config.robot)
