import { describe, expect, it } from 'vitest'
import type { Message } from '@/lib/types'
import { type Item, withNotices } from './grouping'

function msg(seq: number, createdAt: string): Item {
  const message = { id: `m${seq}`, conversationId: 'g', seq, senderId: 'ana', body: `m${seq}`, clientMessageId: null, createdAt, editedAt: null, deleted: false } as unknown as Message
  return { kind: 'message', message, key: message.id }
}
const notice = (key: string, at: string) => ({ key, at, text: key })
const order = (items: Item[]) => items.map((i) => i.key)

describe('notices among messages', () => {
  const messages = [msg(1, '2026-01-01T10:01:00Z'), msg(2, '2026-01-01T10:03:00Z')]

  it('go where they happened, by time', () => {
    const notices = [notice('created', '2026-01-01T10:00:00Z'), notice('renamed', '2026-01-01T10:02:00Z'), notice('left', '2026-01-01T10:04:00Z')]
    expect(order(withNotices(messages, notices, true))).toEqual(['created', 'm1', 'renamed', 'm2', 'left'])
  })

  it('wait for older history before showing what happened before it', () => {
    const notices = [notice('created', '2026-01-01T10:00:00Z'), notice('renamed', '2026-01-01T10:02:00Z')]
    expect(order(withNotices(messages, notices, false))).toEqual(['m1', 'renamed', 'm2'])
  })
})
