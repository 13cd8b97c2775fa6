"""The camera of the workcell rendered in a child process.

PyBullet's CPU renderer holds the Python GIL for the whole frame (about 40 ms at 320x240), so a
render in a thread of the simulator still stalls its physics loop and ``/joint_states``. A child
process owns a mirror :class:`~vla_ros.sim.workcell.Workcell` of the same scene, shows each snapshot
it is sent and renders it; the parent only waits on a pipe, which releases the GIL.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from multiprocessing.connection import Connection

from vla_ros.sim.settings import SimConfig
from vla_ros.sim.workcell import CameraFrame, Workcell, WorkcellError, WorkcellSnapshot

_STOP_TIMEOUT_S = 5.0


class RenderProcess:
    """A mirror workcell in a child process: ``reset`` it to the scene, then ``render`` snapshots."""

    def __init__(self, config: SimConfig) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process with ROS threads
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(config, child), name="vla_ros-camera", daemon=True
        )
        self._process.start()
        child.close()

    def reset(self, task: str, split: str, seed: int) -> None:
        """Build the same scene as the simulated workcell's (task, split, seed)."""
        self._call(("reset", task, split, seed))

    def render(self, snapshot: WorkcellSnapshot) -> CameraFrame:
        """The camera image of the instant ``snapshot`` was taken."""
        return self._call(("render", snapshot))

    def _call(self, request: tuple):
        try:
            self._connection.send(request)
            status, value = self._connection.recv()
        except (EOFError, OSError) as error:
            raise WorkcellError(f"the camera process stopped (exit code {self._process.exitcode})") from error
        if status == "error":
            raise WorkcellError(value)
        return value

    def close(self) -> None:
        """Stop the child process."""
        with contextlib.suppress(OSError, ValueError):  # the child may be gone already
            self._connection.send(None)
        self._process.join(timeout=_STOP_TIMEOUT_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._connection.close()


def _serve(config: SimConfig, connection: Connection) -> None:
    workcell = Workcell(config)
    try:
        while (request := connection.recv()) is not None:
            try:
                if request[0] == "reset":
                    workcell.reset(*request[1:])
                    connection.send(("ok", None))
                else:
                    workcell.show_snapshot(request[1])
                    connection.send(("ok", workcell.render()))
            except (WorkcellError, ValueError) as error:
                connection.send(("error", str(error)))
    except (EOFError, KeyboardInterrupt):
        pass  # the parent went away or the graph is shutting down
    finally:
        workcell.close()
