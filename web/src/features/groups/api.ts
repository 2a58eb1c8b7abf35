import { useQueries, useQuery } from '@tanstack/react-query'
import { useMemo } from 'react'
import { api } from '@/lib/http'
import { type Departure, type GroupNotice, mergeNotices, noticeOf } from '@/lib/notices'
import { keys } from '@/lib/query-keys'
import { fetchUser } from '@/lib/users'
import type { Conversation, EventsPage } from '@/lib/types'
import { noticeText, replayedNotices } from './notices'

/** Every page of a conversation's log, kept as its notices (messages are dropped). */
export async function fetchNotices(conversationId: string): Promise<GroupNotice[]> {
  let notices: GroupNotice[] = []
  let after = 0
  for (let i = 0; i < 40; i++) {
    const params = new URLSearchParams({ after: String(after), limit: '500' })
    const page = await api<EventsPage>(`/api/conversations/${encodeURIComponent(conversationId)}/events?${params}`)
    notices = mergeNotices(notices, page.events.map(noticeOf).filter((n): n is GroupNotice => n !== null))
    const last = page.events.reduce((seq, e) => Math.max(seq, 'eventSeq' in e ? (e.eventSeq ?? 0) : 0), after)
    if (!page.hasMore || last <= after) break
    after = last
  }
  return replayedNotices(notices)
}

export interface TimelineNotice {
  key: string
  at: string
  text: string
}

/** A group's changes as timeline notices, live; names of people no longer in it are fetched. */
export function useGroupNotices(conversation: Conversation | undefined, meId: string): TimelineNotice[] {
  const id = conversation?.id ?? ''
  const members = conversation?.members
  const { data } = useQuery({
    queryKey: keys.notices(id),
    queryFn: () => fetchNotices(id),
    enabled: conversation?.kind === 'group',
    staleTime: Infinity,
  })
  const notices = useMemo(() => data ?? [], [data])
  const known = useMemo(() => {
    const map = new Map<string, string>()
    for (const n of notices) if (n.subject) map.set(n.subject.id, n.subject.displayName)
    for (const m of members ?? []) map.set(m.id, m.displayName)
    return map
  }, [notices, members])
  const unknown = [...new Set(notices.flatMap((n) => [n.actorId, n.subjectId]))].filter((id): id is string => !!id && !known.has(id))
  const fetched = useQueries({ queries: unknown.map((id) => ({ queryKey: keys.user(id), queryFn: () => fetchUser(id), staleTime: Infinity })) })
  // A stable key for what the fetches found (useQueries gives a new array every render).
  const fetchedNames = JSON.stringify(fetched.flatMap((q) => (q.data ? [[q.data.id, q.data.displayName]] : [])))
  const isGroup = conversation?.kind === 'group'
  return useMemo(() => {
    if (!isGroup) return []
    const names = new Map([...known, ...(JSON.parse(fetchedNames) as [string, string][])])
    const nameOf = (id: string | undefined) => (id && names.get(id)) || 'Someone'
    return notices.map((n) => ({ key: `notice:${n.eventSeq}`, at: n.at, text: noticeText(n, nameOf, meId) }))
  }, [isGroup, known, fetchedNames, notices, meId])
}

/** Why this chat went away while it was open, if it did. */
export function useDeparture(conversationId: string): Departure | undefined {
  return useQuery<Departure | null>({ queryKey: keys.departure(conversationId), queryFn: () => null, enabled: false }).data ?? undefined
}

export function departureText(d: Departure): string {
  if (d.kind === 'deleted') return 'This group was deleted.'
  if (d.kind === 'left') return 'You left this group.'
  return d.byName ? `You were removed from this group by ${d.byName}.` : 'You were removed from this group.'
}
