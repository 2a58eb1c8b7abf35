/**
 * The conversation list (and one conversation's own query) have the same first-load race as a
 * chat's history: events applied while the first fetch is in flight must survive the older
 * response. The queries use the app's key and structural sharing; the fetch is held until the
 * test answers it.
 */
import { QueryClient, QueryObserver } from '@tanstack/react-query'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ana, bob, conv, msg } from '@/test/fixtures'
import { applyEvent, mergeConversationLists } from './cache'
import { keys } from './query-keys'
import type { Conversation, DurableEvent } from './types'

function held<T>() {
  let answer!: (value: T) => void
  const calls: number[] = []
  const queryFn = () => {
    calls.push(calls.length)
    return new Promise<T>((resolve) => {
      answer = resolve
    })
  }
  return { queryFn, calls, answer: (v: T) => answer(v) }
}

async function until(what: string, ok: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(ok(), what).toBe(true), { timeout: 10_000, interval: 5 })
}

/** The list query as the app declares it, over a held fetch. */
function listObserver(qc: QueryClient, queryFn: () => Promise<Conversation[]>) {
  return new QueryObserver(qc, { queryKey: keys.conversations, queryFn, staleTime: Infinity, retry: false, structuralSharing: mergeConversationLists })
}

describe('the conversation list while its first fetch is in flight', () => {
  let qc: QueryClient
  let list: ReturnType<typeof held<Conversation[]>>
  let observer: ReturnType<typeof listObserver>
  let close: () => void
  const shown = () => observer.getCurrentResult().data ?? []
  const apply = (event: DurableEvent) => applyEvent(qc, event, ana.id)

  beforeEach(async () => {
    qc = new QueryClient()
    list = held<Conversation[]>()
    observer = listObserver(qc, list.queryFn)
    close = observer.subscribe(() => {})
    await until('the list request was sent', () => list.calls.length === 1)
  })
  afterEach(() => {
    close()
    qc.clear()
  })

  it('keeps the preview and unread count of a message received meanwhile', async () => {
    apply({ type: 'message.created', message: msg(3), cursor: 'k3' })
    list.answer([conv({ lastSeq: 2, lastMessage: msg(2), unreadCount: 2 })])
    await until('the list landed', () => observer.getCurrentResult().isSuccess)
    expect(shown()[0]).toMatchObject({ id: 'c1', lastSeq: 3, unreadCount: 3 })
    expect(shown()[0].lastMessage?.body).toBe('message 3')
  })

  it('keeps our own message as the preview and does not count it unread', async () => {
    apply({ type: 'message.created', message: msg(1, { senderId: ana.id, body: 'mine' }), cursor: 'k1' })
    list.answer([conv()])
    await until('the list landed', () => observer.getCurrentResult().isSuccess)
    expect(shown()[0]).toMatchObject({ lastSeq: 1, unreadCount: 0, readSeq: 1 })
    expect(shown()[0].lastMessage?.body).toBe('mine')
  })

  it('keeps a conversation created meanwhile, a rename and a read marker', async () => {
    const fresh = conv({ id: 'c7', kind: 'group', title: 'New', ownerId: bob.id, createdAt: '2026-01-03T00:00:00.000Z', updatedAt: '2026-01-03T00:00:00.000Z' })
    apply({ type: 'conversation.created', conversation: fresh, cursor: 'k1' })
    apply({ type: 'conversation.updated', conversationId: 'g1', userId: bob.id, changes: { title: 'Renamed', updatedAt: '2026-01-02T00:00:00.000Z' }, cursor: 'k2' })
    apply({ type: 'read', conversationId: 'c1', userId: ana.id, seq: 2, cursor: 'k3' })
    list.answer([conv({ lastSeq: 2, unreadCount: 2, lastMessage: msg(2) }), conv({ id: 'g1', kind: 'group', title: 'Old', ownerId: ana.id })])
    await until('the list landed', () => observer.getCurrentResult().isSuccess)
    expect(shown().map((c) => c.id).sort()).toEqual(['c1', 'c7', 'g1'])
    expect(shown().find((c) => c.id === 'g1')?.title).toBe('Renamed')
    expect(shown().find((c) => c.id === 'c1')).toMatchObject({ readSeq: 2, unreadCount: 0 })
  })

  it('does not bring back a conversation deleted meanwhile', async () => {
    apply({ type: 'conversation.deleted', conversationId: 'g1', cursor: 'k1' })
    list.answer([conv(), conv({ id: 'g1', kind: 'group', title: 'Gone', ownerId: bob.id })])
    await until('the list landed', () => observer.getCurrentResult().isSuccess)
    expect(shown().map((c) => c.id)).toEqual(['c1'])
  })

  it('does not put an older rename over a response that is already past it', async () => {
    apply({ type: 'conversation.updated', conversationId: 'g1', userId: bob.id, changes: { title: 'Second', updatedAt: '2026-01-02T00:00:00.000Z' }, cursor: 'g1:e7', eventSeq: 7 })
    list.answer([conv({ id: 'g1', kind: 'group', title: 'Third', ownerId: ana.id, lastEventSeq: 8 })])
    await until('the list landed', () => observer.getCurrentResult().isSuccess)
    expect(shown()[0]).toMatchObject({ title: 'Third', lastEventSeq: 8 })
  })

  it('applies an event once even when the response already includes it', async () => {
    apply({ type: 'message.created', message: msg(2), cursor: 'k2' })
    list.answer([conv({ lastSeq: 2, lastMessage: msg(2), unreadCount: 2 })])
    await until('the list landed', () => observer.getCurrentResult().isSuccess)
    expect(shown()).toHaveLength(1)
    expect(shown()[0]).toMatchObject({ lastSeq: 2, unreadCount: 2 })
  })
})

describe('one conversation fetched on its own while an event arrives', () => {
  it('keeps a rename applied while its first fetch was in flight', async () => {
    const qc = new QueryClient()
    const one = held<Conversation>()
    const observer = new QueryObserver(qc, { queryKey: keys.conversation('g1'), queryFn: one.queryFn, staleTime: Infinity, retry: false })
    const close = observer.subscribe(() => {})
    await until('the request was sent', () => one.calls.length === 1)
    applyEvent(qc, { type: 'conversation.updated', conversationId: 'g1', userId: bob.id, changes: { title: 'Renamed', updatedAt: '2026-01-02T00:00:00.000Z' }, cursor: 'k2' }, ana.id)
    one.answer(conv({ id: 'g1', kind: 'group', title: 'Old', ownerId: ana.id }))
    await until('it landed', () => observer.getCurrentResult().isSuccess)
    expect(observer.getCurrentResult().data?.title).toBe('Renamed')
    close()
    qc.clear()
  })
})
