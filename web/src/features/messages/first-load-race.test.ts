/**
 * A conversation opened for the first time fetches its newest page of history. Anything the
 * user sees confirmed while that fetch is in flight (their own send's ack, a live event, an
 * edit or a delete) must still be on screen once the older response lands: it must not
 * overwrite them. The query here is the app's own (options, fetcher, structural sharing); only
 * the network is faked, and the history response is held until the test releases it.
 */
import { InfiniteQueryObserver, QueryClient } from '@tanstack/react-query'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type MessagesData, type OutboxEntry, allMessages, applyEvent } from '@/lib/cache'
import { setConfig } from '@/lib/config'
import { keys } from '@/lib/query-keys'
import { clearSession } from '@/lib/session'
import { ana, msg } from '@/test/fixtures'
import type { AckFrame, ClientFrame, Message, MessagePage } from '@/lib/types'
import { messagesQueryOptions } from './api'
import { type SendContext, sendMessage } from './send'

/** History requests wait here until the test answers them. */
interface HeldRequest {
  url: string
  answer(page: MessagePage): void
  fail(status: number): void
}

let requests: HeldRequest[] = []

function stubNetwork() {
  vi.stubGlobal('fetch', (url: string, init: RequestInit) => {
    return new Promise<Response>((resolve, reject) => {
      init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))
      requests.push({
        url,
        answer: (page) => resolve(new Response(JSON.stringify(page), { status: 200, headers: { 'Content-Type': 'application/json' } })),
        fail: (status) => resolve(new Response(JSON.stringify({ error: { code: 'server_error', message: 'boom' } }), { status })),
      })
    })
  })
}

async function until(what: string, ok: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(ok(), what).toBe(true), { timeout: 10_000, interval: 5 })
}

/** The message pane of a newly opened chat: an observer on the app's history query. */
function openChat(qc: QueryClient, conversationId = 'c1') {
  const observer = new InfiniteQueryObserver(qc, { ...messagesQueryOptions(conversationId), retry: false })
  const unsubscribe = observer.subscribe(() => {})
  return {
    shown: () => allMessages(observer.getCurrentResult().data as MessagesData | undefined),
    result: () => observer.getCurrentResult(),
    close: unsubscribe,
  }
}

function ownSend(qc: QueryClient, stored: Message): SendContext {
  return {
    qc,
    meId: ana.id,
    transport: {
      ws: {
        isOpen: true,
        request: async (frame: ClientFrame): Promise<AckFrame> => {
          if (frame.action !== 'sendMessage') throw new Error('unexpected')
          return { type: 'ack', message: { ...stored, clientMessageId: frame.clientMessageId, body: frame.body }, cursor: 'k-ack' }
        },
      },
      rest: () => Promise.reject(new Error('REST not expected')),
    },
  }
}

const page = (messages: Message[], hasMore = false): MessagePage => ({ messages, hasMore })

describe('a chat whose first history fetch is still in flight', () => {
  let qc: QueryClient
  beforeEach(() => {
    requests = []
    clearSession()
    setConfig({ apiBaseUrl: 'http://api.test', wsUrl: '' })
    stubNetwork()
    qc = new QueryClient()
  })
  afterEach(() => {
    qc.clear()
    vi.unstubAllGlobals()
  })

  it('keeps our own message acked meanwhile when the older, empty page arrives', async () => {
    const pane = openChat(qc)
    await until('the history request was sent', () => requests.length === 1)

    const sent = await sendMessage(ownSend(qc, msg(1, { id: 'srv-1', senderId: ana.id })), 'c1', 'hello there')
    expect(sent?.seq).toBe(1)
    expect(qc.getQueryData<OutboxEntry[]>(keys.outbox('c1'))).toEqual([])

    requests[0].answer(page([]))
    await until('the history landed', () => pane.result().isSuccess)
    expect(pane.shown().map((m) => m.body)).toEqual(['hello there'])
    pane.close()
  })

  it('keeps a message received live meanwhile, after the older history, once', async () => {
    const pane = openChat(qc)
    await until('the history request was sent', () => requests.length === 1)

    applyEvent(qc, { type: 'message.created', message: msg(3), cursor: 'k3' }, ana.id)
    applyEvent(qc, { type: 'message.created', message: msg(3), cursor: 'k3' }, ana.id)

    requests[0].answer(page([msg(1), msg(2)]))
    await until('the history landed', () => pane.result().isSuccess)
    expect(pane.shown().map((m) => m.seq)).toEqual([1, 2, 3])
    pane.close()
  })

  it('keeps one copy of a live message the history response already holds', async () => {
    const pane = openChat(qc)
    await until('the history request was sent', () => requests.length === 1)

    applyEvent(qc, { type: 'message.created', message: msg(2), cursor: 'k2' }, ana.id)

    requests[0].answer(page([msg(1), msg(2)]))
    await until('the history landed', () => pane.result().isSuccess)
    expect(pane.shown().map((m) => m.id)).toEqual(['m1', 'm2'])
    pane.close()
  })

  it('keeps an edit and a delete made meanwhile to messages the older page still has unchanged', async () => {
    const pane = openChat(qc)
    await until('the history request was sent', () => requests.length === 1)

    applyEvent(qc, { type: 'message.updated', message: msg(1, { body: 'fixed typo', editedAt: '2026-01-01T13:00:00.000Z' }), cursor: 'k4' }, ana.id)
    applyEvent(qc, { type: 'message.deleted', message: msg(2, { body: '', deleted: true }), cursor: 'k5' }, ana.id)

    requests[0].answer(page([msg(1), msg(2)]))
    await until('the history landed', () => pane.result().isSuccess)
    expect(pane.shown().map((m) => [m.seq, m.body, m.deleted])).toEqual([
      [1, 'fixed typo', false],
      [2, '', true],
    ])
    pane.close()
  })

  it('leaves a live message older than the newest page to the older page that holds it', async () => {
    const pane = openChat(qc)
    await until('the history request was sent', () => requests.length === 1)

    applyEvent(qc, { type: 'message.updated', message: msg(5, { body: 'old, edited', editedAt: '2026-01-01T13:00:00.000Z' }), cursor: 'k9' }, ana.id)

    requests[0].answer(page([msg(60), msg(61)], true))
    await until('the history landed', () => pane.result().isSuccess)
    expect(pane.shown().map((m) => m.seq)).toEqual([60, 61])
    pane.close()
  })

  it('after a failed first fetch, the retry shows the message once (the server has it by then)', async () => {
    const pane = openChat(qc)
    await until('the history request was sent', () => requests.length === 1)
    applyEvent(qc, { type: 'message.created', message: msg(2), cursor: 'k2' }, ana.id)
    requests[0].fail(503)
    await until('the history failed', () => pane.result().isError)
    expect(pane.shown()).toEqual([])

    void pane.result().refetch()
    await until('the history was asked for again', () => requests.length === 2)
    requests[1].answer(page([msg(1), msg(2)]))
    await until('the history landed', () => pane.result().isSuccess)
    expect(pane.shown().map((m) => m.id)).toEqual(['m1', 'm2'])
    pane.close()
  })
})
