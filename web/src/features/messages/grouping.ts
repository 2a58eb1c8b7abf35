import type { OutboxEntry } from '@/lib/cache'
import { dayKey, formatDay } from '@/lib/time'
import type { Message } from '@/lib/types'

export type Item =
  | { kind: 'message'; message: Message; key: string }
  | { kind: 'pending'; entry: OutboxEntry; key: string }
  | { kind: 'notice'; notice: Notice; key: string }

/** A line in the timeline that no one sent ("Ana added Bob"), at the time it happened. */
export interface Notice {
  key: string
  at: string
  text: string
}

/**
 * `notices` placed among `messages` (in seq order) by time. With older history still to load
 * (`complete` false), notices older than the oldest loaded message wait for it.
 */
export function withNotices(messages: Item[], notices: Notice[], complete: boolean): Item[] {
  const oldest = messages.length ? Date.parse(timeOf(messages[0])) : undefined
  const shown = notices.filter((n) => complete || (oldest !== undefined && Date.parse(n.at) >= oldest))
  const out: Item[] = []
  let i = 0
  for (const item of messages) {
    while (i < shown.length && Date.parse(shown[i].at) <= Date.parse(timeOf(item))) out.push(noticeItem(shown[i++]))
    out.push(item)
  }
  while (i < shown.length) out.push(noticeItem(shown[i++]))
  return out
}

function noticeItem(notice: Notice): Item {
  return { kind: 'notice', notice, key: notice.key }
}

export interface Group {
  senderId: string
  /** The first group of messages that were unread when the conversation was opened. */
  firstUnread?: boolean
  day: string
  items: Item[]
}

const GROUP_GAP_MS = 5 * 60_000

function timeOf(item: Item): string {
  return item.kind === 'message' ? item.message.createdAt : item.kind === 'pending' ? item.entry.createdAt : item.notice.at
}
function senderOf(item: Item): string {
  return item.kind === 'message' ? item.message.senderId : item.kind === 'pending' ? item.entry.senderId : ''
}

/** Group consecutive items by sender and day (a gap over 5 minutes starts a new group). */
export function groupItems(items: Item[], unreadAfter?: number, meId?: string): { day: string; label: string; groups: Group[] }[] {
  const days: { day: string; label: string; groups: Group[] }[] = []
  let prev: Item | undefined
  let marked = unreadAfter === undefined
  for (const item of items) {
    const firstUnread = !marked && item.kind === 'message' && item.message.seq > unreadAfter! && item.message.senderId !== meId
    if (firstUnread) marked = true
    const day = dayKey(timeOf(item))
    let d = days[days.length - 1]
    if (!d || d.day !== day) {
      d = { day, label: formatDay(timeOf(item)), groups: [] }
      days.push(d)
      prev = undefined
    }
    const g = d.groups[d.groups.length - 1]
    if (firstUnread) d.groups.push({ senderId: senderOf(item), day, items: [item], firstUnread: true })
    else if (g && prev && senderOf(prev) === senderOf(item) && Date.parse(timeOf(item)) - Date.parse(timeOf(prev)) < GROUP_GAP_MS) g.items.push(item)
    else d.groups.push({ senderId: senderOf(item), day, items: [item] })
    prev = item
  }
  return days
}

