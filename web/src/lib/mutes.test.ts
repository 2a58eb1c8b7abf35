import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'
import { conv } from '@/test/fixtures'
import { applyEvent } from './cache'
import { isMuted, type Mutes, nextMuteEnd, setMutes } from './mutes'
import { keys } from './query-keys'
import type { Conversation } from './types'

const NOW = Date.parse('2026-05-01T12:00:00.000Z')

describe('isMuted', () => {
  it("goes by the socket's map once it has one, else by the view, and lapses at its end", () => {
    const timed = conv({ id: 'c1', muted: true, mutedUntil: '2026-05-01T13:00:00.000Z' })
    expect(isMuted(timed, undefined, NOW)).toBe(true)
    expect(isMuted(timed, undefined, Date.parse('2026-05-01T13:00:00.000Z'))).toBe(false)
    expect(isMuted(conv({ muted: true, mutedUntil: null }), undefined, NOW)).toBe(true)
    expect(isMuted(conv(), undefined, NOW)).toBe(false)
    // The socket said otherwise: it wins over a view that may be older.
    expect(isMuted(timed, {}, NOW)).toBe(false)
    expect(isMuted(conv({ id: 'c1' }), { c1: null }, NOW)).toBe(true)
  })

  it('knows when the next mute lapses', () => {
    const list = [conv({ id: 'a' }), conv({ id: 'b' }), conv({ id: 'c' })]
    const mutes: Mutes = { a: '2026-05-01T15:00:00.000Z', b: '2026-05-01T13:00:00.000Z', c: null }
    expect(nextMuteEnd(list, mutes, NOW)).toBe(Date.parse('2026-05-01T13:00:00.000Z'))
    expect(nextMuteEnd(list, { c: null }, NOW)).toBe(Infinity)
  })
})

describe('conversation.muted in the cache', () => {
  it('updates the map of mutes and the views, for our other devices', () => {
    const qc = new QueryClient()
    qc.setQueryData<Conversation[]>(keys.conversations, [conv({ id: 'c1' }), conv({ id: 'c2' })])
    setMutes(qc, { c2: null })
    applyEvent(qc, { type: 'conversation.muted', conversationId: 'c1', muted: true, mutedUntil: '2026-05-01T13:00:00.000Z' }, 'u-ana')
    applyEvent(qc, { type: 'conversation.muted', conversationId: 'c2', muted: false, mutedUntil: null }, 'u-ana')
    expect(qc.getQueryData<Mutes>(keys.mutes)).toEqual({ c1: '2026-05-01T13:00:00.000Z' })
    const [c1, c2] = qc.getQueryData<Conversation[]>(keys.conversations) ?? []
    expect([c1.muted, c1.mutedUntil, c2.muted]).toEqual([true, '2026-05-01T13:00:00.000Z', false])
  })
})
