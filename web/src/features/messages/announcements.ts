import type { Message } from '@/lib/types'

/**
 * Which messages a screen reader should hear about: those from others that arrived after
 * the conversation's history was first on screen. History (the first load and older pages,
 * all at or below the highest seq seen) and your own messages are never news; an edit or a
 * deletion keeps its seq, so it is not news either.
 *
 * `highestSeen` is null until the history has loaded: that call only records where it ends.
 */
export function newArrivals(messages: readonly Message[], meId: string, highestSeen: number | null): { arrivals: Message[]; highestSeen: number } {
  const top = messages.reduce((max, m) => Math.max(max, m.seq), highestSeen ?? 0)
  if (highestSeen === null) return { arrivals: [], highestSeen: top }
  const arrivals = messages.filter((m) => m.seq > highestSeen && m.senderId !== meId && !m.deleted)
  return { arrivals, highestSeen: top }
}
