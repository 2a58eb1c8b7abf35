import type { Conversation, Message, User } from '@/lib/types'

export const ana: User = { id: 'u-ana', username: 'ana', displayName: 'Ana Lima', createdAt: '2026-01-01T00:00:00.000Z', avatarUrl: null }
export const bob: User = { id: 'u-bob', username: 'bob', displayName: 'Bob Stone', createdAt: '2026-01-01T00:00:00.000Z', avatarUrl: null }

export function msg(seq: number, over: Partial<Message> = {}): Message {
  return {
    id: `m${seq}`,
    conversationId: 'c1',
    seq,
    senderId: bob.id,
    body: `message ${seq}`,
    clientMessageId: `cm-${seq}`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, seq)).toISOString(),
    editedAt: null,
    deleted: false,
    replyTo: null,
    reactions: [],
    ...over,
  }
}

export function conv(over: Partial<Conversation> = {}): Conversation {
  return {
    id: 'c1',
    kind: 'direct',
    title: '',
    members: [ana, bob],
    ownerId: null,
    createdBy: ana.id,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastMessage: null,
    lastSeq: 0,
    unreadCount: 0,
    readSeq: 0,
    memberReadSeqs: { [ana.id]: 0, [bob.id]: 0 },
    ...over,
  }
}
