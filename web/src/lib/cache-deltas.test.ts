import { QueryClient } from '@tanstack/react-query'
import { beforeEach, describe, expect, it } from 'vitest'
import { ana, bob, conv } from '@/test/fixtures'
import { applyEvent } from './cache'
import { keys } from './query-keys'
import type { Conversation, DurableEvent, User } from './types'

const carl: User = { id: 'u-carl', username: 'carl', displayName: 'Carl Reyes', createdAt: '2026-01-01T00:00:00.000Z', avatarUrl: null }
const group = (over: Partial<Conversation> = {}) =>
  conv({ id: 'g1', kind: 'group', title: 'Start', ownerId: ana.id, lastSeq: 4, updatedAt: '2026-01-02T00:00:00.000Z', ...over })

describe('conversation events carry what changed', () => {
  let qc: QueryClient
  beforeEach(() => {
    qc = new QueryClient()
    qc.setQueryData<Conversation[]>(keys.conversations, [group(), conv()])
    qc.setQueryData<Conversation>(keys.conversation('g1'), group())
  })
  const held = () => qc.getQueryData<Conversation[]>(keys.conversations)!.find((c) => c.id === 'g1')!
  const detail = () => qc.getQueryData<Conversation>(keys.conversation('g1'))!
  const apply = (event: DurableEvent) => applyEvent(qc, event, bob.id)

  it('a rename merges the new title into the list and the open conversation, once or twice', () => {
    const renamed: DurableEvent = {
      type: 'conversation.updated',
      conversationId: 'g1',
      userId: ana.id,
      changes: { title: 'Second', updatedAt: '2026-01-03T00:00:00.000Z' },
      cursor: 'k1',
    }
    apply(renamed)
    apply(renamed)
    for (const c of [held(), detail()]) {
      expect(c).toEqual(group({ title: 'Second', updatedAt: '2026-01-03T00:00:00.000Z' }))
    }
    expect(qc.getQueryData<Conversation[]>(keys.conversations)![0].id).toBe('g1') // most recent first
  })

  it('a newcomer is appended with their profile and read marker, once', () => {
    const added: DurableEvent = {
      type: 'member.added',
      conversationId: 'g1',
      userId: carl.id,
      member: carl,
      role: 'member',
      readSeq: 4,
      updatedAt: '2026-01-03T00:00:00.000Z',
      cursor: 'k1',
    }
    apply(added)
    apply(added)
    expect(held().members).toEqual([ana, bob, carl])
    expect(held().memberReadSeqs).toEqual({ [ana.id]: 0, [bob.id]: 0, [carl.id]: 4 })
    expect(detail().members.map((m) => m.id)).toEqual([ana.id, bob.id, carl.id])
    expect(held().updatedAt).toBe('2026-01-03T00:00:00.000Z')
    expect(held().unreadCount).toBe(0) // ours is untouched
  })

  it('we, the newcomer, get the whole conversation and add it to the list', () => {
    qc.setQueryData<Conversation[]>(keys.conversations, [conv()])
    const shared = group({ members: [ana, bob, carl], memberReadSeqs: { [ana.id]: 4, [bob.id]: 4, [carl.id]: 4 } })
    applyEvent(qc, { type: 'member.added', conversationId: 'g1', userId: carl.id, member: carl, role: 'member', readSeq: 4, conversation: shared, cursor: 'k1' }, carl.id)
    const mine = qc.getQueryData<Conversation[]>(keys.conversations)!.find((c) => c.id === 'g1')!
    expect(mine.members).toEqual([ana, bob, carl])
    expect(mine).toMatchObject({ readSeq: 4, unreadCount: 0, title: 'Start' })
  })

  it('the owner leaving drops them and names the new owner', () => {
    const left: DurableEvent = { type: 'member.removed', conversationId: 'g1', userId: ana.id, ownerId: bob.id, updatedAt: '2026-01-04T00:00:00.000Z', cursor: 'k1' }
    apply(left)
    apply(left)
    for (const c of [held(), detail()]) {
      expect(c).toEqual(group({ members: [bob], memberReadSeqs: { [bob.id]: 0 }, ownerId: bob.id, updatedAt: '2026-01-04T00:00:00.000Z' }))
    }
  })

  it('events recorded before deltas (whole conversations, no owner) still apply', () => {
    apply({ type: 'conversation.updated', conversation: group({ title: 'Old style' }), cursor: 'k1' })
    expect(held().title).toBe('Old style')
    apply({ type: 'member.added', userId: carl.id, conversation: group({ members: [ana, bob, carl] }), cursor: 'k2' })
    expect(held().members.map((m) => m.id)).toEqual([ana.id, bob.id, carl.id])
    apply({ type: 'member.removed', conversationId: 'g1', userId: carl.id, cursor: 'k3' })
    expect(held()).toMatchObject({ ownerId: ana.id, members: [ana, bob] })
  })

  it('a change to a conversation beyond the loaded page refetches the list', async () => {
    qc.setQueryData<Conversation[]>(keys.conversations, [conv()])
    apply({ type: 'conversation.updated', conversationId: 'g9', userId: ana.id, changes: { title: 'Far', updatedAt: '2026-01-05T00:00:00.000Z' }, cursor: 'k1' })
    expect(qc.getQueryState(keys.conversations)?.isInvalidated).toBe(true)
  })
})
