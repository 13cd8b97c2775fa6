"""config/control.yaml parses into validated settings; bad values get a message naming the key."""

from __future__ import annotations

import copy

import pytest

from vla_ros.config import ConfigError, load_parameters
from vla_ros.control.errors import ControlConfigError
from vla_ros.control.realtime import set_realtime_priority
from vla_ros.control.settings import BenchSettings, ControllerSettings, ExecutorSettings


def test_the_shipped_file_parses(executor_settings, controller_settings):
    assert executor_settings.robot.arm_joints == tuple(f"panda_joint{i}" for i in range(1, 8))
    assert controller_settings.robot == executor_settings.robot  # one shared robot file
    assert controller_settings.period == pytest.approx(0.01)
    assert BenchSettings.load().chunk_horizon >= 2


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("chunk", "dt", -0.1, r"chunk\.dt = -0.1 is outside \(0.0, 1.0\]"),
        ("chunk", "horizon", 0, r"chunk\.horizon = 0"),
        ("ik", "damping", "big", "ik.damping"),
        ("robot", "acceleration_limits", [1.0, 2.0], r"robot\.acceleration_limits must have one"),
        ("robot", "arm_joints", ["a", "a"], r"robot\.arm_joints must be a non-empty list of unique"),
        ("workspace", "lower", [1.0, 1.0, 1.0], "workspace"),
    ],
)
def test_bad_executor_values_are_named(section, key, value, message):
    parameters = copy.deepcopy(load_parameters(("robots/panda.yaml", "control"), "chunk_executor"))
    parameters[section][key] = value
    with pytest.raises(ControlConfigError, match=message):
        ExecutorSettings.from_parameters(parameters)


def test_controller_rate_is_bounded_and_keys_are_required():
    parameters = copy.deepcopy(load_parameters(("robots/panda.yaml", "control"), "ensembling_controller"))
    parameters["rate"] = 1000.0
    with pytest.raises(ControlConfigError, match="rate"):
        ControllerSettings.from_parameters(parameters)
    del parameters["safety"]["stale_timeout"]
    parameters["rate"] = 100.0
    with pytest.raises(ControlConfigError, match=r"safety: missing keys \['stale_timeout'\]"):
        ControllerSettings.from_parameters(parameters)


def test_a_control_configuration_error_is_a_configuration_error():
    assert issubclass(ControlConfigError, ConfigError)


def test_realtime_priority_is_checked_before_any_system_call():
    with pytest.raises(ValueError, match=r"1\.\.99"):
        set_realtime_priority(0)
    parameters = copy.deepcopy(load_parameters(("robots/panda.yaml", "control"), "ensembling_controller"))
    parameters["realtime_priority"] = 120
    message = r"ensembling_controller\.realtime_priority = 120 is outside \[0, 99\]"
    with pytest.raises(ControlConfigError, match=message):
        ControllerSettings.from_parameters(parameters)
