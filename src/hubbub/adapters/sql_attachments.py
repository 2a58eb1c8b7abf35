"""Attachments' metadata in SQL: one `AttachmentRepository` for SQLite and PostgreSQL
(through `sql_sync.Statements`), and the JSON a message row keeps of what was sent
with it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson

from hubbub.adapters.sql_sync import Row, Statements
from hubbub.domain.models import Attachment

_COLUMNS = (
    "id, conversation_id, uploader_id, file_name, content_type, size, width, height,"
    " has_thumbnail, created_at, message_id"
)


class SqlAttachments:
    def __init__(self, sql: Statements) -> None:
        self._sql = sql

    def _attachment(self, row: Row) -> Attachment:
        return Attachment(
            id=row["id"],
            conversation_id=row["conversation_id"],
            uploader_id=row["uploader_id"],
            file_name=row["file_name"],
            content_type=row["content_type"],
            size=int(row["size"]),
            created_at=self._sql.moment(row["created_at"]),
            width=row["width"],
            height=row["height"],
            has_thumbnail=bool(row["has_thumbnail"]),
            message_id=row["message_id"],
        )

    def insert(self, attachment: Attachment) -> None:
        self._sql.run(
            f"INSERT INTO attachments ({_COLUMNS}) VALUES"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            attachment.id,
            attachment.conversation_id,
            attachment.uploader_id,
            attachment.file_name,
            attachment.content_type,
            attachment.size,
            attachment.width,
            attachment.height,
            attachment.has_thumbnail,
            self._sql.stamp(attachment.created_at),
            attachment.message_id,
        )

    def get(self, conversation_id: str, attachment_id: str) -> Attachment | None:
        row = self._sql.one(
            f"SELECT {_COLUMNS} FROM attachments WHERE id = %s AND conversation_id = %s",
            attachment_id,
            conversation_id,
        )
        return self._attachment(row) if row else None

    def attach(
        self, conversation_id: str, uploader_id: str, attachment_ids: Sequence[str], message_id: str
    ) -> list[Attachment]:
        wanted = list(dict.fromkeys(attachment_ids))
        if not wanted:
            return []
        marks = ", ".join(["%s"] * len(wanted))
        rows = self._sql.all(
            "UPDATE attachments SET message_id = %s WHERE conversation_id = %s"
            f" AND uploader_id = %s AND message_id IS NULL AND id IN ({marks})"
            f" RETURNING {_COLUMNS}",
            message_id,
            conversation_id,
            uploader_id,
            *wanted,
        )
        return [self._attachment(row) for row in rows]

    def detach(self, conversation_id: str, message_id: str) -> list[Attachment]:
        rows = self._sql.all(
            "DELETE FROM attachments WHERE conversation_id = %s AND message_id = %s"
            f" RETURNING {_COLUMNS}",
            conversation_id,
            message_id,
        )
        return [self._attachment(row) for row in rows]

    def of_conversation(self, conversation_id: str) -> list[Attachment]:
        rows = self._sql.all(
            f"SELECT {_COLUMNS} FROM attachments WHERE conversation_id = %s", conversation_id
        )
        return [self._attachment(row) for row in rows]

    def unsent_before(self, moment: datetime, limit: int) -> list[Attachment]:
        rows = self._sql.all(
            f"SELECT {_COLUMNS} FROM attachments WHERE message_id IS NULL AND created_at < %s"
            " ORDER BY created_at, id LIMIT %s",
            self._sql.stamp(moment),
            limit,
        )
        return [self._attachment(row) for row in rows]

    def delete(self, conversation_id: str, attachment_id: str) -> bool:
        deleted = self._sql.run(
            "DELETE FROM attachments WHERE id = %s AND conversation_id = %s AND message_id IS NULL",
            attachment_id,
            conversation_id,
        )
        return deleted > 0


def encode(attachments: Sequence[Attachment]) -> str:
    """What a message row keeps of its attachments (metadata, never bytes)."""
    return orjson.dumps(
        [
            {
                "id": a.id,
                "conversationId": a.conversation_id,
                "uploaderId": a.uploader_id,
                "fileName": a.file_name,
                "contentType": a.content_type,
                "size": a.size,
                "width": a.width,
                "height": a.height,
                "hasThumbnail": a.has_thumbnail,
                "createdAt": a.created_at.isoformat(),
                "messageId": a.message_id,
            }
            for a in attachments
        ]
    ).decode()


def decode(stored: str | None) -> tuple[Attachment, ...]:
    if not stored or stored == "[]":  # most messages: no parse
        return ()
    return tuple(
        Attachment(
            id=item["id"],
            conversation_id=item["conversationId"],
            uploader_id=item["uploaderId"],
            file_name=item["fileName"],
            content_type=item["contentType"],
            size=item["size"],
            created_at=datetime.fromisoformat(item["createdAt"]),
            width=item["width"],
            height=item["height"],
            has_thumbnail=item["hasThumbnail"],
            message_id=item["messageId"],
        )
        for item in orjson.loads(stored)
    )
