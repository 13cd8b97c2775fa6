"""The HAMSTER-style planner as a ROS 2 node: colour image + instruction -> 2D gripper path.

The owner of the episode life cycle. Each instruction is one episode (vla_ros/msg/EpisodeStatus on
``~/episode``, latched: ACTIVE when it starts, then how it ended); every message of the hierarchy names
its episode, and the other nodes act only on the active one.

Subscribes to ``interface.image_topic`` (sensor-data QoS; a plan uses the latest image taken after
it was asked for), to ``interface.outcome_topic`` (vla_ros/EpisodeStatus: the policy's "done" or its
giving up), to ``interface.stop_topic`` (std_msgs/String: any node or person ends the active episode,
e.g. the simulator on a reset) and, with the oracle backend, to ``interface.oracle_path_topic``
(vla_ros/Path2D, latched: the simulator's privileged path).

Instructions come from the ``~/execute_instruction`` action (vla_ros/action/ExecuteInstruction; the
episode id is the goal id) or the ``~/instruction`` topic (std_msgs/String). One instruction is active
at a time: a new one (goal or topic) preempts the active one (PREEMPTED, its goal aborted) before it
plans. An instruction is planned at once, then again as ``interface.replan_policy`` says (``period``:
every ``replan_period`` seconds; ``on_request``: ``~/replan``, std_srvs/Trigger, answers when the new
path is out). It stays active until the policy reports its outcome (done: SUCCEEDED; given up after its
retries: ABORTED with the reason), its timeout (the goal's, else ``default_timeout``) runs out
(TIMED_OUT), it reaches its keyframe limit (the goal's ``max_keyframes``, else ``default_max_keyframes``)
without being done, its first plan fails, ``stop_topic`` ends it (ABORTED), or it is cancelled
(CANCELED) or preempted. Goal feedback follows the hierarchy: STAGE_PLANNING, STAGE_PREDICTING
keyframe k (after each path and each reached keyframe, from ``keyframe_reached_topic``),
STAGE_EXECUTING keyframe k (when the policy's target arrives on ``keyframe_topic``); the result counts
the keyframes reached and says how the episode ended.

Publishes ``~/path`` (vla_ros/Path2D: header and size of the image planned on, instruction, planner,
latency, raw answer, episode) and ``~/overlay`` (rgb8, the path drawn as HAMSTER draws it), both latched.

Planning runs in a worker thread, one plan at a time; the node's state lives in the executor's
thread (made for the single-threaded executor of ``run_node``), and the worker hands each finished
plan back through a guard condition. A request made while a plan runs waits for it (the newest
request wins); periodic replans are skipped while one runs. A plan has ``interface.planning_budget``
seconds from being asked for (waiting for an image or for the plan before it included) to its path;
past that it fails at once: a first plan aborts its instruction, a replan leaves the current path (and
fails the ``~/replan`` call). A backend cannot be interrupted (e.g. an openai server that does not
answer), so a plan still running past its budget keeps the worker until it comes back, and is then
dropped; the next plan waits for it, within its own budget.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.task import Future
from rclpy.time import Time
from rclpy.timer import Timer
from sensor_msgs.msg import Image
from std_msgs.msg import Header, String
from std_srvs.srv import Trigger

from vla_ros.action import ExecuteInstruction
from vla_ros.config import ConfigError, from_dict
from vla_ros.episode import ACTIVE, CANCELED, SUCCEEDED, state_name
from vla_ros.episode.owner import Ending, EpisodeOwner, Instruction, Outcome
from vla_ros.msg import EpisodeStatus, KeyframeTarget, Path2D
from vla_ros.planning import (
    BackendError,
    DrawingStyle,
    PlannedPath,
    Planner,
    PlannerConfig,
    PlannerConfigError,
    PlannerError,
    PlanningFailedError,
    PlanResult,
    draw_path,
)
from vla_ros.planning.settings import NODE_NAME
from vla_ros.ros.episode_messages import episode_id_of_goal, new_episode_id
from vla_ros.ros.images import ImageEncodingError, array_to_image, rgb_from_message
from vla_ros.ros.parameters import declare_robot_parameters_from_config
from vla_ros.ros.path_messages import path_from_message, path_to_message
from vla_ros.ros.qos import EPISODE_EVENTS, LATCHED, RELIABLE
from vla_ros.ros.spin import run_node

CONFIG_FILE = "planner.yaml"
REPLAN_POLICIES = ("once", "period", "on_request")
Feedback = ExecuteInstruction.Feedback


@dataclass(frozen=True)
class PlannerInterface:
    """The node's ROS-facing settings (section ``interface`` of config/planner.yaml)."""

    image_topic: str
    oracle_path_topic: str
    outcome_topic: str
    stop_topic: str
    keyframe_topic: str
    keyframe_reached_topic: str
    replan_policy: str
    replan_period: float
    image_timeout: float
    planning_budget: float
    default_timeout: float
    default_max_keyframes: int

    def __post_init__(self) -> None:
        topics = (
            self.image_topic,
            self.oracle_path_topic,
            self.outcome_topic,
            self.stop_topic,
            self.keyframe_topic,
            self.keyframe_reached_topic,
        )
        if not all(topics):
            raise ValueError(
                "image_topic, oracle_path_topic, outcome_topic, stop_topic, keyframe_topic and "
                "keyframe_reached_topic must not be empty"
            )
        if self.default_max_keyframes < 1:
            raise ValueError(f"default_max_keyframes must be at least 1, got {self.default_max_keyframes}")
        if self.replan_policy not in REPLAN_POLICIES:
            raise ValueError(f"replan_policy must be one of {REPLAN_POLICIES}, got {self.replan_policy!r}")
        if not min(self.replan_period, self.image_timeout, self.default_timeout) > 0.0:
            raise ValueError("replan_period, image_timeout and default_timeout must be positive")
        if not self.planning_budget > 0.0:
            raise ValueError(
                f"planning_budget (seconds one plan may take) must be positive, got {self.planning_budget}"
            )


