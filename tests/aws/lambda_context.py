"""What Lambda passes a handler as `context` (Powertools reads these); a module of its
own so a container process can use it without the test fixtures' imports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class Context:
    function_name: str = "hubbub-test-handler"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:hubbub-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/hubbub-test"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
