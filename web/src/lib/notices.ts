/**
 * Group changes as the timeline tells them ("Ana added Bob"), and why a chat went away.
 *
 * The changes are the conversation's durable events (`conversation.created`,
 * `conversation.updated`, `member.added`, `member.removed`): after a load they come from the
 * conversation's /events, live from the socket through `recordGroupEvent`, which the realtime
 * client calls before the event is applied (the conversation, with its members' names, is still
 * cached then). Notices are kept by `eventSeq`, so a replayed event and its live copy are one.
 */
import type { QueryClient } from '@tanstack/react-query'
import { updateQuery } from './cache'
import { keys } from './query-keys'
import type { Conversation, DurableEvent, ServerEvent, User } from './types'

export interface GroupNotice {
  eventSeq: number
  kind: 'created' | 'renamed' | 'added' | 'removed' | 'left'
  at: string
  actorId?: string
  subjectId?: string
  /** The newcomer's profile (`added`), so a later removal can still name them. */
  subject?: User
  /** The new title (`renamed`); absent when only the current one is known (a replay). */
  title?: string
}

/** Why a chat the user had open went away. */
export interface Departure {
  kind: 'removed' | 'left' | 'deleted'
  /** Who removed the user, as the conversation named them then. */
  byName?: string
}

/** The notice an event makes, or null for events that make none (messages, receipts). */
export function noticeOf(event: ServerEvent | DurableEvent): GroupNotice | null {
  if (!('eventSeq' in event) || event.eventSeq === undefined) return null
  const eventSeq = event.eventSeq
  switch (event.type) {
    case 'conversation.created':
      // Only the log's first entry is the creation (a catch-up's "you joined" view is not).
      if (event.conversation.kind !== 'group' || eventSeq !== 1) return null
      return { eventSeq, kind: 'created', at: event.conversation.createdAt, actorId: event.conversation.createdBy }
    case 'conversation.updated':
      if (event.changes?.title === undefined && !event.conversation) return null
      return { eventSeq, kind: 'renamed', at: event.changes?.updatedAt ?? event.conversation?.updatedAt ?? '', actorId: event.userId, title: event.changes?.title ?? event.conversation?.title }
    case 'member.added':
      return { eventSeq, kind: 'added', at: event.updatedAt ?? '', actorId: actorOf(event), subjectId: event.userId, subject: event.member }
    case 'member.removed': {
      const actorId = actorOf(event)
      return { eventSeq, kind: actorId === event.userId ? 'left' : 'removed', at: event.updatedAt ?? '', actorId, subjectId: event.userId }
    }
    default:
      return null
  }
}

function actorOf(event: { actorId?: string | null }): string | undefined {
  return event.actorId ?? undefined
}

/** `incoming` added to `held` (once per eventSeq), in event order. */
export function mergeNotices(held: GroupNotice[], incoming: GroupNotice[]): GroupNotice[] {
  const bySeq = new Map(held.map((n) => [n.eventSeq, n]))
  // A live copy knows the title of its time; a replayed one only today's: keep the live one's.
  for (const n of incoming) bySeq.set(n.eventSeq, { ...n, title: bySeq.get(n.eventSeq)?.title ?? n.title })
  return [...bySeq.values()].sort((a, b) => a.eventSeq - b.eventSeq)
}

/** Record a live event's notice, and why the user's chat went away when it did. */
export function recordGroupEvent(qc: QueryClient, event: ServerEvent | DurableEvent, meId: string | undefined): void {
  const conversationId = event.type === 'conversation.created' ? event.conversation.id : 'conversationId' in event ? event.conversationId : undefined
  if (!conversationId) return
  if (event.type === 'conversation.deleted') {
    qc.setQueryData<Departure>(keys.departure(conversationId), { kind: 'deleted' })
    return
  }
  if (event.type === 'member.removed' && event.userId === meId) {
    const actorId = actorOf(event)
    const held = qc.getQueryData<Conversation[]>(keys.conversations)?.find((c) => c.id === conversationId) ?? qc.getQueryData<Conversation>(keys.conversation(conversationId))
    const byName = held?.members.find((m) => m.id === actorId)?.displayName
    qc.setQueryData<Departure>(keys.departure(conversationId), actorId === meId ? { kind: 'left' } : { kind: 'removed', byName })
    return
  }
  if (event.type === 'member.added' && event.userId === meId) qc.removeQueries({ queryKey: keys.departure(conversationId) })
  const notice = noticeOf(event)
  if (notice) updateQuery<GroupNotice[]>(qc, keys.notices(conversationId), (held) => mergeNotices(held, [notice]))
}
