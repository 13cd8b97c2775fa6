"""The openai backend against a local chat-completions server (vLLM style and HAMSTER style)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import pytest
from chat_server import ChatServer

from vla_ros.planning.backends.openai_chat import OpenAIChatBackend, message_text
from vla_ros.planning.errors import BackendRequestError, BackendResponseError
from vla_ros.planning.settings import OpenAIBackendConfig

ANSWER = "<ans>[(0.25, 0.32), <action>Close Gripper</action>, (0.74, 0.21)]</ans>"


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer(ANSWER) as fake:
        yield fake


def _config(base_url: str, endpoint: str, **overrides: Any) -> OpenAIBackendConfig:
    values: dict[str, Any] = {
        "base_url": base_url,
        "endpoint": endpoint,
        "model": "HAMSTER_dev",
        "api_key_env": "VLA_ROS_TEST_API_KEY",
        "timeout_s": 5.0,
        "max_retries": 2,
        "retry_backoff_s": 0.0,
        "temperature": 0.0,
        "max_tokens": 128,
        "jpeg_quality": 90,
    }
    values.update(overrides)
    return OpenAIBackendConfig(**values)


IMAGE = np.zeros((48, 64, 3), dtype=np.uint8)
IMAGE[:, :32] = (255, 0, 0)  # left half red, to check the colour order of the JPEG


@pytest.mark.parametrize("endpoint", ["/v1/chat/completions", "/chat/completions"])
def test_both_content_shapes_and_the_request(
    server: ChatServer, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLA_ROS_TEST_API_KEY", "secret-key")
    backend = OpenAIChatBackend(_config(server.url + "/", endpoint))
    assert backend.description == f"openai:{server.url}{endpoint}"
    answer = backend.plan(IMAGE, "<quest>pick</quest>")
    assert answer.text == ANSWER
    assert answer.backend_name == "openai" and answer.latency_s > 0
    path, headers, body = server.requests[-1]
    assert path == endpoint
    assert headers["Authorization"] == "Bearer secret-key"
    assert body["model"] == "HAMSTER_dev" and body["temperature"] == 0.0 and body["max_tokens"] == 128
    image_part, text_part = body["messages"][0]["content"]
    assert text_part == {"type": "text", "text": "<quest>pick</quest>"}
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (48, 64, 3)
    assert decoded[24, 8, 2] > 200 and decoded[24, 8, 0] < 60  # red in BGR: the image was sent as RGB


def test_no_key_no_authorization_header(server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLA_ROS_TEST_API_KEY", raising=False)
    OpenAIChatBackend(_config(server.url, "/v1/chat/completions")).plan(IMAGE, "x")
    assert "Authorization" not in server.requests[-1][1]


def test_server_errors_are_retried_then_succeed(server: ChatServer) -> None:
    server.failures = [503, 429]
    answer = OpenAIChatBackend(_config(server.url, "/v1/chat/completions")).plan(IMAGE, "x")
    assert answer.text == ANSWER and len(server.requests) == 3


def test_retries_run_out(server: ChatServer) -> None:
    server.failures = [500, 500, 500]
    with pytest.raises(BackendRequestError, match="HTTP 500"):
        OpenAIChatBackend(_config(server.url, "/v1/chat/completions")).plan(IMAGE, "x")
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(server: ChatServer) -> None:
    with pytest.raises(BackendRequestError, match=r"HTTP 404.*Not Found"):
        OpenAIChatBackend(_config(server.url, "/wrong/path")).plan(IMAGE, "x")
    assert len(server.requests) == 1


def test_non_json_answer(server: ChatServer) -> None:
    with pytest.raises(BackendResponseError, match="proxy error"):
        OpenAIChatBackend(_config(server.url, "/not-json")).plan(IMAGE, "x")


def test_unreachable_server() -> None:
    closed = ChatServer(ANSWER)  # bound, never serving, then closed: nothing listens on the port
    closed.httpd.server_close()
    config = _config(closed.url, "/v1/chat/completions", max_retries=1, timeout_s=1.0)
    with pytest.raises(BackendRequestError, match="cannot reach"):
        OpenAIChatBackend(config).plan(IMAGE, "x")


@pytest.mark.parametrize(
    "response",
    [
        {},
        {"choices": []},
        {"choices": [{"message": {"content": 3}}]},
        {"choices": [{"message": {"content": [1]}}]},
    ],
)
def test_unexpected_response_shapes(response: Any) -> None:
    with pytest.raises(BackendResponseError):
        message_text(response)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="base_url"):
        _config("127.0.0.1:8000", "/v1/chat/completions")
    with pytest.raises(ValueError, match="endpoint"):
        _config("http://127.0.0.1:8000", "v1/chat/completions")
