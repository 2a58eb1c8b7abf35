"""Authorization matrix (ASVS 8.2/8.3, 9): every REST operation and WebSocket action by
{no token, expired, forged (wrong key, alg none, wrong audience/issuer/use), outsider,
removed member, non-owner, non-sender}, with the expected status for each; and no data of
a conversation reaches an outsider or a removed member, in a response or an event."""

from __future__ import annotations

import asyncio
import base64
import io
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from PIL import Image

from tests.reliability.helpers import mint_token
from tests.support import Account, Api, Socket, open_socket

PUBLIC = {
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/confirm"),
    ("POST", "/api/auth/resend-code"),
    ("POST", "/api/auth/signin"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/forgot-password"),
    ("POST", "/api/auth/reset-password"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),  # names a failing dependency, nothing more
    # What a link from .../attachments/{id}/link serves: no token, the URL's signature
    # is the permission (test_signed_attachment_urls_need_their_signature).
    ("GET", "/api/attachment-files/{conversation_id}/{attachment_id}/{variant}"),
    # Where an upload's bytes go (local disk): the URL's signature, handed to a member
    # who started the upload, is the permission (tests/api/test_attachments.py).
    ("PUT", "/api/attachment-uploads/{upload_id}"),
    # A profile picture, for <img>: its URL's 128 random bits are the permission, and
    # only views of the user hand it out (tests/api/test_avatars.py).
    ("GET", "/api/avatars/{avatar_id}"),
}
SECRET_TITLE = "Project Nightjar"
SECRET_BODY = "the launch code is 0451"
LATE_BODY = "said after the removal"
THUMBS = "%F0%9F%91%8D"  # 👍, as it travels in a path


@dataclass
class World:
    owner: Account
    member: Account
    removed: Account
    outsider: Account
    group: str
    direct: str  # owner <-> member
    owner_message: str  # in the group
    member_message: str  # in the group
    removed_message: str  # in the group, sent before the removal
    direct_message: str  # the member's, in the direct conversation
    attachment: str  # an image the owner sent in the group


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "navy").save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def world(api: Api) -> World:
    owner, member, removed, outsider = [await api.sign_up() for _ in range(4)]
    group = await api.group(owner, SECRET_TITLE, member, removed)
    direct = await api.direct(owner, member)
    owner_message = await api.send(owner, group, SECRET_BODY, "w-owner")
    member_message = await api.send(member, group, f"{SECRET_BODY} (member)", "w-member")
    removed_message = await api.send(removed, group, f"{SECRET_BODY} (removed)", "w-removed")
    direct_message = await api.send(member, direct, f"{SECRET_BODY} (direct)", "w-direct")
    upload = await api.call(
        "POST",
        f"/conversations/{group}/attachments",
        owner,
        params={"fileName": "nightjar.png"},
        content=_png(),
    )
    assert upload.status_code == 201, upload.text
    attachment = upload.json()["attachment"]["id"]
    sent = await api.call(
        "POST",
        f"/conversations/{group}/messages",
        owner,
        json={"clientMessageId": "w-photo", "body": "", "attachmentIds": [attachment]},
    )
    assert sent.status_code == 201, sent.text
    gone = await api.call("DELETE", f"/conversations/{group}/members/{removed.id}", owner)
    assert gone.status_code == 204
    return World(
        owner,
        member,
        removed,
        outsider,
        group,
        direct,
        owner_message["id"],
        member_message["id"],
        removed_message["id"],
        direct_message["id"],
        attachment,
    )


