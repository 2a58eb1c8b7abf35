const sameDay = (a: Date, b: Date) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate()

export function dayKey(iso: string): string {
  const d = new Date(iso)
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`
}

export function formatClock(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' })
}

/** "Today", "Yesterday", a weekday within a week, else a date. */
export function formatDay(iso: string, now = new Date()): string {
  const d = new Date(iso)
  if (sameDay(d, now)) return 'Today'
  const y = new Date(now)
  y.setDate(now.getDate() - 1)
  if (sameDay(d, y)) return 'Yesterday'
  const diff = (now.getTime() - d.getTime()) / 86_400_000
  if (diff < 7) return d.toLocaleDateString(undefined, { weekday: 'long' })
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric' })
}

/** Compact time for the conversation list. */
export function formatListTime(iso: string, now = new Date()): string {
  const d = new Date(iso)
  if (sameDay(d, now)) return formatClock(iso)
  const diff = (now.getTime() - d.getTime()) / 86_400_000
  if (diff < 7) return d.toLocaleDateString(undefined, { weekday: 'short' })
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })
}

/**
 * "last seen …" for someone who is offline, as of `now`: "just now" within a minute, "N
 * minutes ago" within the hour, "today at 14:02", "yesterday", then "on 3 Mar" (with the
 * year when it is not this year's). A time ahead of `now` (clocks disagree) is "just now".
 */
export function lastSeenText(iso: string, now = new Date(), locale?: string): string {
  const seen = new Date(iso)
  const minutes = Math.floor((now.getTime() - seen.getTime()) / 60_000)
  if (minutes < 1) return 'last seen just now'
  if (minutes < 60) return `last seen ${minutes} minute${minutes === 1 ? '' : 's'} ago`
  if (sameDay(seen, now)) {
    return `last seen today at ${seen.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })}`
  }
  const yesterday = new Date(now)
  yesterday.setDate(now.getDate() - 1)
  if (sameDay(seen, yesterday)) return 'last seen yesterday'
  const year = seen.getFullYear() === now.getFullYear() ? undefined : 'numeric'
  return `last seen on ${seen.toLocaleDateString(locale, { day: 'numeric', month: 'short', year })}`
}
