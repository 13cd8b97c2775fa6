"""Device-only: stand-ins for simulator/kinematics packages the training never calls (import only)."""

import importlib.abc
import importlib.machinery
import os
import sys
import types

NAMES = {"pybullet", "pybullet_data", "pybullet_utils", "pinocchio", "coal", "cmeel_pth", "mcap", "mcap_ros2"}


class _Anything:
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *args, **kwargs):
        return self


class _Module(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in NAMES:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _Module(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


if os.environ.get("SHIM_FIRST"):
    sys.meta_path.insert(0, _Finder())
else:
    sys.meta_path.append(_Finder())