def operations(w: World, caller: Account) -> list[tuple[str, str, dict[str, Any] | None]]:
    """One call of every authenticated operation, aimed at the world's conversations."""
    g, d = f"/conversations/{w.group}", f"/conversations/{w.direct}"
    return [
        ("POST", "/auth/signout", {}),
        ("POST", "/auth/ws-ticket", None),
        ("GET", "/users/me", None),
        ("PATCH", "/users/me", {"displayName": "Mallory"}),
        ("GET", "/users/search?q=us", None),
        ("GET", f"/users/{w.owner.id}", None),
        # Blocking and unblocking (in this order: the direct chat below is still allowed).
        ("PUT", f"/users/{w.owner.id}/block", None),
        ("DELETE", f"/users/{w.owner.id}/block", None),
        ("GET", "/users/me/blocked", None),
        # The caller's own picture (a raw upload: this JSON body is no image).
        ("PUT", "/users/me/avatar", {"not": "an image"}),
        ("DELETE", "/users/me/avatar", None),
        ("POST", "/conversations/direct", {"userId": w.owner.id}),
        ("POST", "/conversations", {"title": "mine", "memberIds": []}),
        ("GET", "/conversations", None),
        ("GET", g, None),
        ("PATCH", g, {"title": "renamed"}),
        ("DELETE", g, None),
        ("GET", f"{g}/members", None),
        ("POST", f"{g}/members", {"userId": caller.id}),
        ("DELETE", f"{g}/members/{w.member.id}", None),
        ("POST", f"{g}/read", {"seq": 1}),
        ("PUT", f"{g}/mute", {"until": None}),
        ("DELETE", f"{g}/mute", None),
        ("GET", f"{g}/messages", None),
        ("GET", f"{g}/events?after=0", None),
        ("POST", f"{g}/messages", {"clientMessageId": f"x-{caller.id}", "body": "hi"}),
        ("GET", f"{g}/messages/{w.owner_message}", None),
        ("PATCH", f"{g}/messages/{w.owner_message}", {"body": "defaced"}),
        ("DELETE", f"{g}/messages/{w.owner_message}", None),
        ("PUT", f"{g}/messages/{w.owner_message}/reactions/{THUMBS}", None),
        ("DELETE", f"{g}/messages/{w.owner_message}/reactions/{THUMBS}", None),
        (
            "POST",
            f"{g}/messages",
            {"clientMessageId": f"q-{caller.id}", "body": "re", "replyToId": w.owner_message},
        ),
        ("GET", "/sync?since=0", None),
        # Search finds "the launch code" for members; for others, nothing (200, empty),
        # and naming the conversation is a 404.
        ("GET", "/search/messages?q=launch", None),
        ("GET", f"/search/messages?q=launch&conversationId={w.group}", None),
        ("GET", d, None),
        ("GET", f"{d}/messages", None),
        ("GET", f"{d}/events", None),
        ("GET", f"{d}/messages/{w.direct_message}", None),
        # A raw upload: this JSON body is the file's content.
        ("POST", f"{g}/attachments?fileName=note.txt", {"note": "hi"}),
        ("GET", f"{g}/attachments/{w.attachment}", None),
        ("GET", f"{g}/attachments/{w.attachment}/thumbnail", None),
        ("GET", f"{g}/attachments/{w.attachment}/link", None),
        ("POST", f"{g}/attachments/uploads", {"fileName": "note.txt", "size": 5}),
        ("POST", f"{g}/attachments/uploads/U1", {"fileName": "note.txt"}),
        ("PUT", f"{d}/mute", {"until": None}),
    ]


