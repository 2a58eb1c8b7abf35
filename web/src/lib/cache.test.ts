import { QueryClient } from '@tanstack/react-query'
import { beforeEach, describe, expect, it } from 'vitest'
import { ana, bob, conv, msg } from '@/test/fixtures'
import { type MessagesData, type OutboxEntry, allMessages, applyEvent, applyMessage, mergeConversationLists, mergeMessage, mergeMessagePages } from './cache'
import { keys } from './query-keys'
import type { Conversation } from './types'

function pages(...pages: { seqs: number[]; hasMore: boolean }[]): MessagesData {
  return {
    pages: pages.map((p) => ({ messages: p.seqs.map((s) => msg(s)), hasMore: p.hasMore })),
    pageParams: pages.map((_, i) => (i === 0 ? null : i)),
  }
}

describe('mergeMessage', () => {
  it('appends a new message to the newest page in seq order', () => {
    const out = mergeMessage(pages({ seqs: [1, 2], hasMore: false }), msg(3))
    expect(allMessages(out).map((m) => m.seq)).toEqual([1, 2, 3])
  })

  it('replaces by id instead of duplicating', () => {
    const data = pages({ seqs: [1, 2], hasMore: false })
    const out = mergeMessage(data, msg(2, { body: 'edited', editedAt: '2026-01-02T00:00:00.000Z' }))
    expect(allMessages(out).map((m) => m.body)).toEqual(['message 1', 'edited'])
  })

  it('matches by clientMessageId and sender when ids differ', () => {
    const data = pages({ seqs: [1], hasMore: false })
    const out = mergeMessage(data, msg(1, { id: 'other-id' }))
    expect(allMessages(out)).toHaveLength(1)
    expect(allMessages(out)[0].id).toBe('other-id')
  })

  it('never moves a deleted or edited message backwards', () => {
    let data = mergeMessage(pages({ seqs: [1], hasMore: false }), msg(1, { deleted: true, body: '' }))
    data = mergeMessage(data, msg(1))
    expect(allMessages(data)[0].deleted).toBe(true)
    let edited = mergeMessage(pages({ seqs: [1], hasMore: false }), msg(1, { body: 'v2', editedAt: '2026-01-02T00:00:00.000Z' }))
    edited = mergeMessage(edited, msg(1))
    expect(allMessages(edited)[0].body).toBe('v2')
  })

  it('leaves messages older than the loaded window to the page that will fetch them', () => {
    const data = pages({ seqs: [50, 51], hasMore: true })
    expect(mergeMessage(data, msg(10))).toBe(data)
  })

  it('does nothing when the conversation is not loaded', () => {
    expect(mergeMessage(undefined, msg(1))).toBeUndefined()
  })
})

