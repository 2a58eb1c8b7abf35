import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'
import { noticeOf } from '@/lib/notices'
import { ana, conv } from '@/test/fixtures'
import { applyEvent } from './cache'
import { keys } from './query-keys'
import type { Conversation, DurableEvent } from './types'

describe('a block in a direct chat', () => {
  const blocked = (eventSeq: number, changes: { blocked: boolean; canSend: boolean }): DurableEvent => ({
    type: 'conversation.updated',
    conversationId: 'c1',
    userId: ana.id,
    changes,
    eventSeq,
    cursor: `c1:e${eventSeq}`,
  })

  it('sets our own blocked and canSend in the list and the open chat, and a stale replay does not undo an unblock', () => {
    const qc = new QueryClient()
    qc.setQueryData<Conversation[]>(keys.conversations, [conv({ lastEventSeq: 1 })])
    qc.setQueryData<Conversation>(keys.conversation('c1'), conv({ lastEventSeq: 1 }))
    applyEvent(qc, blocked(2, { blocked: true, canSend: false }), ana.id)
    for (const c of [qc.getQueryData<Conversation[]>(keys.conversations)![0], qc.getQueryData<Conversation>(keys.conversation('c1'))!]) {
      expect([c.blocked, c.canSend]).toEqual([true, false])
      expect(c.updatedAt).toBe('2026-01-01T00:00:00.000Z') // a block does not move the chat up
    }
    applyEvent(qc, blocked(3, { blocked: false, canSend: true }), ana.id)
    applyEvent(qc, blocked(2, { blocked: true, canSend: false }), ana.id) // replayed late
    const now = qc.getQueryData<Conversation>(keys.conversation('c1'))!
    expect([now.blocked, now.canSend]).toEqual([false, true])
  })

  it('makes no timeline notice (it is not a rename)', () => {
    expect(noticeOf(blocked(2, { blocked: false, canSend: false }))).toBeNull()
  })
})
