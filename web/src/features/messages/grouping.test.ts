import { describe, expect, it } from 'vitest'
import { ana, bob, msg } from '@/test/fixtures'
import { groupItems } from './grouping'

const item = (seq: number, senderId: string, at: string) => {
  const message = msg(seq, { senderId, createdAt: at })
  return { kind: 'message' as const, message, key: message.id }
}

describe('groupItems', () => {
  it('groups consecutive messages by sender, splits on a new day or a long pause', () => {
    const days = groupItems([
      item(1, bob.id, '2026-03-01T10:00:00'),
      item(2, bob.id, '2026-03-01T10:01:00'),
      item(3, ana.id, '2026-03-01T10:02:00'),
      item(4, ana.id, '2026-03-01T10:30:00'),
      item(5, ana.id, '2026-03-02T09:00:00'),
    ])
    expect(days).toHaveLength(2)
    expect(days[0].groups.map((g) => [g.senderId, g.items.length])).toEqual([
      [bob.id, 2],
      [ana.id, 1],
      [ana.id, 1],
    ])
    expect(days[1].groups).toHaveLength(1)
  })

  it('puts pending messages after confirmed ones from the same sender', () => {
    const pending = {
      kind: 'pending' as const,
      key: 'local:x',
      entry: { clientMessageId: 'x', conversationId: 'c1', senderId: ana.id, body: 'hi', createdAt: '2026-03-01T10:02:30', status: 'sending' as const },
    }
    const days = groupItems([item(3, ana.id, '2026-03-01T10:02:00'), pending])
    expect(days[0].groups).toHaveLength(1)
    expect(days[0].groups[0].items.map((i) => i.key)).toEqual(['m3', 'local:x'])
  })

  it('starts a group at the first message that was unread, skipping our own', () => {
    const days = groupItems(
      [item(1, bob.id, '2026-03-01T10:00:00'), item(2, ana.id, '2026-03-01T10:00:10'), item(3, bob.id, '2026-03-01T10:00:20'), item(4, bob.id, '2026-03-01T10:00:30')],
      1,
      ana.id,
    )
    const groups = days[0].groups
    expect(groups.map((g) => [g.items.map((i) => i.key), !!g.firstUnread])).toEqual([
      [['m1'], false],
      [['m2'], false],
      [['m3', 'm4'], true],
    ])
  })
})
