"""Screenshots of the main screens, light and dark, desktop (1280x800) and phone (390x844).

    .venv/bin/python -m tests.e2e.screenshots [OUT_DIR]   # default docs/screenshots

Starts its own server on a temporary data dir, seeds a few people and chats over the REST API,
then signs in as one of them in Chromium.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect, sync_playwright
from websockets.sync.client import connect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, Server

PASSWORD = "correct horse battery"


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else raw
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json" if raw is None else "image/png")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req) as res:
            raw = res.read()
            return json.loads(raw) if raw else None


def person(base: str, username: str, name: str) -> tuple[Api, dict[str, Any]]:
    api = Api(base)
    api.call(
        "POST",
        "/api/auth/signup",
        {
            "username": username,
            "email": f"{username}@example.com",
            "password": PASSWORD,
            "displayName": name,
        },
    )
    res = api.call("POST", "/api/auth/signin", {"username": username, "password": PASSWORD})
    api.token = res["accessToken"]
    return api, res["user"]


def say(
    api: Api,
    conversation_id: str,
    body: str,
    n: list[int] = [0],  # noqa: B006
    **extra: Any,
) -> dict[str, Any]:
    n[0] += 1
    return api.call(
        "POST",
        f"/api/conversations/{conversation_id}/messages",
        {"clientMessageId": f"seed-{n[0]}", "body": body, **extra},
    )["message"]


def react(api: Api, conversation_id: str, message_id: str, emoji: str) -> None:
    path = f"/api/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}"
    api.call("PUT", urllib.request.quote(path))


def portrait(background: tuple[int, int, int], face: tuple[int, int, int]) -> bytes:
    """A made-up profile picture: a head and shoulders on a plain background."""
    picture = Image.new("RGB", (256, 256), background)
    draw = ImageDraw.Draw(picture)
    draw.ellipse([(88, 48), (168, 128)], fill=face)
    draw.ellipse([(48, 140), (208, 300)], fill=face)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def trail_photo() -> bytes:
    """A made-up landscape (sky, two mountains, a lake) so the shots show an image."""
    picture = Image.new("RGB", (960, 600), (125, 185, 235))
    draw = ImageDraw.Draw(picture)
    draw.polygon([(0, 470), (330, 140), (640, 470)], fill=(84, 110, 122))
    draw.polygon([(300, 470), (640, 90), (960, 470)], fill=(55, 71, 79))
    draw.polygon([(560, 180), (640, 90), (720, 180)], fill=(245, 245, 245))
    draw.rectangle([(0, 470), (960, 600)], fill=(46, 125, 150))
    draw.ellipse([(780, 50), (880, 150)], fill=(255, 213, 79))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def seed(base: str) -> dict[str, str]:
    ana, ana_u = person(base, "ana", "Ana Lima")
    bob, bob_u = person(base, "bob", "Bob Stone")
    cleo, cleo_u = person(base, "cleo", "Cleo Park")
    dev, dev_u = person(base, "dev", "Dev Patel")
    eli, _ = person(base, "eli", "Eli Moreau")
    cleo.call("PUT", "/api/users/me/avatar", raw=portrait((255, 183, 77), (121, 85, 72)))
    bob.call("PUT", "/api/users/me/avatar", raw=portrait((129, 212, 250), (93, 64, 55)))

    group = ana.call(
        "POST",
        "/api/conversations",
        {"title": "Weekend hike 🥾", "memberIds": [bob_u["id"], cleo_u["id"], dev_u["id"]]},
    )["conversation"]
    gid = group["id"]
    trail = say(bob, gid, "Trail opens at 8. Who's driving?")
    say(cleo, gid, "I can take three people 🚗", replyToId=trail["id"])
    photo = dev.call(
        "POST", f"/api/conversations/{gid}/attachments?fileName=lake.png", raw=trail_photo()
    )
    view = say(
        dev,
        gid,
        "Count me in! The view from the top last year:",
        attachmentIds=[photo["attachment"]["id"]],
    )
    react(bob, gid, view["id"], "😮")
    react(cleo, gid, view["id"], "😮")
    react(ana, gid, view["id"], "❤️")

    eli_direct = eli.call("POST", "/api/conversations/direct", {"userId": ana_u["id"]})[
        "conversation"
    ]
    say(eli, eli_direct["id"], "Sent you the slides for Monday")

    cleo_direct = cleo.call("POST", "/api/conversations/direct", {"userId": ana_u["id"]})[
        "conversation"
    ]
    say(cleo, cleo_direct["id"], "Lunch tomorrow?")
    say(ana, cleo_direct["id"], "Yes! The ramen place?")
    m = say(cleo, cleo_direct["id"], "Perfect, 12:30 🍜")
    ana.call("POST", f"/api/conversations/{cleo_direct['id']}/read", {"seq": m["seq"]})

    direct = ana.call("POST", "/api/conversations/direct", {"userId": bob_u["id"]})["conversation"]
    cid = direct["id"]
    say(bob, cid, "Hey Ana! Are we still on for the release review?")
    say(ana, cid, "Yes, 3pm works for me.")
    checklist = say(ana, cid, "I'll put the checklist in the doc so we can go through it together.")
    tested = say(
        bob,
        cid,
        "Great. I tested the reconnect flow this morning: stop the server, start it again "
        "and nothing is lost 🎉",
        replyToId=checklist["id"],
    )
    react(ana, cid, tested["id"], "🙏")
    edited = say(bob, cid, "Also the dark theme looks sharp")
    bob.call(
        "PATCH",
        f"/api/conversations/{cid}/messages/{edited['id']}",
        {"body": "Also the dark theme looks really sharp"},
    )
    gone = say(ana, cid, "oops, wrong chat")
    ana.call("DELETE", f"/api/conversations/{cid}/messages/{gone['id']}")
    last = say(ana, cid, "Ha, thanks! See you at 3 👋")
    bob.call("POST", f"/api/conversations/{cid}/read", {"seq": last["seq"] - 1})
    return {"direct": cid, "group": group["id"], "bob_token": bob.token}


def sign_in(page: Page) -> None:
    page.goto("/signin")
    page.get_by_label("Username or email").fill("ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "online")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        server = Server(data_dir=data)
        server.start()
        try:
            ids = seed(server.url)
            with contextlib.ExitStack() as stack, sync_playwright() as p:
                # Bob is online (a plain WebSocket client) and starts typing before each chat shot.
                bob = Api(server.url)
                bob.token = ids["bob_token"]
                ticket = bob.call("POST", "/api/auth/ws-ticket")["ticket"]
                bob_ws = stack.enter_context(
                    connect(f"ws://127.0.0.1:{server.port}/ws?ticket={ticket}")
                )
                bob_typing = json.dumps(
                    {"action": "typing", "conversationId": ids["direct"], "isTyping": True}
                )
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                for scheme in ("light", "dark"):
                    for device, (w, h) in {"desktop": (1280, 800), "phone": (390, 844)}.items():
                        ctx = browser.new_context(
                            base_url=server.url,
                            viewport={"width": w, "height": h},
                            color_scheme=scheme,
                            device_scale_factor=1 if device == "desktop" else 2,
                        )
                        page = ctx.new_page()
                        page.goto("/signin")
                        page.wait_for_timeout(200)
                        page.screenshot(path=str(out / f"signin-{device}-{scheme}.png"))
                        sign_in(page)
                        if device == "phone":
                            page.wait_for_timeout(300)
                            page.screenshot(path=str(out / f"list-{device}-{scheme}.png"))
                        page.goto(f"/c/{ids['direct']}")
                        expect(page.get_by_test_id("message").first).to_be_visible()
                        bob_ws.send(bob_typing)
                        expect(page.get_by_test_id("typing-indicator")).to_be_visible()
                        page.wait_for_timeout(400)
                        page.screenshot(path=str(out / f"chat-{device}-{scheme}.png"))
                        if device == "desktop":
                            page.goto(f"/c/{ids['group']}")
                            expect(page.get_by_test_id("message").first).to_be_visible()
                            page.wait_for_timeout(300)
                            page.screenshot(path=str(out / f"group-{device}-{scheme}.png"))
                            page.get_by_role("button", name="New chat").click()
                            page.get_by_role("dialog").get_by_label("Search people").fill("d")
                            expect(
                                page.get_by_role("dialog").get_by_role(
                                    "button", name="Dev Patel @dev"
                                )
                            ).to_be_visible()
                            page.wait_for_timeout(300)
                            page.screenshot(path=str(out / f"new-chat-{device}-{scheme}.png"))
                            page.keyboard.press("Escape")
                            page.keyboard.press("Control+k")
                            search = page.get_by_role("dialog", name="Search")
                            search.get_by_label("Search messages").fill("ramen")
                            expect(
                                search.get_by_role("list", name="Message results")
                            ).to_contain_text("ramen")
                            page.wait_for_timeout(300)
                            page.screenshot(path=str(out / f"search-{device}-{scheme}.png"))
                        ctx.close()
                browser.close()
        finally:
            server.stop()
    print("\n".join(sorted(str(p) for p in out.glob("*.png"))))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
