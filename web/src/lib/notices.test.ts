import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'
import { ana, bob, conv } from '@/test/fixtures'
import { applyEvent } from './cache'
import { type Departure, type GroupNotice, recordGroupEvent } from './notices'
import { keys } from './query-keys'
import type { Conversation, DurableEvent } from './types'

function setup() {
  const qc = new QueryClient()
  const group = conv({ id: 'g1', kind: 'group', title: 'Club', ownerId: ana.id, members: [ana, bob] })
  qc.setQueryData<Conversation[]>(keys.conversations, [group])
  qc.setQueryData<GroupNotice[]>(keys.notices('g1'), [])
  // As the realtime client does: the notice first, then the cache change.
  const live = (event: DurableEvent) => {
    recordGroupEvent(qc, event, bob.id)
    applyEvent(qc, event, bob.id)
  }
  return { qc, live }
}

describe('recordGroupEvent', () => {
  it('names who removed the user, though the conversation is gone after the event', () => {
    const { qc, live } = setup()
    live({ type: 'member.removed', conversationId: 'g1', userId: bob.id, actorId: ana.id, ownerId: ana.id, cursor: 'g1:4', eventSeq: 4 })
    expect(qc.getQueryData<Conversation[]>(keys.conversations)).toEqual([])
    expect(qc.getQueryData<Departure>(keys.departure('g1'))).toEqual({ kind: 'removed', byName: 'Ana Lima' })
  })

  it('adds a live change to the open timeline once, however often it comes', () => {
    const { qc, live } = setup()
    const renamed: DurableEvent = { type: 'conversation.updated', conversationId: 'g1', userId: ana.id, changes: { title: 'Trip', updatedAt: '2026-01-03T00:00:00.000Z' }, cursor: 'g1:3', eventSeq: 3 }
    live(renamed)
    live(renamed)
    expect(qc.getQueryData<GroupNotice[]>(keys.notices('g1'))).toEqual([{ eventSeq: 3, kind: 'renamed', at: '2026-01-03T00:00:00.000Z', actorId: ana.id, title: 'Trip' }])
  })
})
