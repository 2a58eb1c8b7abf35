import { QueryClient } from '@tanstack/react-query'
import { beforeEach, describe, expect, it } from 'vitest'
import { type MessagesData, type OutboxEntry, allMessages, applyEvent } from '@/lib/cache'
import { ApiError, NetworkError } from '@/lib/http'
import { isClientMessageId } from '@/lib/ids'
import { keys } from '@/lib/query-keys'
import { RequestError } from '@/lib/realtime'
import { ana, msg } from '@/test/fixtures'
import type { AckFrame, ClientFrame, Message } from '@/lib/types'
import { type SendContext, retryAllFailed, retryMessage, sendMessage } from './send'

/** A fake server: stores by (sender, clientMessageId), like the real one. */
class FakeServer {
  stored = new Map<string, Message>()
  seq = 0
  store(cmid: string, body: string): Message {
    const existing = this.stored.get(cmid)
    if (existing) return existing
    const m = msg(++this.seq, { id: `srv-${this.seq}`, senderId: ana.id, clientMessageId: cmid, body })
    this.stored.set(cmid, m)
    return m
  }
}

type Mode = 'ok' | 'down' | 'reject' | 'lose-ack' | 'blocked'

function harness() {
  const server = new FakeServer()
  const qc = new QueryClient()
  qc.setQueryData<MessagesData>(keys.messages('c1'), { pages: [{ messages: [], hasMore: false }], pageParams: [null] })
  const state = { ws: 'ok' as Mode, rest: 'ok' as Mode, wsOpen: true, frames: [] as ClientFrame[], restCalls: [] as string[] }
  const ctx: SendContext = {
    qc,
    meId: ana.id,
    transport: {
      ws: {
        get isOpen() {
          return state.wsOpen
        },
        async request(frame: ClientFrame): Promise<AckFrame> {
          state.frames.push(frame)
          if (frame.action !== 'sendMessage') throw new Error('unexpected')
          if (state.ws === 'reject') throw new RequestError('validation_error', 'Body is empty')
          if (state.ws === 'blocked') throw new RequestError('blocked', "You can't send messages to this chat.")
          if (state.ws === 'lose-ack') {
            server.store(frame.clientMessageId, frame.body)
            throw new RequestError('disconnected', 'Connection lost')
          }
          if (state.ws === 'down') throw new RequestError('disconnected', 'Connection lost')
          return { type: 'ack', message: server.store(frame.clientMessageId, frame.body), cursor: `k${server.seq}` }
        },
      },
      async rest(_c, cmid, body) {
        state.restCalls.push(cmid)
        if (state.rest === 'down') throw new NetworkError('Cannot reach the server.')
        if (state.rest === 'reject') throw new ApiError(422, 'validation_error', 'Body is empty')
        return server.store(cmid, body)
      },
    },
  }
  const outbox = () => qc.getQueryData<OutboxEntry[]>(keys.outbox('c1')) ?? []
  const loaded = () => allMessages(qc.getQueryData<MessagesData>(keys.messages('c1')))
  return { server, qc, ctx, state, outbox, loaded }
}

describe('optimistic send', () => {
  let h: ReturnType<typeof harness>
  beforeEach(() => {
    h = harness()
  })

  it('shows the message at once, then replaces it with the acked one', async () => {
    const p = sendMessage(h.ctx, 'c1', 'hello')
    expect(h.outbox()).toHaveLength(1)
    expect(h.outbox()[0].status).toBe('sending')
    expect(isClientMessageId(h.outbox()[0].clientMessageId)).toBe(true)
    await p
    expect(h.outbox()).toEqual([])
    expect(h.loaded().map((m) => m.body)).toEqual(['hello'])
    expect(h.state.restCalls).toEqual([])
  })

  it('uses REST when the socket is down', async () => {
    h.state.wsOpen = false
    await sendMessage(h.ctx, 'c1', 'via rest')
    expect(h.state.frames).toEqual([])
    expect(h.state.restCalls).toHaveLength(1)
    expect(h.loaded()).toHaveLength(1)
  })

  it('falls back to REST with the same clientMessageId when the ack is lost, storing it once', async () => {
    h.state.ws = 'lose-ack'
    await sendMessage(h.ctx, 'c1', 'once')
    const sent = h.state.frames[0] as Extract<ClientFrame, { action: 'sendMessage' }>
    expect(h.state.restCalls).toEqual([sent.clientMessageId])
    expect(h.server.stored.size).toBe(1)
    expect(h.loaded()).toHaveLength(1)
    expect(h.outbox()).toEqual([])
  })

  it('marks a failed send, and Retry reuses the clientMessageId without duplicating', async () => {
    h.state.ws = 'lose-ack'
    h.state.rest = 'down'
    await sendMessage(h.ctx, 'c1', 'flaky')
    expect(h.outbox()[0].status).toBe('failed')
    expect(h.outbox()[0].permanent).toBe(false)
    const cmid = h.outbox()[0].clientMessageId
    expect(h.server.stored.size).toBe(1) // the server did get it

    h.state.ws = 'ok'
    h.state.rest = 'ok'
    await retryMessage(h.ctx, 'c1', cmid)
    const frames = h.state.frames as Extract<ClientFrame, { action: 'sendMessage' }>[]
    expect(frames.map((f) => f.clientMessageId)).toEqual([cmid, cmid])
    expect(h.server.stored.size).toBe(1)
    expect(h.loaded()).toHaveLength(1)
    expect(h.outbox()).toEqual([])
  })

  it('a live or synced echo of a failed message clears it from the outbox', async () => {
    h.state.ws = 'lose-ack'
    h.state.rest = 'down'
    await sendMessage(h.ctx, 'c1', 'echoed')
    const stored = [...h.server.stored.values()][0]
    applyEvent(h.qc, { type: 'message.created', message: stored, cursor: 'k1' }, ana.id)
    expect(h.outbox()).toEqual([])
    expect(h.loaded()).toHaveLength(1)
  })

  it('does not retry refused messages automatically, but does retry network failures', async () => {
    h.state.ws = 'reject'
    await sendMessage(h.ctx, 'c1', 'bad')
    expect(h.outbox()[0]).toMatchObject({ status: 'failed', permanent: true })
    expect(h.state.restCalls).toEqual([])

    h.state.ws = 'down'
    h.state.rest = 'down'
    await sendMessage(h.ctx, 'c1', 'later')
    expect(h.outbox()[1]).toMatchObject({ status: 'failed', permanent: false })

    h.state.ws = 'ok'
    h.state.rest = 'ok'
    retryAllFailed(h.ctx)
    await new Promise((r) => setTimeout(r, 0))
    expect(h.loaded().map((m) => m.body)).toEqual(['later'])
    expect(h.outbox().map((e) => e.body)).toEqual(['bad'])
  })

  it('a send refused in a blocked chat says so, and is not tried again over REST or later', async () => {
    h.state.ws = 'blocked'
    await sendMessage(h.ctx, 'c1', 'hello?')
    expect(h.outbox()[0]).toMatchObject({ status: 'failed', permanent: true, error: "You can't send messages to this chat." })
    expect(h.state.restCalls).toEqual([])
    h.state.ws = 'ok'
    retryAllFailed(h.ctx)
    await new Promise((r) => setTimeout(r, 0))
    expect(h.loaded()).toEqual([])
  })
})
