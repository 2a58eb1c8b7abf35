import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'
import { type MessagesData, type OutboxEntry, quoteOf } from '@/lib/cache'
import { NetworkError } from '@/lib/http'
import { keys } from '@/lib/query-keys'
import { RequestError } from '@/lib/realtime'
import { ana, bob, msg } from '@/test/fixtures'
import type { AckFrame, ClientFrame } from '@/lib/types'
import { type SendContext, retryMessage, sendMessage } from './send'

describe('sending a reply', () => {
  const original = msg(1, { senderId: bob.id, body: 'are you in?' })

  function harness(wsOpen: boolean, restDown = false) {
    const qc = new QueryClient()
    qc.setQueryData<MessagesData>(keys.messages('c1'), { pages: [{ messages: [original], hasMore: false }], pageParams: [null] })
    const sent: { frames: ClientFrame[]; rest: (string | undefined)[] } = { frames: [], rest: [] }
    const state = { restDown }
    const ctx: SendContext = {
      qc,
      meId: ana.id,
      transport: {
        ws: {
          isOpen: wsOpen,
          async request(frame: ClientFrame): Promise<AckFrame> {
            sent.frames.push(frame)
            if (frame.action !== 'sendMessage') throw new RequestError('validation_error', 'unexpected')
            return { type: 'ack', message: msg(2, { senderId: ana.id, clientMessageId: frame.clientMessageId, body: frame.body, replyTo: quoteOf(original) }) }
          },
        },
        async rest(_c, cmid, body, _attachmentIds, replyToId) {
          sent.rest.push(replyToId)
          if (state.restDown) throw new NetworkError('Cannot reach the server.')
          return msg(2, { senderId: ana.id, clientMessageId: cmid, body, replyTo: quoteOf(original) })
        },
      },
    }
    return { qc, ctx, sent, state }
  }

  it('names the quoted message over the socket, and shows the quote while it is pending', async () => {
    const { qc, ctx, sent } = harness(true)
    const pending = sendMessage(ctx, 'c1', 'yes', 'web:r1', [], quoteOf(original))
    expect(qc.getQueryData<OutboxEntry[]>(keys.outbox('c1'))?.[0].replyTo).toEqual({ id: original.id, senderId: bob.id, excerpt: 'are you in?', deleted: false })
    const stored = await pending
    expect(sent.frames).toEqual([{ action: 'sendMessage', conversationId: 'c1', clientMessageId: 'web:r1', body: 'yes', replyToId: original.id }])
    expect(stored?.replyTo?.id).toBe(original.id)
  })

  it('names it over REST too, and again when a failed reply is retried', async () => {
    const { ctx, sent, state } = harness(false, true)
    expect(await sendMessage(ctx, 'c1', 'yes', 'web:r2', [], quoteOf(original))).toBeNull()
    state.restDown = false
    const stored = await retryMessage(ctx, 'c1', 'web:r2')
    expect(sent.rest).toEqual([original.id, original.id])
    expect(stored?.replyTo?.excerpt).toBe('are you in?')
  })

  it('a plain message names no reply', async () => {
    const { ctx, sent } = harness(true)
    await sendMessage(ctx, 'c1', 'hello', 'web:p1')
    expect(sent.frames[0]).not.toHaveProperty('replyToId')
  })
})