@dataclass(eq=False, kw_only=True)
class GoalInstruction(Instruction):
    """An instruction as the node runs it: its goal (None for ``~/instruction``), start time, timers and
    the future its goal waits on (resolved with its Outcome); ``path`` is the latest Path2D."""

    goal_handle: ServerGoalHandle | None
    started: Time
    finished: Future = field(default_factory=Future)
    timers: list[Timer] = field(default_factory=list)


@dataclass(eq=False)
class PlanJob:
    """One plan of an instruction: when it was asked for (it plans on an image taken after that), the
    timer of its planning budget (None once it has ended), whether that ran out while the worker had it,
    the image it uses, its result or error, and the ``~/replan`` calls waiting for it (rclpy Futures
    resolved with (success, message))."""

    instruction: GoalInstruction
    requested: Time
    waiters: list[Future] = field(default_factory=list)
    budget_timer: Timer | None = None
    expired: bool = False
    image: Image | None = None
    result: PlanResult | None = None
    overlay: np.ndarray | None = None
    error: str = ""
    planning_time_s: float = 0.0


class PlanningWorker:
    """Runs plan jobs one at a time in a thread of its own and hands each finished job to ``on_done``."""

    def __init__(self, planner: Planner, style: DrawingStyle, on_done: Callable[[PlanJob], None]) -> None:
        self.planner = planner
        self.style = style
        self._on_done = on_done
        self._jobs: queue.Queue[PlanJob | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="planner", daemon=True)
        self._thread.start()

    def submit(self, job: PlanJob) -> None:
        """Plan ``job`` (its image set) after the jobs before it."""
        self._jobs.put(job)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the running job (a running generate cannot be interrupted)."""
        self._jobs.put(None)
        self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            start = time.perf_counter()
            try:
                image = rgb_from_message(job.image, "the planner")
                job.result = self.planner.plan(image, job.instruction.text)
                job.overlay = draw_path(image, job.result.path, self.style)
            except (PlannerError, ImageEncodingError) as error:
                job.error = describe_error(error)
            except Exception as error:  # a backend bug must end the plan, not the worker
                job.error = f"unexpected {describe_error(error)}"
            job.planning_time_s = time.perf_counter() - start
            self._on_done(job)


class PlannerNode(Node):
    """Plans the active instruction on the latest colour image and publishes the path and its overlay."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self._worker: PlanningWorker | None = None  # destroy_node runs even when __init__ fails
        parameters = declare_robot_parameters_from_config(self, CONFIG_FILE, section=NODE_NAME)
        self.interface = from_dict(
            PlannerInterface, parameters.pop("interface"), "planner.interface", PlannerConfigError
        )
        self.config = PlannerConfig.from_parameters(parameters)
        self._oracle_path: PlannedPath | None = None
        planner = Planner.from_config(self.config, self._oracle_source)
        self.description = planner.backend.description
        self._image: Image | None = None
        self.owner = EpisodeOwner()
        self._job: PlanJob | None = None  # waiting for an image or in the worker
        self._next_job: PlanJob | None = None  # asked for while _job runs
        self._image_timer: Timer | None = None
        self._finished_jobs: deque[PlanJob] = deque()

        self._episode_pub = self.create_publisher(EpisodeStatus, "~/episode", EPISODE_EVENTS)
        self._path_pub = self.create_publisher(Path2D, "~/path", LATCHED)
        self._overlay_pub = self.create_publisher(Image, "~/overlay", LATCHED)
        self._image_subscription = self.create_subscription(
            Image, self.interface.image_topic, self._on_image, qos_profile_sensor_data
        )
        self.create_subscription(String, "~/instruction", self._on_instruction, RELIABLE)
        self.create_subscription(EpisodeStatus, self.interface.outcome_topic, self._on_outcome, RELIABLE)
        self.create_subscription(String, self.interface.stop_topic, self._on_stop, RELIABLE)
        self.create_subscription(KeyframeTarget, self.interface.keyframe_topic, self._on_keyframe, RELIABLE)
        self.create_subscription(
            KeyframeTarget, self.interface.keyframe_reached_topic, self._on_keyframe_reached, RELIABLE
        )
        if self.config.backend == "oracle":
            self.create_subscription(Path2D, self.interface.oracle_path_topic, self._on_oracle_path, LATCHED)
        if self.interface.replan_policy == "on_request":
            # Its own group: a call waits (as a coroutine) for the new plan without holding the others.
            self.create_service(Trigger, "~/replan", self._on_replan, callback_group=ReentrantCallbackGroup())
        self._action = ActionServer(
            self,
            ExecuteInstruction,
            "~/execute_instruction",
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=self._on_cancel,
        )
        self._wake = self.create_guard_condition(self._on_plans_finished)
        self._worker = PlanningWorker(planner, self.config.drawing, self._hand_back)
        self.get_logger().info(
            f"planner {self.description} ready: replanning {self.interface.replan_policy}, "
            f"images from {self._image_subscription.topic_name}"
        )

    # ------------------------------------------------------------------ inputs
    def _on_image(self, msg: Image) -> None:
        self._image = msg
        if self._job is not None and self._job.image is None and self._is_fresh(msg, self._job):
            self._destroy_image_timer()
            self._dispatch(self._job)

    @staticmethod
    def _is_fresh(image: Image, job: PlanJob) -> bool:
        """Whether ``image`` was taken after ``job`` was asked for (never plan a scene that has changed,
        e.g. an image from before a reset)."""
        return Time.from_msg(image.header.stamp, clock_type=job.requested.clock_type) >= job.requested

    def _on_oracle_path(self, msg: Path2D) -> None:
        try:
            self._oracle_path = path_from_message(msg)
        except PlannerError as error:
            self.get_logger().error(
                f"ignoring the oracle path on {self.interface.oracle_path_topic}: {error}"
            )
            return
        self.get_logger().info(f"oracle path with {len(self._oracle_path)} points")

    def _oracle_source(self) -> PlannedPath:
        """The oracle backend's path (called in the worker thread)."""
        path = self._oracle_path
        if path is None:
            raise BackendError(
                f"no oracle path received on {self.interface.oracle_path_topic} (the simulator publishes "
                "the task's path there, latched)"
            )
        return path

    def _following(self, episode_id: str) -> GoalInstruction | None:
        """The active instruction when ``episode_id`` names it and it has a path, else None."""
        active = self.owner.following(episode_id)
        if active is None and self.owner.active is not None and episode_id != self.owner.active.episode_id:
            self.get_logger().debug(f"ignoring a message of episode {episode_id!r}: not the active one")
        return active  # type: ignore[return-value]

    def _on_outcome(self, msg: EpisodeStatus) -> None:
        self._end(self.owner.policy_outcome(msg.episode_id, msg.state, msg.reason))

    def _on_stop(self, msg: String) -> None:
        self._end(self.owner.stop(self.interface.stop_topic, msg.data))

    def _on_keyframe(self, msg: KeyframeTarget) -> None:
        active = self._following(msg.episode_id)
        if active is not None:
            self._feedback(active, Feedback.STAGE_EXECUTING, msg.keyframe_index)

    def _on_keyframe_reached(self, msg: KeyframeTarget) -> None:
        active, ending = self.owner.keyframe_reached(msg.episode_id)
        if ending is not None:
            self._end(ending)
        elif active is not None:
            self._feedback(active, Feedback.STAGE_PREDICTING, msg.keyframe_index + 1)

    # ------------------------------------------------------------------ instructions
    def _on_instruction(self, msg: String) -> None:
        if not msg.data.strip():
            self.get_logger().error("ignoring an empty instruction on ~/instruction")
            return
        self._start(msg.data, None, self.interface.default_timeout, self.interface.default_max_keyframes)

    def _on_goal(self, goal: ExecuteInstruction.Goal) -> GoalResponse:
        if not goal.instruction.strip() or not (math.isfinite(goal.timeout) and goal.timeout >= 0.0):
            self.get_logger().error(
                f"rejecting goal: the instruction must not be empty ({goal.instruction!r}) and the timeout "
                f"must be 0 (default) or positive ({goal.timeout})"
            )
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle: ServerGoalHandle) -> CancelResponse:
        active = self.owner.active
        if isinstance(active, GoalInstruction) and active.goal_handle is goal_handle:
            self._end(self.owner.canceled(active))
        return CancelResponse.ACCEPT

    async def _execute(self, goal_handle: ServerGoalHandle) -> ExecuteInstruction.Result:
        goal = goal_handle.request
        instruction = self._start(
            goal.instruction,
            goal_handle,
            goal.timeout or self.interface.default_timeout,
            goal.max_keyframes or self.interface.default_max_keyframes,
        )
        outcome: Outcome = await instruction.finished
        if outcome.state == SUCCEEDED:
            goal_handle.succeed()
        elif outcome.state == CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return ExecuteInstruction.Result(
            success=outcome.state == SUCCEEDED,
            message=outcome.message,
            keyframes=instruction.keyframes_reached,
            planning_time=instruction.planning_time_s,
            total_time=self._elapsed(instruction),
            episode_id=instruction.episode_id,
            outcome=outcome.state,
        )

    def _start(
        self, text: str, goal_handle: ServerGoalHandle | None, timeout_s: float, max_keyframes: int
    ) -> GoalInstruction:
        """Make ``text`` the active instruction (preempting the one before: the robot stops first) and
        plan it."""
        episode_id = new_episode_id() if goal_handle is None else episode_id_of_goal(goal_handle.goal_id.uuid)
        instruction = GoalInstruction(
            text=text,
            episode_id=episode_id,
            max_keyframes=max_keyframes,
            goal_handle=goal_handle,
            started=self.get_clock().now(),
        )
        self._end(self.owner.start(instruction))
        self._publish_episode(instruction, ACTIVE)
        instruction.timers.append(
            self.create_timer(timeout_s, lambda: self._end(self.owner.timed_out(instruction, timeout_s)))
        )
        if self.interface.replan_policy == "period":
            instruction.timers.append(
                self.create_timer(
                    self.interface.replan_period, lambda: self._replan_periodically(instruction)
                )
            )
        self.get_logger().info(f"instruction {text!r}: episode {episode_id}")
        self._feedback(instruction, Feedback.STAGE_PLANNING)
        self._request_plan(PlanJob(instruction, self.get_clock().now()))
        return instruction

    def _end(self, ending: Ending | None) -> None:
        """Carry out an instruction's ending: say so on ``~/episode`` (the other nodes stop for it), stop
        its timers and resolve its ``finished`` future."""
        if ending is None:
            return
        instruction: GoalInstruction = ending.instruction  # type: ignore[assignment]
        state, message = ending.outcome.state, ending.outcome.message
        for timer in instruction.timers:
            self.destroy_timer(timer)
        self._publish_episode(instruction, state, message)
        if state == SUCCEEDED:  # rclpy ties one severity to each logging call site
            self.get_logger().info(f"instruction {instruction.text!r} succeeded: {message}")
        else:
            self.get_logger().warning(f"instruction {instruction.text!r} {state_name(state)}: {message}")
        instruction.finished.set_result(ending.outcome)

    def _publish_episode(self, instruction: Instruction, state: int, reason: str = "") -> None:
        header = Header(stamp=self.get_clock().now().to_msg())
        self._episode_pub.publish(
            EpisodeStatus(
                header=header,
                episode_id=instruction.episode_id,
                instruction=instruction.text,
                state=state,
                reason=reason,
            )
        )

    def _elapsed(self, instruction: GoalInstruction) -> float:
        return (self.get_clock().now() - instruction.started).nanoseconds * 1e-9

    def _feedback(self, instruction: GoalInstruction, stage: int, keyframe_index: int = 0) -> None:
        if instruction.goal_handle is not None and instruction.goal_handle.is_active:
            instruction.goal_handle.publish_feedback(
                Feedback(
                    stage=stage,
                    keyframe_index=keyframe_index,
                    path=instruction.path or Path2D(),
                    elapsed=self._elapsed(instruction),
                    episode_id=instruction.episode_id,
                )
            )

    # ------------------------------------------------------------------ planning
    async def _on_replan(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        active = self.owner.active
        if active is None:
            response.success = False
            response.message = "no active instruction: send one on ~/instruction or ~/execute_instruction"
            return response
        waiter = Future()
        self._request_plan(PlanJob(active, self.get_clock().now(), [waiter]))  # type: ignore[arg-type]
        response.success, response.message = await waiter
        return response

    def _replan_periodically(self, instruction: GoalInstruction) -> None:
        if self._job is None:
            self._request_plan(PlanJob(instruction, self.get_clock().now()))

    def _request_plan(self, job: PlanJob) -> None:
        """Plan now, or after the running plan (a later request of the same instruction joins it); either
        way within planning_budget from now."""
        budget = self.interface.planning_budget
        job.budget_timer = self.create_timer(budget, lambda: self._on_budget_spent(job))
        if self._job is None:
            self._dispatch(job)
        elif self._job.image is None:  # still waiting for a first image: wait with the newer request
            self._join(self._job, job)
            self._job = job
        else:
            if self._job.expired:
                self.get_logger().warning(
                    f"planning {job.instruction.text!r} waits: the backend {self.description} is still "
                    f"running the plan of {self._job.instruction.text!r}, past its planning_budget"
                )
            if self._next_job is not None:
                self._join(self._next_job, job)
            self._next_job = job

    def _join(self, earlier: PlanJob, later: PlanJob) -> None:
        """``later`` replaces ``earlier`` (and answers its waiters when it plans the same instruction)."""
        if earlier.instruction is later.instruction:
            self._stop_budget(earlier)
            later.waiters = earlier.waiters + later.waiters
        else:
            self._resolve(earlier, False, "superseded by a new instruction")

    def _dispatch(self, job: PlanJob) -> None:
        """Give ``job`` the latest image and the worker when it was taken after the request, or wait up to
        image_timeout for one that is."""
        self._job = job
        if self._image is None or not self._is_fresh(self._image, job):
            self._image_timer = self.create_timer(self.interface.image_timeout, self._on_no_image)
            return
        job.image = self._image
        self._worker.submit(job)

    def _on_no_image(self) -> None:
        self._destroy_image_timer()
        job = self._job
        if job is not None and job.image is None:
            job.error = (
                f"no new image received on {self._image_subscription.topic_name} within "
                f"{self.interface.image_timeout:g} s (a plan uses an image taken after it was asked for)"
            )
            self._complete(job)

    def _destroy_image_timer(self) -> None:
        if self._image_timer is not None:
            self.destroy_timer(self._image_timer)
            self._image_timer = None

    def _on_budget_spent(self, job: PlanJob) -> None:
        """``job`` has not come back within planning_budget: fail it now. The worker cannot be interrupted:
        a job it runs is marked expired and dropped when it comes back."""
        if job.budget_timer is None:  # it ended earlier in this spin
            return
        self._stop_budget(job)
        spent = f"planning took longer than planning_budget {self.interface.planning_budget:g} s"
        if job is self._next_job:
            self._next_job = None
            self._fail(
                job, f"{spent}: waiting for an earlier plan, still running (backend {self.description})"
            )
        elif job.image is None:  # job is self._job, waiting for an image
            self._destroy_image_timer()
            job.error = f"{spent}: no new image received on {self._image_subscription.topic_name}"
            self._complete(job)
        else:  # job is self._job, in the worker
            job.expired = True
            self._fail(job, f"{spent} (backend {self.description})")
            self.get_logger().warning(
                f"the backend is still running the plan of {job.instruction.text!r}: the next plan starts "
                "when it returns"
            )

    def _stop_budget(self, job: PlanJob) -> None:
        if job.budget_timer is not None:
            self.destroy_timer(job.budget_timer)
            job.budget_timer = None

    def _hand_back(self, job: PlanJob) -> None:
        """Called by the worker thread: queue the finished job for the executor's thread."""
        self._finished_jobs.append(job)
        self._wake.trigger()

    def _on_plans_finished(self) -> None:
        while self._finished_jobs:
            self._complete(self._finished_jobs.popleft())

    def _complete(self, job: PlanJob) -> None:
        """Publish a finished plan of the active instruction (or end it when its first plan failed); drop
        one that came back past its planning budget (it has failed already)."""
        self._job = None
        instruction = job.instruction
        instruction.planning_time_s += job.planning_time_s
        if job.expired:
            self.get_logger().warning(
                f"dropping the plan of {instruction.text!r}: it came back after {job.planning_time_s:.1f} s "
                "of planning, past its planning_budget"
            )
        elif job.error:
            self._fail(job, job.error)
        elif instruction is not self.owner.active:
            self._resolve(job, False, "the instruction ended while it was planned")
        else:
            self._publish(job)
            # The policy starts over at keyframe 0 on every new path.
            self._feedback(instruction, Feedback.STAGE_PREDICTING)
            self._resolve(job, True, f"new path with {len(job.result.path)} points")
        next_job, self._next_job = self._next_job, None
        if next_job is not None and next_job.instruction is self.owner.active:
            self._dispatch(next_job)
        elif next_job is not None:
            self._resolve(next_job, False, "the instruction ended before it was planned")

    def _fail(self, job: PlanJob, error: str) -> None:
        """Log a failed plan, answer its waiters, and abort its instruction when that has no path yet."""
        instruction = job.instruction
        self.get_logger().error(f"planning {instruction.text!r} failed: {error}")
        self._end(self.owner.planning_failed(instruction, error))
        self._resolve(job, False, f"planning failed: {error}")

    def _publish(self, job: PlanJob) -> None:
        result, image = job.result, job.image
        message = path_to_message(
            result.path,
            image.header,
            image.width,
            image.height,
            job.instruction.text,
            self.description,
            result.stats.latency_s,
        )
        message.episode_id = job.instruction.episode_id
        job.instruction.path = message
        self._path_pub.publish(message)
        self._overlay_pub.publish(array_to_image(job.overlay, "rgb8", image.header))
        retried = f" after {result.stats.attempts} attempts" if result.stats.attempts > 1 else ""
        self.get_logger().info(
            f"path with {len(result.path)} points for {job.instruction.text!r} in "
            f"{result.stats.latency_s:.3f} s{retried}"
        )

    def _resolve(self, job: PlanJob, success: bool, message: str) -> None:
        """End ``job``: stop its budget timer and answer the ``~/replan`` calls waiting for it."""
        self._stop_budget(job)
        for waiter in job.waiters:
            waiter.set_result((success, message))

    def destroy_node(self) -> None:
        if self._worker is not None:
            self._worker.stop(timeout_s=1.0)
        super().destroy_node()


def describe_error(error: Exception) -> str:
    """``Type: message``; for a failed plan also the type of each attempt's error."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, PlanningFailedError):
        text += f" [attempts: {', '.join(type(attempt).__name__ for attempt in error.errors)}]"
    return text


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run vla_ros planner_node``."""
    return run_node(PlannerNode, args, startup_errors=(ConfigError, PlannerError))


if __name__ == "__main__":
    sys.exit(main())
