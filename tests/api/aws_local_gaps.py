"""What of the API suite does not hold against `make aws-local` (HUBBUB_TEST_TOPOLOGY=
aws-local), and why: each such test is skipped there with its reason, so the rest of the
suite runs on the serverless stack in `make test`, and this list is the record of what is
left (README, "Offline: make aws-local"). A test leaves the list when the gap closes."""

from __future__ import annotations

# Where API Gateway, Lambda or Cognito behave otherwise, as docs/websocket.md ("On AWS")
# and SECURITY.md state.
DIFFERENCES = {
    "test_auth.py::test_refresh_rotates_and_reuse_revokes_the_session": (
        "Cognito neither rotates refresh tokens nor detects their reuse (SECURITY.md)"
    ),
    "test_websocket.py::test_frames_sent_at_once_are_stored_and_delivered_in_the_order_sent": (
        "API Gateway may run two frames of one connection at once (docs/websocket.md)"
    ),
    "test_attachments.py::test_one_request_uploads_over_the_limit_are_refused_with_413": (
        "API Gateway refuses a body over Lambda's 6 MB itself, in its own shape; clients"
        ' upload large files in three steps (docs/websocket.md, "Attachments")'
    ),
    "test_sign_up_rules.py::test_long_unicode_and_spaced_passwords_are_welcome": (
        "moto's user pool refuses a 256-character password as against its policy"
    ),
}

# What only a `hubbub serve` process has (on AWS, CloudFront serves the web app).
SERVER_ONLY = {
    "test_platform.py::test_the_web_app_is_served_for_any_client_route": "the web app",
}

# Not built, or not yet diagnosed, on the serverless stack.
OPEN: dict[str, str] = {}

GAPS = {**DIFFERENCES, **SERVER_ONLY, **OPEN}
