"""The PreSignUp trigger on a real Cognito event: auto-confirms only on the local stage."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hubbub.aws.cognito_triggers import pre_sign_up

EVENT = Path(__file__).parents[1] / "events" / "cognito_pre_sign_up.json"


def event() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EVENT.read_text())
    return loaded


def test_a_deployed_stage_returns_the_event_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in (None, "", "false", "yes"):
        if value is None:
            monkeypatch.delenv("HUBBUB_AUTO_CONFIRM", raising=False)
        else:
            monkeypatch.setenv("HUBBUB_AUTO_CONFIRM", value)
        original = event()
        assert pre_sign_up(copy.deepcopy(original), None) == original


def test_the_local_stage_confirms_and_verifies_the_email(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBBUB_AUTO_CONFIRM", "true")
    answered = pre_sign_up(event(), None)
    assert answered["response"] == {
        "autoConfirmUser": True,
        "autoVerifyEmail": True,
        "autoVerifyPhone": False,
    }
    # Everything else is Cognito's own and goes back as it came.
    assert {k: v for k, v in answered.items() if k != "response"} == {
        k: v for k, v in event().items() if k != "response"
    }


def test_no_email_is_verified_when_the_sign_up_gave_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBBUB_AUTO_CONFIRM", "TRUE")
    without = event()
    without["request"]["userAttributes"] = {}
    answered = pre_sign_up(without, None)
    assert answered["response"]["autoConfirmUser"] is True
    assert answered["response"]["autoVerifyEmail"] is False


def test_importing_the_trigger_loads_neither_boto3_nor_the_app() -> None:
    probe = (
        "import sys, hubbub.aws.cognito_triggers;"
        "print(sorted(m for m in ('boto3', 'botocore', 'jwt', 'fastapi', 'hubbub.services')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
        env={"PYTHONPATH": "src"},
    )
    assert done.stdout.strip() == "[]"
