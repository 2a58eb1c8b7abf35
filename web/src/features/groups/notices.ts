import type { GroupNotice } from '@/lib/notices'

/** A person's name in a notice: "You" for the user, else their display name. */
export type NameOf = (userId: string | undefined) => string

/** One notice as a sentence ("Ana renamed the group to Trips"). */
export function noticeText(n: GroupNotice, nameOf: NameOf, meId: string): string {
  const actor = n.actorId === meId ? 'You' : nameOf(n.actorId)
  const subject = n.subjectId === meId ? 'you' : nameOf(n.subjectId)
  switch (n.kind) {
    case 'created':
      return `${actor} created the group`
    case 'renamed':
      return n.title ? `${actor} renamed the group to ${n.title}` : `${actor} renamed the group`
    case 'added':
      return `${actor} added ${subject}`
    case 'removed':
      return `${actor} removed ${subject}`
    case 'left':
      return `${n.subjectId === meId ? 'You' : nameOf(n.subjectId)} left`
  }
}

/**
 * Notices from a conversation's whole log as /events replays it. A replay shows each rename
 * with the title as it is now (the log keeps no old titles), so only the newest rename keeps
 * its title ("renamed the group to …"); the older ones just say the group was renamed.
 */
export function replayedNotices(notices: GroupNotice[]): GroupNotice[] {
  const lastRename = notices.reduce((last, n) => (n.kind === 'renamed' ? n.eventSeq : last), 0)
  return notices.map((n) => (n.kind === 'renamed' && n.eventSeq !== lastRename ? { ...n, title: undefined } : n))
}

/** "1 member", "2 members". */
export function memberCount(n: number): string {
  return `${n} ${n === 1 ? 'member' : 'members'}`
}
