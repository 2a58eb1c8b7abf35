"""What each process of `hubbub serve --workers N` loads: uvicorn starts the workers
afresh (spawned, not forked), so each builds its own platform from the settings its
parent put in the environment (`Settings.to_env`)."""

from __future__ import annotations

from hubbub.bootstrap import build
from hubbub.config import Settings
from hubbub.server.app import HubbubApp, create_app
from hubbub.server.transport import Limits, protocols

settings = Settings.from_env()
# The HTTP protocol with this deployment's transport limits, named by import string.
Http, _ = protocols(Limits.from_settings(settings))


def app() -> HubbubApp:
    """The ASGI app of one worker (uvicorn's `factory=True`)."""
    return create_app(build(settings))
