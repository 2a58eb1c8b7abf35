import { describe, expect, it } from 'vitest'
import type { ServerEvent } from '@/lib/types'
import { ana, bob, conv, msg } from '@/test/fixtures'
import { Coalescer, type NotifyContext, notifiable, notificationText, unreadTitle, unreadTotal } from './decide'

const fromBob = (conversationId = 'c1', seq = 1): ServerEvent => ({
  type: 'message.created',
  message: msg(seq, { conversationId, senderId: bob.id }),
  cursor: `${conversationId}:e${seq}`,
})

function context(over: Partial<NotifyContext> = {}): NotifyContext {
  return { meId: ana.id, openConversationId: 'c2', pageSeen: true, permission: 'granted', isMuted: () => false, ...over }
}

describe('notifiable: should this live event notify?', () => {
  it('notifies a message from someone else in a chat that is not open', () => {
    expect(notifiable(fromBob('c1'), context())?.id).toBe('m1')
    expect(notifiable(fromBob('c1'), context({ openConversationId: undefined }))?.id).toBe('m1')
  })

  it('does not notify in the chat on screen, but does when the page is hidden or in the background', () => {
    expect(notifiable(fromBob('c2'), context())).toBeNull()
    expect(notifiable(fromBob('c2'), context({ pageSeen: false }))?.id).toBe('m1')
  })

  it('never for a muted chat, our own messages, without permission, or for anything but a new message', () => {
    expect(notifiable(fromBob('c1'), context({ isMuted: (id) => id === 'c1' }))).toBeNull()
    const mine: ServerEvent = { type: 'message.created', message: msg(1, { senderId: ana.id }), cursor: 'c1:e1' }
    expect(notifiable(mine, context())).toBeNull()
    expect(notifiable(fromBob('c1'), context({ permission: 'default' }))).toBeNull()
    expect(notifiable(fromBob('c1'), context({ permission: 'denied' }))).toBeNull()
    expect(notifiable(fromBob('c1'), context({ permission: 'unsupported' }))).toBeNull()
    const edited: ServerEvent = { type: 'message.updated', message: msg(1), cursor: 'c1:e2' }
    expect(notifiable(edited, context())).toBeNull()
    expect(notifiable({ type: 'typing', conversationId: 'c1', userId: bob.id, isTyping: true }, context())).toBeNull()
  })
})

describe('the tab title', () => {
  it('counts unread messages in the chats that are not muted', () => {
    const list = [conv({ id: 'c1', unreadCount: 2 }), conv({ id: 'c2', unreadCount: 5 }), conv({ id: 'c3', unreadCount: 1 })]
    expect(unreadTotal(list, () => false)).toBe(8)
    expect(unreadTotal(list, (c) => c.id === 'c2')).toBe(3)
    expect(unreadTitle(3)).toBe('(3) Hubbub')
    expect(unreadTitle(0)).toBe('Hubbub')
    expect(unreadTitle(12345)).toBe('(999+) Hubbub')
  })
})

describe('notificationText', () => {
  it('names the chat, and the sender in a group; says how many were gathered', () => {
    expect(notificationText('Bob Stone', 'Bob Stone', [msg(1)], false)).toEqual({ title: 'Bob Stone', body: 'message 1' })
    expect(notificationText('Team', 'Bob Stone', [msg(1), msg(2), msg(3)], true)).toEqual({ title: 'Bob Stone in Team', body: 'message 3\n(+2 more)' })
    expect(notificationText('Bob', 'Bob', [msg(1, { body: 'x'.repeat(500) })], false).body).toHaveLength(140)
  })
})

class ManualTimers {
  private next = 1
  readonly pending = new Map<number, () => void>()
  set = (fn: () => void) => {
    const id = this.next++
    this.pending.set(id, fn)
    return id
  }
  clear = (h: unknown) => void this.pending.delete(h as number)
  runAll() {
    const due = [...this.pending]
    this.pending.clear()
    for (const [, fn] of due) fn()
  }
}

describe('Coalescer: one notification per chat per window, not a flood', () => {
  it('shows the first at once and gathers the rest of a burst into one, per chat', () => {
    const shown: string[] = []
    const timers = new ManualTimers()
    const c = new Coalescer((id, ms) => shown.push(`${id}:${ms.map((m) => m.seq).join(',')}`), 5000, timers)
    c.add(msg(1, { conversationId: 'c1' }))
    c.add(msg(2, { conversationId: 'c1' }))
    c.add(msg(3, { conversationId: 'c1' }))
    c.add(msg(1, { id: 'other-1', conversationId: 'c2' }))
    expect(shown).toEqual(['c1:1', 'c2:1'])
    timers.runAll()
    expect(shown).toEqual(['c1:1', 'c2:1', 'c1:2,3'])
    // The burst went on: a new window was opened, so the next one waits too.
    c.add(msg(4, { conversationId: 'c1' }))
    expect(shown).toHaveLength(3)
    timers.runAll()
    expect(shown.at(-1)).toBe('c1:4')
    // Quiet for a whole window: the next message shows at once again.
    timers.runAll()
    c.add(msg(5, { conversationId: 'c1' }))
    expect(shown.at(-1)).toBe('c1:5')
  })

  it('forgets what waits for a chat that was dropped', () => {
    const shown: number[] = []
    const timers = new ManualTimers()
    const c = new Coalescer((_id, ms) => shown.push(...ms.map((m) => m.seq)), 5000, timers)
    c.add(msg(1))
    c.add(msg(2))
    c.drop('c1')
    timers.runAll()
    expect(shown).toEqual([1])
  })
})
