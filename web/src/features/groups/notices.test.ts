import { describe, expect, it } from 'vitest'
import { mergeNotices, noticeOf, type GroupNotice } from '@/lib/notices'
import { memberCount, noticeText, replayedNotices } from './notices'

const names: Record<string, string> = { ana: 'Ana Lima', bob: 'Bob Stone' }
const nameOf = (id: string | undefined) => (id && names[id]) || 'Someone'
const at = '2026-01-01T10:00:00.000Z'

describe('group notices', () => {
  it('tell who did what, with "You" for the user', () => {
    const removed = noticeOf({ type: 'member.removed', conversationId: 'g', userId: 'bob', actorId: 'ana', updatedAt: at, cursor: 'g:5', eventSeq: 5 } as never)!
    const left = noticeOf({ type: 'member.removed', conversationId: 'g', userId: 'bob', actorId: 'bob', updatedAt: at, cursor: 'g:6', eventSeq: 6 } as never)!
    expect(noticeText(removed, nameOf, 'me')).toBe('Ana Lima removed Bob Stone')
    expect(noticeText(removed, nameOf, 'ana')).toBe('You removed Bob Stone')
    expect(noticeText(left, nameOf, 'me')).toBe('Bob Stone left')
    expect(noticeText(left, nameOf, 'bob')).toBe('You left')
  })

  it('make no notice of a catch-up view of a group joined later (not the log position 1)', () => {
    const conversation = { id: 'g', kind: 'group', createdBy: 'ana', createdAt: at } as never
    expect(noticeOf({ type: 'conversation.created', conversation, cursor: 'g:j7', eventSeq: 7 })).toBeNull()
    expect(noticeOf({ type: 'conversation.created', conversation, cursor: 'g:1', eventSeq: 1 })?.kind).toBe('created')
  })

  it('name only the newest replayed rename, since a replay shows every rename with the title of today', () => {
    const renames: GroupNotice[] = [2, 4].map((eventSeq) => ({ eventSeq, kind: 'renamed', at, actorId: 'ana', title: 'Now' }))
    expect(replayedNotices(renames).map((n) => noticeText(n, nameOf, 'me'))).toEqual(['Ana Lima renamed the group', 'Ana Lima renamed the group to Now'])
  })

  it('keep one notice per event, a live copy keeping the title of its time', () => {
    const live: GroupNotice = { eventSeq: 3, kind: 'renamed', at, title: 'Then' }
    const replayed: GroupNotice = { eventSeq: 3, kind: 'renamed', at, title: 'Now' }
    expect(mergeNotices([live], [replayed, { eventSeq: 1, kind: 'created', at }])).toEqual([{ eventSeq: 1, kind: 'created', at }, live])
  })

  it('count members in words that agree', () => {
    expect([memberCount(1), memberCount(2)]).toEqual(['1 member', '2 members'])
  })
})