async def _call(api: Api, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return await api.call(method, path, **kwargs)


def _quietly(mint: Any, *args: Any, **kwargs: Any) -> str:
    """PyJWT warns that the key is short for HS512; the server must refuse it anyway."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token: str = mint(*args, **kwargs)
    return token


def _tamper(token: str, subject: str) -> str:
    """Swaps the subject in a validly signed token, keeping the signature."""
    header, payload, signature = token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = subject
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


async def test_the_matrix_covers_every_operation_of_the_served_openapi(api: Api) -> None:
    """A new endpoint must be added to the matrix: this fails until it is."""
    document = (await api.http.get("/api/openapi.json")).json()
    served = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    }
    dummy = Account("u", "u", "p", "t", "r")
    w = World(dummy, dummy, dummy, dummy, "G", "D", "M1", "M2", "M3", "M4", "A1")
    covered = set()
    for method, path, _ in operations(w, dummy):
        template = "/api" + path.split("?")[0].replace("/G/", "/{conversation_id}/").replace(
            "/D/", "/{conversation_id}/"
        )
        template = template.removesuffix("/G").removesuffix("/D")
        if path.split("?")[0] in {"/conversations/G", "/conversations/D"}:
            template = "/api/conversations/{conversation_id}"
        for message in ("M1", "M4"):
            template = template.replace(f"/messages/{message}", "/messages/{message_id}")
        template = template.replace("/attachments/A1", "/attachments/{attachment_id}")
        template = template.replace("/uploads/U1", "/uploads/{upload_id}")
        template = template.replace(f"/reactions/{THUMBS}", "/reactions/{emoji}")
        template = template.replace("/users/u", "/users/{user_id}").replace(
            "/members/u", "/members/{user_id}"
        )
        covered.add((method, template))
    assert served - PUBLIC <= covered, sorted(served - PUBLIC - covered)


async def test_every_protected_operation_refuses_missing_expired_and_forged_tokens(
    api: Api, world: World
) -> None:
    victim = world.owner
    signed_in_token = victim.access_token
    bad_tokens = {
        "no token": None,
        "empty bearer": "",
        "garbage": "not-a-jwt",
        "expired": mint_token(victim.id, expires_in=-5),
        "wrong key": mint_token(victim.id, key="another-secret-another-secret-0123"),
        "alg none": mint_token(victim.id, algorithm="none"),
        "alg HS512": _quietly(mint_token, victim.id, algorithm="HS512"),
        "wrong audience": mint_token(victim.id, aud="someone-else"),
        "wrong issuer": mint_token(victim.id, iss="https://evil.example"),
        "refresh use": mint_token(victim.id, token_use="refresh"),
        "no use": mint_token(victim.id, drop=("token_use",)),
        "no expiry": mint_token(victim.id, drop=("exp",)),
        "no audience": mint_token(victim.id, drop=("aud",)),
        "no subject": mint_token(victim.id, drop=("sub",)),
        "tampered subject": _tamper(world.outsider.access_token, victim.id),
        "signature stripped": signed_in_token.rsplit(".", 1)[0] + ".",
        "refresh token": victim.refresh_token,
    }
    # The control: the suite's key, with nothing changed, is accepted; so the refusals
    # below are the forgeries', not a key that differs from the server's.
    control = {"Authorization": f"Bearer {mint_token(victim.id)}"}
    assert (await _call(api, "GET", "/users/me", None, control)).status_code == 200
    failures = []
    for label, token in bad_tokens.items():
        headers = {} if token is None else {"Authorization": f"Bearer {token}".strip()}
        for method, path, body in operations(world, victim):
            reply = await _call(api, method, path, body, headers)
            if reply.status_code != 401 or reply.json()["error"]["code"] != "unauthorized":
                failures.append((label, method, path, reply.status_code))
            elif reply.headers.get("www-authenticate") != "Bearer":
                failures.append((label, method, path, "no WWW-Authenticate"))
            elif SECRET_TITLE in reply.text or victim.id in reply.text:
                failures.append((label, method, path, "leaks data"))
    assert not failures, failures
    # Nothing above changed anything.
    conversation = (await api.call("GET", f"/conversations/{world.group}", world.member)).json()
    assert conversation["conversation"]["title"] == SECRET_TITLE


async def test_a_freshly_minted_good_token_is_accepted(api: Api, world: World) -> None:
    """The forged-token test proves something only if the minting itself is right."""
    token = mint_token(world.owner.id)
    reply = await api.call("GET", "/users/me", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200 and reply.json()["user"]["id"] == world.owner.id


@pytest.mark.parametrize("role", ["outsider", "removed"])
async def test_outsiders_and_removed_members_get_404_and_no_data(
    api: Api, world: World, role: str
) -> None:
    caller: Account = getattr(world, role)
    expected_ok = {
        ("POST", "/auth/signout"): 204,
        ("POST", "/auth/ws-ticket"): 200,
        ("GET", "/users/me"): 200,
        ("PATCH", "/users/me"): 200,
        ("GET", "/users/search?q=us"): 200,
        ("GET", f"/users/{world.owner.id}"): 200,
        # Anyone may block anyone (it only takes away): what it shows is their own list.
        ("PUT", f"/users/{world.owner.id}/block"): 200,
        ("DELETE", f"/users/{world.owner.id}/block"): 204,
        ("GET", "/users/me/blocked"): 200,
        # Anyone may set (the JSON body is refused as no image) or remove their picture.
        ("PUT", "/users/me/avatar"): 415,
        ("DELETE", "/users/me/avatar"): 200,
        ("POST", "/conversations/direct"): 201,  # anyone may start a direct chat
        ("POST", "/conversations"): 201,
        ("GET", "/conversations"): 200,
        ("GET", "/sync?since=0"): 200,
        ("GET", "/search/messages?q=launch"): 200,
    }
    extra = [
        # The removed member's own old message cannot be touched any more either.
        ("PATCH", f"/conversations/{world.group}/messages/{world.removed_message}", {"body": "x"}),
        ("DELETE", f"/conversations/{world.group}/messages/{world.removed_message}", None),
        ("DELETE", f"/conversations/{world.group}/members/{caller.id}", None),
        ("POST", f"/conversations/{world.direct}/messages", {"clientMessageId": "y", "body": "y"}),
        ("POST", f"/conversations/{world.direct}/read", {"seq": 1}),
    ]
    failures = []
    calls = operations(world, caller) + extra
    calls.sort(key=lambda call: call[1] == "/auth/signout")  # last: it ends the session
    for method, path, body in calls:
        reply = await _call(api, method, path, body, caller.headers)
        want = expected_ok.get((method, path), 404)
        if reply.status_code != want:
            failures.append((method, path, reply.status_code, reply.text[:200]))
            continue
        if want == 404 and reply.json()["error"]["code"] != "not_found":
            failures.append((method, path, "code", reply.json()))
        public_profiles = path.startswith("/users/")  # user ids are public
        text = reply.text
        # A removed member's sync replays nothing of the group either: not even what
        # they received while a member.
        if SECRET_TITLE in text or SECRET_BODY in text:
            failures.append((method, path, "leaks", text[:300]))
        elif world.member.id in text and not public_profiles:
            failures.append((method, path, "leaks a member", text[:300]))
    assert not failures, failures
    # The search that found nothing for them finds the secret for a member.
    members_search = await api.call("GET", "/search/messages?q=launch", world.member)
    assert SECRET_BODY in members_search.text
    listed = await api.call("GET", "/conversations", caller)
    assert world.group not in listed.text and world.direct not in listed.text
    state = await api.call("GET", f"/conversations/{world.group}", world.owner)
    assert state.json()["conversation"]["title"] == SECRET_TITLE
    assert {m["id"] for m in state.json()["conversation"]["members"]} == {
        world.owner.id,
        world.member.id,
    }


async def test_public_profiles_never_show_an_email(api: Api, world: World) -> None:
    for path in (f"/users/{world.owner.id}", f"/users/search?q={world.owner.username[:6]}"):
        reply = await api.call("GET", path, world.outsider)
        assert reply.status_code == 200
        assert "email" not in reply.text and "@example.test" not in reply.text


async def test_members_who_are_not_owner_or_sender(api: Api, world: World) -> None:
    g, d = f"/conversations/{world.group}", f"/conversations/{world.direct}"
    m = world.member
    cases: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("DELETE", g, None, 403),
        # Renaming is the owner's, like membership (a member's stale dialog once undid it).
        ("PATCH", g, {"title": "defaced"}, 403),
        ("POST", f"{g}/members", {"userId": world.outsider.id}, 403),
        ("DELETE", f"{g}/members/{world.owner.id}", None, 403),
        ("PATCH", f"{g}/messages/{world.owner_message}", {"body": "defaced"}, 403),
        ("DELETE", f"{g}/messages/{world.owner_message}", None, 403),
        # Direct conversations have a fixed pair and no title or owner.
        ("PATCH", d, {"title": "ours"}, 403),
        ("DELETE", d, None, 403),
        ("POST", f"{d}/members", {"userId": world.outsider.id}, 403),
        ("DELETE", f"{d}/members/{world.owner.id}", None, 403),
        ("DELETE", f"{d}/members/{m.id}", None, 403),
        # A message id from another conversation is not found through this one.
        ("GET", f"{d}/messages/{world.member_message}", None, 404),
        ("PATCH", f"{d}/messages/{world.member_message}", {"body": "moved"}, 404),
        ("DELETE", f"{d}/messages/{world.member_message}", None, 404),
        ("GET", f"{g}/messages/{world.direct_message}", None, 404),
        # Nor is an attachment.
        ("GET", f"{d}/attachments/{world.attachment}", None, 404),
        ("GET", f"{d}/attachments/{world.attachment}/link", None, 404),
        # A member cannot send the owner's upload again (it is not theirs).
        (
            "POST",
            f"{g}/messages",
            {"clientMessageId": "reuse", "body": "", "attachmentIds": [world.attachment]},
            404,
        ),
        ("PUT", f"{d}/messages/{world.owner_message}/reactions/{THUMBS}", None, 404),
        # A reply quotes a message of its own conversation only.
        (
            "POST",
            f"{d}/messages",
            {"clientMessageId": "quote", "body": "re", "replyToId": world.owner_message},
            422,
        ),
        # Allowed to every member.
        ("POST", f"{g}/read", {"seq": 99}, 200),
        ("GET", f"{g}/attachments/{world.attachment}", None, 200),
        ("GET", f"{g}/attachments/{world.attachment}/thumbnail", None, 200),
        ("GET", f"{g}/attachments/{world.attachment}/link", None, 200),
        ("POST", f"{g}/attachments?fileName=mine.txt", {"mine": True}, 201),
        ("GET", f"/search/messages?q=launch&conversationId={world.group}", None, 200),
        # A mute is each member's own (the owner's say does not come into it).
        ("PUT", f"{g}/mute", {"until": None}, 200),
        ("DELETE", f"{g}/mute", None, 200),
        ("PUT", f"{d}/mute", {"until": None}, 200),
        ("PUT", f"{g}/messages/{world.owner_message}/reactions/{THUMBS}", None, 200),
        ("DELETE", f"{g}/messages/{world.owner_message}/reactions/{THUMBS}", None, 200),
    ]
    failures = []
    for method, path, body, want in cases:
        reply = await _call(api, method, path, body, m.headers)
        if reply.status_code != want:
            failures.append((method, path, want, reply.status_code, reply.text[:200]))
    assert not failures, failures
    message = await api.call("GET", f"{g}/messages/{world.owner_message}", world.owner)
    assert message.json()["message"]["body"] == SECRET_BODY
    read = await api.call("GET", g, m)
    assert read.json()["conversation"]["readSeq"] == 4  # clamped to the newest message


async def test_signed_attachment_urls_need_their_signature(api: Api, world: World) -> None:
    links = await api.call(
        "GET", f"/conversations/{world.group}/attachments/{world.attachment}/link", world.member
    )
    assert links.status_code == 200
    url: str = links.json()["url"]
    path, query = url.split("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    anonymous = {"Authorization": ""}
    good = await api.http.get(url, headers=anonymous)
    assert good.status_code == 200 and good.headers["content-type"] == "image/png"
    forged = [
        f"{path}?expires={params['expires']}",  # no signature
        f"{path}?expires={int(params['expires']) + 3600}&signature={params['signature']}",
        f"{path}?expires={params['expires']}&signature={params['signature'][:-2]}xx",
        url.replace(world.group, world.direct),  # another conversation's path
        url.replace("/file?", "/thumbnail?"),  # another variant
    ]
    for attempt in forged:
        reply = await api.http.get(attempt, headers=anonymous)
        assert reply.status_code in (404, 422), (attempt, reply.status_code)
        assert SECRET_TITLE not in reply.text


@pytest.fixture
async def sockets(api: Api, world: World) -> AsyncIterator[dict[str, Socket]]:
    async with (
        open_socket(api, world.outsider) as outsider,
        open_socket(api, world.removed) as removed,
        open_socket(api, world.member) as member,
    ):
        yield {"outsider": outsider, "removed": removed, "member": member}


async def test_websocket_actions_of_outsiders_removed_members_and_non_senders(
    api: Api, world: World, sockets: dict[str, Socket]
) -> None:
    g = world.group
    for role in ("outsider", "removed"):
        socket_ = sockets[role]
        for action, fields in [
            ("sendMessage", {"conversationId": g, "clientMessageId": f"ws-{role}", "body": "hi"}),
            ("editMessage", {"conversationId": g, "messageId": world.owner_message, "body": "x"}),
            ("editMessage", {"conversationId": g, "messageId": world.removed_message, "body": "x"}),
            ("deleteMessage", {"conversationId": g, "messageId": world.removed_message}),
            ("markRead", {"conversationId": g, "seq": 1}),
            ("typing", {"conversationId": g, "isTyping": True}),
            ("sendMessage", {"conversationId": world.direct, "clientMessageId": "d", "body": "d"}),
            (
                "sendMessage",
                {
                    "conversationId": g,
                    "clientMessageId": f"ws-{role}-photo",
                    "body": "",
                    "attachmentIds": [world.attachment],
                },
            ),
            (
                "sendMessage",
                {
                    "conversationId": g,
                    "clientMessageId": f"re-{role}",
                    "body": "re",
                    "replyToId": world.owner_message,
                },
            ),
        ]:
            reply = await socket_.request(action, **fields)
            assert reply["type"] == "error" and reply["error"]["code"] == "not_found", (
                role,
                action,
                reply,
            )
    member = sockets["member"]
    for action, fields in [
        ("editMessage", {"conversationId": g, "messageId": world.owner_message, "body": "x"}),
        ("deleteMessage", {"conversationId": g, "messageId": world.owner_message}),
    ]:
        reply = await member.request(action, **fields)
        assert reply["error"]["code"] == "forbidden", (action, reply)
    for action, fields in [
        ("editMessage", {"conversationId": world.direct, "messageId": world.member_message}),
        ("deleteMessage", {"conversationId": world.direct, "messageId": world.member_message}),
    ]:
        reply = await member.request(action, body="moved", **fields)
        assert reply["error"]["code"] == "not_found", (action, reply)
    history = await api.call("GET", f"/conversations/{g}/messages", world.owner)
    bodies = [m["body"] for m in history.json()["messages"]]
    # The world's last message is the owner's photo, without text.
    assert bodies == [SECRET_BODY, f"{SECRET_BODY} (member)", f"{SECRET_BODY} (removed)", ""]


async def test_removal_stops_live_events_at_once_and_outsiders_hear_nothing(
    api: Api, world: World, sockets: dict[str, Socket]
) -> None:
    g = world.group
    late = await api.sign_up()
    await api.call("POST", f"/conversations/{g}/members", world.owner, json={"userId": late.id})
    resume = {a.id: await api.sync_cursor(a) for a in (late, world.removed, world.outsider)}
    async with open_socket(api, late) as late_socket, open_socket(api, world.owner) as owner_ws:
        member_ws = sockets["member"]
        # Everything that produces an event, with the removal in the middle and the
        # next events sent without waiting for anything.
        await member_ws.send({"action": "typing", "conversationId": g, "isTyping": True})
        removal = asyncio.create_task(
            api.call("DELETE", f"/conversations/{g}/members/{late.id}", world.owner)
        )
        burst = [
            member_ws.request(
                "sendMessage", conversationId=g, clientMessageId=f"burst-{i}", body=f"b{i}"
            )
            for i in range(10)
        ]
        await asyncio.gather(removal, *burst)
        assert removal.result().status_code == 204
        await member_ws.send({"action": "typing", "conversationId": g, "isTyping": True})
        sent = await member_ws.request(
            "sendMessage", conversationId=g, clientMessageId="after", body=LATE_BODY
        )
        await member_ws.request(
            "editMessage", conversationId=g, messageId=sent["message"]["id"], body="e"
        )
        await member_ws.request("markRead", conversationId=g, seq=1)
        await api.call("PATCH", f"/conversations/{g}", world.owner, json={"title": "Renamed"})
        await api.call(
            "POST", f"/conversations/{g}/members", world.owner, json={"userId": world.outsider.id}
        )
        await api.call("DELETE", f"/conversations/{g}/members/{world.outsider.id}", world.owner)
        await owner_ws.wait_for(type="member.removed", userId=world.outsider.id)
        for socket_ in (late_socket, sockets["removed"], sockets["outsider"]):
            await socket_.request("ping")  # everything sent before is in by now

        frames = late_socket.frames
        removed_at = next(i for i, f in enumerate(frames) if f.get("type") == "member.removed")
        after = [f for f in frames[removed_at + 1 :] if g in orjson.dumps(f).decode()]
        assert not after, after
        assert not [
            f
            for f in frames
            if f.get("type") == "message.created" and f["message"]["body"] == LATE_BODY
        ]

    # The member removed before the sockets opened hears nothing of the group.
    removed_frames = [f for f in sockets["removed"].frames if g in orjson.dumps(f).decode()]
    assert not removed_frames, removed_frames
    # The outsider was added and removed: between those, events are theirs; before
    # and after, nothing. Its first group frame is its own member.added.
    outsider_frames = [f for f in sockets["outsider"].frames if g in orjson.dumps(f).decode()]
    assert [f["type"] for f in outsider_frames] == ["member.added", "member.removed"]

    # /api/sync from before it all: whoever was in the group after that point and is
    # not now (removed meanwhile, or added and removed) gets their own removal and
    # nothing else of it; the member removed before it gets nothing of it.
    for account, replay in (
        (late, ["member.removed"]),
        (world.removed, []),
        (world.outsider, ["member.removed"]),
    ):
        events, _ = await api.sync_all(account, resume[account.id])
        mine = [e for e in events if g in orjson.dumps(e).decode()]
        assert [e["type"] for e in mine] == replay, account
        assert all(e["userId"] == account.id for e in mine)


async def test_deleted_messages_and_groups_leave_no_bodies_in_sync(api: Api) -> None:
    """Deleting and editing are for everyone: a replay of /api/sync must not bring back
    what was deleted or edited away, neither in the message nor in a conversation's
    lastMessage, nor does the conversation's log."""
    ana, bob, carl = await api.sign_up(), await api.sign_up(), await api.sign_up()
    direct = await api.direct(ana, bob)
    group = await api.group(ana, "Short-lived", bob)
    resume = {a.id: await api.sync_cursor(a) for a in (ana, bob, carl)}
    regret = await api.send(ana, direct, "something I regret", "regret-1")
    await api.send(ana, direct, "fine to keep", "keep-1")
    reply = await api.call("DELETE", f"/conversations/{direct}/messages/{regret['id']}", ana)
    assert reply.status_code == 204
    typo = await api.send(ana, direct, "my pasword is hunter2", "typo-1")
    fixed = await api.call(
        "PATCH", f"/conversations/{direct}/messages/{typo['id']}", ana, json={"body": "oops"}
    )
    assert fixed.status_code == 200
    await api.send(bob, group, "group secret", "gs-1")
    # A member added afterwards gets a snapshot whose lastMessage is the secret.
    await api.call("POST", f"/conversations/{group}/members", ana, json={"userId": carl.id})
    assert (await api.call("DELETE", f"/conversations/{group}", ana)).status_code == 204
    for account in (ana, bob, carl):
        events, _ = await api.sync_all(account, resume[account.id])
        text = orjson.dumps(events).decode()
        for gone in ("something I regret", "group secret", "hunter2"):
            assert gone not in text, (gone, account)
        assert account is carl or "fine to keep" in text
    events, _ = await api.sync_all(bob, resume[bob.id])
    replayed = [e for e in events if e.get("message", {}).get("id") == regret["id"]]
    assert [e["type"] for e in replayed] == ["message.created", "message.deleted"]
    assert all(e["message"]["deleted"] and e["message"]["body"] == "" for e in replayed)
    log = orjson.dumps(await api.log_all(bob, direct)).decode()
    assert "fine to keep" in log
    assert "something I regret" not in log and "hunter2" not in log


async def test_a_former_member_never_sees_an_edit_made_after_they_left(api: Api) -> None:
    ana, bob, carl = await api.sign_up(), await api.sign_up(), await api.sign_up()
    group = await api.group(ana, "Edits", bob, carl)
    resume = {a.id: await api.sync_cursor(a) for a in (bob, carl)}
    first = await api.send(ana, group, "the first draft", "draft-1")
    gone = await api.call("DELETE", f"/conversations/{group}/members/{bob.id}", ana)
    assert gone.status_code == 204
    edited = await api.call(
        "PATCH",
        f"/conversations/{group}/messages/{first['id']}",
        ana,
        json={"body": "written after bob left"},
    )
    assert edited.status_code == 200
    bob_events, _ = await api.sync_all(bob, resume[bob.id])
    # A former member's replay of the group is their removal, nothing else.
    assert [(e["type"], e["userId"]) for e in bob_events] == [("member.removed", bob.id)]
    assert "written after bob left" not in orjson.dumps(bob_events).decode()
    carl_events, _ = await api.sync_all(carl, resume[carl.id])
    carl_text = orjson.dumps(carl_events).decode()
    assert "the first draft" not in carl_text and "written after bob left" in carl_text