describe('applyEvent', () => {
  let qc: QueryClient
  beforeEach(() => {
    qc = new QueryClient()
    qc.setQueryData<Conversation[]>(keys.conversations, [conv(), conv({ id: 'c2', updatedAt: '2026-01-01T00:00:01.000Z' })])
    qc.setQueryData<MessagesData>(keys.messages('c1'), pages({ seqs: [], hasMore: false }))
  })
  const list = () => qc.getQueryData<Conversation[]>(keys.conversations)!
  const loaded = () => allMessages(qc.getQueryData<MessagesData>(keys.messages('c1')))

  it('applies message.created once however often it arrives', () => {
    const event = { type: 'message.created' as const, message: msg(1), cursor: 'k1' }
    applyEvent(qc, event, ana.id)
    applyEvent(qc, event, ana.id)
    expect(loaded()).toHaveLength(1)
    const c1 = list().find((c) => c.id === 'c1')!
    expect(c1.lastSeq).toBe(1)
    expect(c1.unreadCount).toBe(1)
    expect(list()[0].id).toBe('c1') // most recent first
  })

  it('an ack then the echo of the same message leave one copy and an empty outbox', () => {
    const mine = msg(1, { senderId: ana.id, clientMessageId: 'web:abc' })
    qc.setQueryData<OutboxEntry[]>(keys.outbox('c1'), [
      { clientMessageId: 'web:abc', conversationId: 'c1', senderId: ana.id, body: 'hi', createdAt: mine.createdAt, status: 'sending' },
    ])
    applyMessage(qc, mine, ana.id)
    applyEvent(qc, { type: 'message.created', message: mine, cursor: 'k1' }, ana.id)
    expect(loaded()).toHaveLength(1)
    expect(qc.getQueryData(keys.outbox('c1'))).toEqual([])
    expect(list().find((c) => c.id === 'c1')!.unreadCount).toBe(0)
  })

  it('updates and deletes in place', () => {
    applyEvent(qc, { type: 'message.created', message: msg(1), cursor: 'k1' }, ana.id)
    applyEvent(qc, { type: 'message.updated', message: msg(1, { body: 'new', editedAt: '2026-01-03T00:00:00.000Z' }), cursor: 'k2' }, ana.id)
    expect(loaded()[0].body).toBe('new')
    applyEvent(qc, { type: 'message.deleted', message: msg(1, { body: '', deleted: true, editedAt: '2026-01-03T00:00:00.000Z' }), cursor: 'k3' }, ana.id)
    expect(loaded()).toHaveLength(1)
    expect(loaded()[0].deleted).toBe(true)
    expect(list().find((c) => c.id === 'c1')!.lastMessage?.deleted).toBe(true)
  })

  it('read events move member markers forward only and clear our unread count', () => {
    applyEvent(qc, { type: 'message.created', message: msg(1), cursor: 'k1' }, ana.id)
    applyEvent(qc, { type: 'message.created', message: msg(2), cursor: 'k2' }, ana.id)
    applyEvent(qc, { type: 'read', conversationId: 'c1', userId: bob.id, seq: 2, cursor: 'k3' }, ana.id)
    applyEvent(qc, { type: 'read', conversationId: 'c1', userId: bob.id, seq: 1, cursor: 'k4' }, ana.id)
    expect(list().find((c) => c.id === 'c1')!.memberReadSeqs[bob.id]).toBe(2)
    expect(list().find((c) => c.id === 'c1')!.unreadCount).toBe(2)
    applyEvent(qc, { type: 'read', conversationId: 'c1', userId: ana.id, seq: 2, cursor: 'k5' }, ana.id)
    expect(list().find((c) => c.id === 'c1')!.unreadCount).toBe(0)
  })

  it('derives our own unread count from a shared conversation view', () => {
    const shared = conv({ id: 'c3', lastSeq: 5, memberReadSeqs: { [ana.id]: 3, [bob.id]: 5 }, updatedAt: '2026-02-01T00:00:00.000Z' })
    applyEvent(qc, { type: 'conversation.created', conversation: shared, cursor: 'k1' }, ana.id)
    const c3 = list().find((c) => c.id === 'c3')!
    expect(c3.readSeq).toBe(3)
    expect(c3.unreadCount).toBe(2)
    expect(list()[0].id).toBe('c3')
  })

  it('removes a conversation we left or that was deleted', () => {
    applyEvent(qc, { type: 'member.removed', conversationId: 'c2', userId: ana.id, cursor: 'k1' }, ana.id)
    expect(list().map((c) => c.id)).toEqual(['c1'])
    applyEvent(qc, { type: 'member.removed', conversationId: 'c1', userId: bob.id, cursor: 'k2' }, ana.id)
    expect(list()[0].members.map((m) => m.id)).toEqual([ana.id])
    applyEvent(qc, { type: 'conversation.deleted', conversationId: 'c1', cursor: 'k3' }, ana.id)
    expect(list()).toEqual([])
  })

  it('tracks typing with expiry and presence', () => {
    applyEvent(qc, { type: 'typing', conversationId: 'c1', userId: bob.id, isTyping: true }, ana.id)
    const typing = qc.getQueryData<Record<string, number>>(keys.typing('c1'))!
    expect(typing[bob.id]).toBeGreaterThan(Date.now())
    applyEvent(qc, { type: 'message.created', message: msg(1), cursor: 'k1' }, ana.id)
    expect(qc.getQueryData<Record<string, number>>(keys.typing('c1'))).toEqual({})
    applyEvent(qc, { type: 'presence', userId: bob.id, online: true }, ana.id)
    expect(qc.getQueryData(keys.presence)).toEqual({ [bob.id]: true })
  })
})

describe('refetch merging', () => {
  it('a stale conversation list does not undo a newer read marker or message', () => {
    const live = [conv({ lastSeq: 3, readSeq: 3, lastMessage: msg(3), memberReadSeqs: { [ana.id]: 3, [bob.id]: 2 } })]
    const stale = [conv({ lastSeq: 2, readSeq: 0, unreadCount: 2, lastMessage: msg(2), memberReadSeqs: { [ana.id]: 0, [bob.id]: 2 } }), conv({ id: 'c9' })]
    const out = mergeConversationLists(live, stale) as Conversation[]
    const c1 = out.find((c) => c.id === 'c1')!
    expect(c1).toMatchObject({ lastSeq: 3, readSeq: 3, unreadCount: 0 })
    expect(c1.lastMessage?.seq).toBe(3)
    expect(out.map((c) => c.id).sort()).toEqual(['c1', 'c9'])
    expect(mergeConversationLists(live, [])).toEqual([])
  })

  it('a stale page of messages keeps messages that arrived live meanwhile', () => {
    const live = pages({ seqs: [1, 2, 3], hasMore: false })
    const stale = pages({ seqs: [1, 2], hasMore: false })
    expect(allMessages(mergeMessagePages(live, stale) as MessagesData).map((m) => m.seq)).toEqual([1, 2, 3])
  })
})

describe('a whole conversation in an event', () => {
  it('fetches the messages held for it again: a catch-up folds messages into the view', () => {
    const qc = new QueryClient()
    qc.setQueryData(keys.messages('c1'), pages({ seqs: [1, 2], hasMore: false }))
    qc.setQueryData(keys.messages('c2'), pages({ seqs: [1], hasMore: false }))
    applyEvent(qc, { type: 'conversation.created', conversationId: 'c1', eventSeq: 9, cursor: 'c1:j9', conversation: conv({ id: 'c1', lastSeq: 3 }) }, ana.id)
    expect(qc.getQueryState(keys.messages('c1'))?.isInvalidated).toBe(true)
    expect(qc.getQueryState(keys.messages('c2'))?.isInvalidated).toBe(false)
  })
})
