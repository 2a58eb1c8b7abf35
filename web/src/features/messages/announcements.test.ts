import { describe, expect, it } from 'vitest'
import type { Message } from '@/lib/types'
import { newArrivals } from './announcements'

const msg = (seq: number, senderId: string, extra: Partial<Message> = {}): Message =>
  ({ id: `m${seq}`, conversationId: 'c1', seq, senderId, body: `text ${seq}`, deleted: false, createdAt: '2026-01-01T00:00:00Z', ...extra }) as Message

describe('newArrivals', () => {
  it('announces nothing from the first load, only records where history ends', () => {
    expect(newArrivals([msg(1, 'bob'), msg(2, 'bob')], 'ana', null)).toEqual({ arrivals: [], highestSeen: 2 })
  })

  it('announces later messages from others, never your own', () => {
    const { arrivals, highestSeen } = newArrivals([msg(1, 'bob'), msg(2, 'bob'), msg(3, 'ana'), msg(4, 'bob')], 'ana', 2)
    expect(arrivals.map((m) => m.seq)).toEqual([4])
    expect(highestSeen).toBe(4)
  })

  it('does not announce an older page of history, an edit or a deletion', () => {
    const older = [msg(1, 'bob'), msg(2, 'bob')]
    expect(newArrivals([...older, msg(3, 'bob'), msg(4, 'bob')], 'ana', 4).arrivals).toEqual([])
    expect(newArrivals([msg(4, 'bob', { body: 'edited' })], 'ana', 4).arrivals).toEqual([])
    expect(newArrivals([msg(5, 'bob', { deleted: true })], 'ana', 4).arrivals).toEqual([])
  })

  it('announces the first message of a chat that had none', () => {
    expect(newArrivals([], 'ana', null).highestSeen).toBe(0)
    expect(newArrivals([msg(1, 'bob')], 'ana', 0).arrivals.map((m) => m.seq)).toEqual([1])
  })
})
