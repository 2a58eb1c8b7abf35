/**
 * Conversation views carry `lastEventSeq` and events their `eventSeq`: a view further along
 * keeps what it has against older events and older views, whatever order they come in.
 */
import { QueryClient } from '@tanstack/react-query'
import { beforeEach, describe, expect, it } from 'vitest'
import { ana, bob, conv, msg } from '@/test/fixtures'
import { type MessagesData, allMessages, applyEvent, heldEventSeq, mergeConversationLists, upsertConversation } from './cache'
import { keys } from './query-keys'
import type { Conversation, DurableEvent, User } from './types'

const carl: User = { id: 'u-carl', username: 'carl', displayName: 'Carl Reyes', createdAt: '2026-01-01T00:00:00.000Z', avatarUrl: null }
const group = (over: Partial<Conversation> = {}) =>
  conv({ id: 'g1', kind: 'group', title: 'Start', ownerId: ana.id, lastEventSeq: 5, updatedAt: '2026-01-02T00:00:00.000Z', ...over })
const rename = (title: string, eventSeq: number): DurableEvent => ({
  type: 'conversation.updated',
  conversationId: 'g1',
  userId: ana.id,
  changes: { title, updatedAt: `2026-01-0${Math.min(eventSeq, 9)}T00:00:00.000Z` },
  cursor: `g1:e${eventSeq}`,
  eventSeq,
})

describe('events against the view we hold', () => {
  let qc: QueryClient
  beforeEach(() => {
    qc = new QueryClient()
    qc.setQueryData<Conversation[]>(keys.conversations, [group({ title: 'Fifth' })])
    qc.setQueryData<Conversation>(keys.conversation('g1'), group({ title: 'Fifth' }))
  })
  const held = () => qc.getQueryData<Conversation[]>(keys.conversations)!.find((c) => c.id === 'g1')!
  const detail = () => qc.getQueryData<Conversation>(keys.conversation('g1'))!
  const apply = (event: DurableEvent) => applyEvent(qc, event, bob.id)

  it('a rename the view already has changes nothing; a newer one applies and moves the view on', () => {
    apply(rename('Fourth', 4))
    apply(rename('Fifth again', 5))
    expect(held()).toMatchObject({ title: 'Fifth', lastEventSeq: 5 })
    apply(rename('Sixth', 6))
    for (const c of [held(), detail()]) expect(c).toMatchObject({ title: 'Sixth', lastEventSeq: 6 })
  })

  it('old member events do not undo the membership the view has', () => {
    apply({ type: 'member.added', conversationId: 'g1', userId: carl.id, member: carl, role: 'member', readSeq: 0, cursor: 'g1:e4', eventSeq: 4 })
    expect(held().members.map((m) => m.id)).toEqual([ana.id, bob.id])
    apply({ type: 'member.removed', conversationId: 'g1', userId: ana.id, ownerId: bob.id, cursor: 'g1:e3', eventSeq: 3 })
    expect(held().members.map((m) => m.id)).toEqual([ana.id, bob.id])
  })

  it('a message event is applied even when the view is further along, and only moves the view forward', () => {
    qc.setQueryData<MessagesData>(keys.messages('g1'), { pages: [{ messages: [msg(1, { conversationId: 'g1' })], hasMore: false }], pageParams: [null] })
    // The list was fetched after message 2, but the open chat's pages were fetched before it.
    apply({ type: 'message.created', message: msg(2, { conversationId: 'g1' }), cursor: 'g1:e4', conversationId: 'g1', eventSeq: 4 })
    expect(allMessages(qc.getQueryData<MessagesData>(keys.messages('g1'))).map((m) => m.seq)).toEqual([1, 2])
    expect(held().lastEventSeq).toBe(5)
    apply({ type: 'message.created', message: msg(3, { conversationId: 'g1' }), cursor: 'g1:e6', conversationId: 'g1', eventSeq: 6 })
    expect(held()).toMatchObject({ lastEventSeq: 6, lastSeq: 3 })
  })

  it('a whole view older than ours does not replace it, but its newer read markers count', () => {
    upsertConversation(qc, group({ title: 'Third', lastEventSeq: 3, memberReadSeqs: { [ana.id]: 2, [bob.id]: 0 } }), bob.id)
    for (const c of [held(), detail()]) expect(c).toMatchObject({ title: 'Fifth', lastEventSeq: 5 })
    expect(held().memberReadSeqs[ana.id]).toBe(2)
    upsertConversation(qc, group({ title: 'Seventh', lastEventSeq: 7 }), bob.id)
    for (const c of [held(), detail()]) expect(c).toMatchObject({ title: 'Seventh', lastEventSeq: 7 })
  })

  it('a whole view in an event is as of that event when it does not say', () => {
    const { lastEventSeq: _none, ...unsequenced } = group({ title: 'Old style' })
    apply({ type: 'conversation.updated', conversation: unsequenced, cursor: 'g1:e4', eventSeq: 4 })
    expect(held().title).toBe('Fifth')
    apply({ type: 'conversation.updated', conversation: unsequenced, cursor: 'g1:e8', eventSeq: 8 })
    expect(held()).toMatchObject({ title: 'Old style', lastEventSeq: 8 })
  })
})

describe('a refetched list against the one we hold', () => {
  it('keeps a live rename the refetch predates, and takes a refetch that is further along', () => {
    const live = [group({ title: 'Renamed', lastEventSeq: 8 })]
    const older = mergeConversationLists(live, [group({ title: 'Old', lastEventSeq: 7 })]) as Conversation[]
    expect(older[0]).toMatchObject({ title: 'Renamed', lastEventSeq: 8 })
    const newer = mergeConversationLists(live, [group({ title: 'Third', lastEventSeq: 9 })]) as Conversation[]
    expect(newer[0]).toMatchObject({ title: 'Third', lastEventSeq: 9 })
  })
})

describe('heldEventSeq', () => {
  it('gives the current view\'s sequence, from the list or the conversation\'s own query, and none while it is refetched', async () => {
    const qc = new QueryClient()
    expect(heldEventSeq(qc, 'g1')).toBeUndefined()
    qc.setQueryData<Conversation[]>(keys.conversations, [group({ lastEventSeq: 5 })])
    qc.setQueryData<Conversation>(keys.conversation('g2'), group({ id: 'g2', lastEventSeq: 9 }))
    expect(heldEventSeq(qc, 'g1')).toBe(5)
    expect(heldEventSeq(qc, 'g2')).toBe(9)
    await qc.invalidateQueries({ queryKey: keys.conversations, refetchType: 'none' })
    expect(heldEventSeq(qc, 'g1')).toBeUndefined()
  })
})
