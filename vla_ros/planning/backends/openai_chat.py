"""The openai backend: an OpenAI-compatible chat-completions server, over the standard library.

Works with vLLM and SGLang (``/v1/chat/completions``) and HAMSTER's own server
(``/chat/completions``, whose message content may be a list of ``{type, text}`` parts).
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np

from vla_ros.planning.backends.base import PlannerAnswer, PlannerBackend
from vla_ros.planning.errors import BackendRequestError, BackendResponseError
from vla_ros.planning.images import encode_jpeg
from vla_ros.planning.settings import OpenAIBackendConfig

_RETRIED_HTTP_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_BODY_EXCERPT_CHARS = 300


class OpenAIChatBackend(PlannerBackend):
    """Sends the image (base64 JPEG data URL) and the prompt to a chat-completions endpoint."""

    name = "openai"

    def __init__(self, config: OpenAIBackendConfig) -> None:
        self.config = config
        self.url = config.base_url.rstrip("/") + config.endpoint

    def build_request(self, image_rgb: np.ndarray, prompt: str) -> dict[str, Any]:
        """The JSON body of the request: one user message with the image part and the text part."""
        image_b64 = base64.b64encode(encode_jpeg(image_rgb, self.config.jpeg_quality)).decode("ascii")
        return {
            "model": self.config.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{image_b64}"}},
                        {"type": "text", "text": prompt},
                    ],
                }
            ],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "stream": False,
        }

    @property
    def description(self) -> str:
        """The backend's name and its endpoint URL."""
        return f"{self.name}:{self.url}"

    def plan(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        """Post the request, retrying connection errors, timeouts, 429 and 5xx with doubling waits."""
        start = time.perf_counter()
        body = json.dumps(self.build_request(image_rgb, prompt)).encode("utf-8")
        response = self._post_with_retries(body)
        return PlannerAnswer(message_text(response), time.perf_counter() - start, self.name)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        api_key = os.environ.get(self.config.api_key_env, "") if self.config.api_key_env else ""
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return headers

    def _post_with_retries(self, body: bytes) -> Any:
        retries = 0
        while True:
            try:
                return self._post(body)
            except BackendRequestError as error:
                if not error.retryable or retries >= self.config.max_retries:
                    raise
                time.sleep(self.config.retry_backoff_s * 2**retries)
                retries += 1

    def _post(self, body: bytes) -> Any:
        request = urllib.request.Request(self.url, data=body, headers=self._headers(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as reply:
                raw = reply.read()
        except urllib.error.HTTPError as error:
            excerpt = error.read()[:_BODY_EXCERPT_CHARS].decode("utf-8", "replace")
            raise BackendRequestError(
                f"{self.url} answered HTTP {error.code}: {excerpt}", error.code in _RETRIED_HTTP_STATUS
            ) from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise BackendRequestError(f"cannot reach {self.url}: {error}", retryable=True) from error
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            excerpt = raw[:_BODY_EXCERPT_CHARS].decode("utf-8", "replace")
            raise BackendResponseError(
                f"{self.url} answered something that is not JSON: {excerpt!r}"
            ) from error


def message_text(response: Any) -> str:
    """The text of the first choice's message; ``content`` may be a string or a list of text parts."""
    try:
        content = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as error:
        excerpt = json.dumps(response)[:_BODY_EXCERPT_CHARS]
        raise BackendResponseError(f"no choices[0].message.content in the answer: {excerpt}") from error
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return "".join(str(part.get("text", "")) for part in content if part.get("type", "text") == "text")
    raise BackendResponseError(
        f"message content is neither text nor a list of parts: {content!r}"[:_BODY_EXCERPT_CHARS]
    )
