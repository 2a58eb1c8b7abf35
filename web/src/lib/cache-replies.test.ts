import { QueryClient } from '@tanstack/react-query'
import { beforeEach, describe, expect, it } from 'vitest'
import { ana, bob, conv, msg } from '@/test/fixtures'
import { type MessagesData, allMessages, applyEvent, mergeMessagePages, quoteOf } from './cache'
import { keys } from './query-keys'
import type { Conversation, DurableEvent } from './types'

describe('replies and reactions in the cache', () => {
  let qc: QueryClient
  const original = msg(1, { senderId: ana.id, body: 'lunch at noon?' })
  const reply = msg(2, { replyTo: quoteOf(original), body: 'yes!' })
  beforeEach(() => {
    qc = new QueryClient()
    // As the app's message query has it: every write goes through this merge.
    qc.setQueryDefaults(keys.messages('c1'), { structuralSharing: mergeMessagePages })
    qc.setQueryData<Conversation[]>(keys.conversations, [conv({ lastSeq: 2, lastMessage: reply, lastEventSeq: 3 })])
    qc.setQueryData<MessagesData>(keys.messages('c1'), { pages: [{ messages: [original, reply], hasMore: false }], pageParams: [null] })
  })
  const loaded = () => allMessages(qc.getQueryData<MessagesData>(keys.messages('c1')))
  const preview = () => qc.getQueryData<Conversation[]>(keys.conversations)![0]

  it('a quote follows an edit of the original, then says deleted with no text', () => {
    const edited = { ...original, body: 'lunch at one?', editedAt: '2026-01-02T00:00:00.000Z' }
    applyEvent(qc, { type: 'message.updated', message: edited, conversationId: 'c1', eventSeq: 4, cursor: 'c1:e4' }, bob.id)
    expect(loaded()[1].replyTo).toEqual({ id: original.id, senderId: ana.id, excerpt: 'lunch at one?', deleted: false })
    expect(preview().lastMessage?.replyTo?.excerpt).toBe('lunch at one?')

    const gone = { ...original, body: '', deleted: true, editedAt: '2026-01-03T00:00:00.000Z' }
    applyEvent(qc, { type: 'message.deleted', message: gone, conversationId: 'c1', eventSeq: 5, cursor: 'c1:e5' }, bob.id)
    expect(loaded()[1].replyTo).toEqual({ id: original.id, senderId: ana.id, excerpt: '', deleted: true })
    // A late copy of the edit does not bring the text back into the quote.
    applyEvent(qc, { type: 'message.updated', message: edited, conversationId: 'c1', eventSeq: 4, cursor: 'c1:e4' }, bob.id)
    expect(loaded()[1].replyTo?.deleted).toBe(true)
    expect(JSON.stringify(loaded())).not.toContain('lunch')
  })

  it('a quote is cut like the server cuts it, counting code points', () => {
    const long = { ...original, body: '😀'.repeat(250), editedAt: '2026-01-02T00:00:00.000Z' }
    applyEvent(qc, { type: 'message.updated', message: long, conversationId: 'c1', eventSeq: 4, cursor: 'c1:e4' }, bob.id)
    expect(Array.from(loaded()[1].replyTo!.excerpt)).toHaveLength(200)
  })

  it('reaction events set the message reactions, however often or late they arrive', () => {
    const added: DurableEvent = {
      type: 'reaction.added',
      conversationId: 'c1',
      messageId: reply.id,
      userId: ana.id,
      emoji: '👍',
      reactions: [{ emoji: '👍', count: 1, userIds: [ana.id] }],
      eventSeq: 4,
      cursor: 'c1:e4',
    }
    applyEvent(qc, added, bob.id)
    applyEvent(qc, added, bob.id)
    expect(loaded()[1].reactions).toEqual([{ emoji: '👍', count: 1, userIds: [ana.id] }])
    expect(loaded()[0].reactions).toEqual([])
    expect(preview().lastMessage?.reactions).toEqual([{ emoji: '👍', count: 1, userIds: [ana.id] }])
    expect(preview().lastEventSeq).toBe(4)
    applyEvent(qc, { ...added, type: 'reaction.removed', reactions: [], eventSeq: 5, cursor: 'c1:e5' }, bob.id)
    expect(loaded()[1].reactions).toEqual([])
    expect(preview().lastEventSeq).toBe(5)
  })

  it('a deleted message keeps no reactions', () => {
    const gone = { ...reply, body: '', deleted: true, replyTo: null, editedAt: '2026-01-03T00:00:00.000Z' }
    applyEvent(qc, { type: 'message.deleted', message: gone, conversationId: 'c1', eventSeq: 4, cursor: 'c1:e4' }, bob.id)
    const late: DurableEvent = {
      type: 'reaction.added',
      conversationId: 'c1',
      messageId: reply.id,
      userId: ana.id,
      emoji: '❤️',
      reactions: [{ emoji: '❤️', count: 1, userIds: [ana.id] }],
      eventSeq: 3,
      cursor: 'c1:e3',
    }
    applyEvent(qc, late, bob.id)
    expect(loaded()[1]).toMatchObject({ deleted: true, reactions: [] })
  })
})
