"""Cognito user pool triggers.

`pre_sign_up` confirms sign-ups (and marks their email verified) only where
HUBBUB_AUTO_CONFIRM is "true", the local stage, which has no mailbox; every other
stage returns the event unchanged, so Cognito emails the code. Imports nothing but
`os`: a trigger's cold start adds to the person's sign-up time.

Emulators (moto) do not run triggers; the local stage gets the same effect from
`CognitoIdentity(auto_confirm=True)` (AdminConfirmSignUp right after SignUp).
"""

from __future__ import annotations

import os
from typing import Any


def pre_sign_up(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Returns the event, with `autoConfirmUser` and `autoVerifyEmail` set on the local
    stage (the email only when the sign-up gave one: Cognito refuses otherwise)."""
    if os.environ.get("HUBBUB_AUTO_CONFIRM", "").strip().lower() != "true":
        return event
    response = event.setdefault("response", {})
    response["autoConfirmUser"] = True
    attributes = (event.get("request") or {}).get("userAttributes") or {}
    if attributes.get("email"):
        response["autoVerifyEmail"] = True
    return event
