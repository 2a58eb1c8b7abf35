import { QueryClient, QueryObserver } from '@tanstack/react-query'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { ana, bob, conv } from '@/test/fixtures'
import { applyEvent, mergeConversationLists, upsertConversation } from './cache'
import { keys } from './query-keys'
import type { Conversation, Me, User } from './types'

const group = (over: Partial<Conversation> = {}) => conv({ id: 'g1', kind: 'group', title: 'Club', lastEventSeq: 3, ...over })
const renamedAna: User = { ...ana, displayName: 'Ana Renamed', lastSeenAt: null }

describe('people change everywhere they show', () => {
  let qc: QueryClient
  beforeEach(() => {
    qc = new QueryClient()
    qc.setQueryData<Conversation[]>(keys.conversations, [group(), conv()])
    qc.setQueryData<Conversation>(keys.conversation('c1'), conv())
    qc.setQueryData<User>(keys.user(ana.id), ana)
    qc.setQueryData<Me>(keys.me, { ...bob, email: 'bob@example.test' })
  })
  const namesOf = (id: string) => [
    ...qc.getQueryData<Conversation[]>(keys.conversations)!.map((c) => c.members.find((m) => m.id === id)?.displayName),
    qc.getQueryData<Conversation>(keys.conversation('c1'))!.members.find((m) => m.id === id)?.displayName,
  ]

  it('user.updated renames a contact in every conversation, their own profile, once or twice', () => {
    applyEvent(qc, { type: 'user.updated', user: renamedAna }, bob.id)
    applyEvent(qc, { type: 'user.updated', user: renamedAna }, bob.id)
    expect(namesOf(ana.id)).toEqual(['Ana Renamed', 'Ana Renamed', 'Ana Renamed'])
    expect(qc.getQueryData<User>(keys.user(ana.id))?.displayName).toBe('Ana Renamed')
    expect(namesOf(bob.id)).toEqual(['Bob Stone', 'Bob Stone', 'Bob Stone'])
    expect(qc.getQueryData<Me>(keys.me)?.displayName).toBe('Bob Stone')
  })

  it('our own rename from another device reaches our profile, keeping the email', () => {
    applyEvent(qc, { type: 'user.updated', user: { ...bob, displayName: 'Robert', lastSeenAt: null } }, bob.id)
    expect(qc.getQueryData<Me>(keys.me)).toEqual({ ...bob, displayName: 'Robert', email: 'bob@example.test' })
    expect(namesOf(bob.id)).toEqual(['Robert', 'Robert', 'Robert'])
  })

  it('going offline sets "last seen" in every view of them, and never moves it back', () => {
    applyEvent(qc, { type: 'presence', userId: ana.id, online: false, lastSeenAt: '2026-03-03T10:00:00.000Z' }, bob.id)
    applyEvent(qc, { type: 'presence', userId: ana.id, online: false, lastSeenAt: '2026-03-03T09:00:00.000Z' }, bob.id)
    const seen = qc.getQueryData<Conversation[]>(keys.conversations)!.map((c) => c.members.find((m) => m.id === ana.id)?.lastSeenAt)
    expect(seen).toEqual(['2026-03-03T10:00:00.000Z', '2026-03-03T10:00:00.000Z'])
    expect(qc.getQueryData<User>(keys.user(ana.id))?.lastSeenAt).toBe('2026-03-03T10:00:00.000Z')
    expect(qc.getQueryData<Record<string, boolean>>(keys.presence)).toEqual({ [ana.id]: false })
  })

  it('a fresh load brings a rename even when the view held is further along in events', () => {
    const held = group({ lastEventSeq: 9, title: 'Newer title' })
    const fetched = group({ lastEventSeq: 7, members: [renamedAna, bob] })
    const [merged] = mergeConversationLists([held], [fetched]) as Conversation[]
    expect(merged.title).toBe('Newer title')
    expect(merged.lastEventSeq).toBe(9)
    expect(merged.members.map((m) => m.displayName)).toEqual(['Ana Renamed', 'Bob Stone'])
    upsertConversation(qc, fetched, bob.id)
    qc.setQueryData<Conversation[]>(keys.conversations, [held])
    upsertConversation(qc, fetched, bob.id)
    const upserted = qc.getQueryData<Conversation[]>(keys.conversations)![0]
    expect([upserted.title, upserted.members[0].displayName]).toEqual(['Newer title', 'Ana Renamed'])
  })

  it('a load already in flight when a rename arrives is made again, so it cannot undo it', async () => {
    const answers: ((list: Conversation[]) => void)[] = []
    const observer = new QueryObserver<Conversation[]>(qc, {
      queryKey: keys.conversations,
      queryFn: () => new Promise<Conversation[]>((resolve) => answers.push(resolve)),
      structuralSharing: mergeConversationLists,
      staleTime: Infinity,
    })
    const stop = observer.subscribe(() => {})
    void observer.refetch()
    await vi.waitFor(() => expect(answers).toHaveLength(1)) // answered before the rename...
    applyEvent(qc, { type: 'user.updated', user: renamedAna }, bob.id)
    answers[0]([group(), conv()]) // ...landing after it
    await vi.waitFor(() => expect(answers).toHaveLength(2))
    answers[1]([group({ members: [renamedAna, bob] }), conv({ members: [renamedAna, bob] })])
    await vi.waitFor(() => expect(qc.isFetching()).toBe(0))
    expect(namesOf(ana.id)).toEqual(['Ana Renamed', 'Ana Renamed', 'Ana Renamed'])
    stop()
  })
})
