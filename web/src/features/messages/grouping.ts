import type { OutboxEntry } from '@/lib/cache'
import { dayKey, formatDay } from '@/lib/time'
import type { Message } from '@/lib/types'

export type Item =
  | { kind: 'message'; message: Message; key: string }
  | { kind: 'pending'; entry: OutboxEntry; key: string }

export interface Group {
  senderId: string
  /** The first group of messages that were unread when the conversation was opened. */
  firstUnread?: boolean
  day: string
  items: Item[]
}

const GROUP_GAP_MS = 5 * 60_000

function timeOf(item: Item): string {
  return item.kind === 'message' ? item.message.createdAt : item.entry.createdAt
}
function senderOf(item: Item): string {
  return item.kind === 'message' ? item.message.senderId : item.entry.senderId
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

