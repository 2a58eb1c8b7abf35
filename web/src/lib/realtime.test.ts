import { describe, expect, it } from 'vitest'
import { msg } from '@/test/fixtures'
import { RealtimeClient, type RealtimeDeps, type SocketLike, backoffDelay } from './realtime'
import type { DurableEvent, ServerEvent, SyncPage } from './types'

class FakeSocket implements SocketLike {
  readyState = 0
  sent: Record<string, unknown>[] = []
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>)
  }
  close(code = 1000) {
    this.readyState = 3
    this.onclose?.({ code })
  }
  open() {
    this.readyState = 1
    this.onopen?.({})
  }
  receive(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }
  hello(cursor: string, online: string[] = []) {
    this.open()
    this.receive({ type: 'hello', userId: 'u-ana', connectionId: 'x', cursor, online })
  }
}

/** A manual clock: timers fire only when the test says so. */
class Timers {
  queue: { fn: () => void; ms: number; id: number }[] = []
  private next = 1
  set = (fn: () => void, ms: number) => {
    const id = this.next++
    this.queue.push({ fn, ms, id })
    return id
  }
  clear = (id: unknown) => {
    this.queue = this.queue.filter((t) => t.id !== id)
  }
  /** Run the timer with the shortest delay (the reconnect, not the ping). */
  runShortest(): number {
    const t = [...this.queue].sort((a, b) => a.ms - b.ms)[0]
    this.clear(t.id)
    t.fn()
    return t.ms
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0))
const created = (seq: number, cursor: string): DurableEvent => ({ type: 'message.created', message: msg(seq), cursor })

/** What the fake server answers a catch-up from a cursor: a page, or an error to throw. */
type SyncAnswer = SyncPage | Error

class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}

function setup(syncPages: Record<string, SyncAnswer> = {}, ticketError?: () => Error | null) {
  const sockets: FakeSocket[] = []
  const applied: ServerEvent[] = []
  const hellos: boolean[] = []
  const statuses: string[] = []
  const syncCalls: string[] = []
  const errors: unknown[] = []
  let tickets = 0
  const timers = new Timers()
  const deps: RealtimeDeps = {
    getTicket: async () => {
      const err = ticketError?.()
      if (err) throw err
      return `t${++tickets}`
    },
    url: (t) => `ws://test/ws?ticket=${t}`,
    fetchSync: async (since) => {
      syncCalls.push(since)
      const page = syncPages[since]
      if (!page) throw new Error(`unexpected sync since ${since}`)
      if (page instanceof Error) throw page
      return page
    },
    isFatal: (err) => err instanceof HttpError && err.status === 401,
    isCursorRejected: (err) => err instanceof HttpError && err.status >= 400 && err.status < 500,
    onError: (err) => errors.push(err),
    createSocket: (url) => {
      const s = new FakeSocket(url)
      sockets.push(s)
      return s
    },
    onEvent: (e) => applied.push(e),
    onHello: (_h, resumed) => hellos.push(resumed),
    onStatus: (s) => statuses.push(s),
    random: () => 0.5,
    setTimer: timers.set,
    clearTimer: timers.clear,
  }
  const client = new RealtimeClient(deps)
  return { client, deps, sockets, applied, hellos, statuses, syncCalls, timers, errors }
}

describe('backoffDelay', () => {
  it('grows exponentially with jitter and is capped', () => {
    expect(backoffDelay(0, () => 0)).toBe(250)
    expect(backoffDelay(0, () => 1)).toBe(500)
    expect(backoffDelay(3, () => 0.5)).toBe(3000)
    expect(backoffDelay(20, () => 1)).toBe(30_000)
  })
})

describe('RealtimeClient', () => {
  it('takes the cursor from the first hello and applies each durable event once', async () => {
    const { client, sockets, applied, hellos } = setup()
    client.start()
    await flush()
    sockets[0].hello('c0', ['u-bob'])
    expect(client.status).toBe('online')
    expect(hellos).toEqual([false])
    sockets[0].receive(created(1, 'c1'))
    sockets[0].receive(created(1, 'c1'))
    sockets[0].receive({ type: 'typing', conversationId: 'c1', userId: 'u-bob', isTyping: true })
    expect(applied.map((e) => e.type)).toEqual(['message.created', 'typing'])
    expect(client.cursor).toBe('c1')
  })

  it('reconnects with backoff and a fresh ticket, catches up from the last cursor, and skips what it has', async () => {
    const { client, sockets, applied, hellos, syncCalls, timers } = setup({
      c1: { events: [created(2, 'c2'), created(3, 'c3')], cursor: 'c3', hasMore: true },
      c3: { events: [created(4, 'c4')], cursor: 'c4', hasMore: false },
    })
    client.start()
    await flush()
    sockets[0].hello('c0')
    sockets[0].receive(created(1, 'c1'))

    sockets[0].close(1006)
    expect(client.status).toBe('reconnecting')
    expect(timers.runShortest()).toBe(375) // first retry: 500 ms base, half of it jittered
    await flush()
    expect(sockets[1].url).toContain('ticket=t2')

    // The server pushes live events while the client is still catching up.
    sockets[1].hello('c5')
    expect(client.status).toBe('syncing')
    sockets[1].receive(created(4, 'c4')) // also in the sync page: must be skipped
    sockets[1].receive(created(5, 'c5'))
    await flush()
    await flush()

    expect(syncCalls).toEqual(['c1', 'c3'])
    expect(hellos).toEqual([false, true])
    const seqs = applied.map((e) => (e.type === 'message.created' ? e.message.seq : -1))
    expect(seqs).toEqual([1, 2, 3, 4, 5])
    expect(client.status).toBe('online')
    expect(client.cursor).toBe('c5')
  })

  it('backs off further on repeated failures and resets after a hello', async () => {
    const { client, sockets, timers } = setup({ c0: { events: [], cursor: 'c0', hasMore: false } })
    client.start()
    await flush()
    sockets[0].hello('c0')
    sockets[0].close(1006)
    expect(timers.runShortest()).toBe(375)
    await flush()
    sockets[1].close(1006)
    expect(timers.runShortest()).toBe(750)
    await flush()
    sockets[2].close(1006)
    expect(timers.runShortest()).toBe(1500)
    await flush()
    sockets[3].hello('c0')
    await flush()
    sockets[3].close(1006)
    expect(timers.runShortest()).toBe(375)
  })

  it('falls back to a full reload when the server refuses the cursor', async () => {
    const { client, sockets, hellos, timers, errors } = setup({ c1: new HttpError(422) })
    client.start()
    await flush()
    sockets[0].hello('c0')
    sockets[0].receive(created(1, 'c1'))
    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('c9')
    await flush()
    expect(hellos).toEqual([false, false])
    expect(client.cursor).toBe('c9')
    expect(client.status).toBe('online')
    expect(errors).toEqual([])
  })

  it('retries a catch-up that failed for another reason, from the same cursor, and reports it', async () => {
    const pages: Record<string, SyncAnswer> = { c1: new HttpError(503) }
    const { client, sockets, hellos, timers, errors, applied } = setup(pages)
    client.start()
    await flush()
    sockets[0].hello('c0')
    sockets[0].receive(created(1, 'c1'))
    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('c9')
    await flush()
    expect(errors).toEqual([pages.c1])
    expect(client.status).toBe('reconnecting') // not a reload: the cursor is still good
    expect(sockets[1].readyState).toBe(3)
    expect(client.cursor).toBe('c1')
    pages.c1 = { events: [created(2, 'c2')], cursor: 'c2', hasMore: false }
    timers.runShortest()
    await flush()
    sockets[2].hello('c9')
    await flush()
    expect(hellos).toEqual([false, true])
    expect(applied.map((e) => (e.type === 'message.created' ? e.message.seq : -1))).toEqual([1, 2])
    expect(client.status).toBe('online')
  })

  it('reports an event that could not be applied instead of passing it off as an old cursor', async () => {
    const { client, deps, sockets, hellos, timers, errors } = setup({
      c1: { events: [created(2, 'c2')], cursor: 'c2', hasMore: false },
    })
    client.start()
    await flush()
    sockets[0].hello('c0')
    sockets[0].receive(created(1, 'c1'))
    sockets[0].close(1006)
    const bug = new TypeError('cannot read properties of undefined')
    deps.onEvent = () => {
      throw bug
    }
    timers.runShortest()
    await flush()
    sockets[1].hello('c9')
    await flush()
    expect(errors).toEqual([bug])
    expect(hellos).toEqual([false]) // no reload that would hide it
    expect(client.cursor).toBe('c1')
    expect(client.status).toBe('reconnecting')
  })

  it('resolves requests with their ack, records the ack cursor, and rejects them on disconnect', async () => {
    const { client, sockets, applied } = setup()
    client.start()
    await flush()
    sockets[0].hello('c0')
    const p = client.request({ action: 'sendMessage', conversationId: 'c1', clientMessageId: 'web:1', body: 'hi' })
    const frame = sockets[0].sent[0]
    expect(frame.action).toBe('sendMessage')
    sockets[0].receive({ type: 'ack', requestId: frame.requestId, message: msg(1), cursor: 'c1' })
    await expect(p).resolves.toMatchObject({ message: { seq: 1 } })
    // Our other device's echo of the same change, if it ever came here, is skipped by cursor.
    sockets[0].receive(created(1, 'c1'))
    expect(applied).toEqual([])
    expect(client.hasApplied('c1')).toBe(true)

    const q = client.request({ action: 'markRead', conversationId: 'c1', seq: 1 })
    sockets[0].close(1006)
    await expect(q).rejects.toMatchObject({ code: 'disconnected' })
    await expect(client.request({ action: 'ping' })).rejects.toMatchObject({ code: 'disconnected' })
  })

  it('rejects a request answered with an error frame', async () => {
    const { client, sockets } = setup()
    client.start()
    await flush()
    sockets[0].hello('c0')
    const p = client.request({ action: 'sendMessage', conversationId: 'nope', clientMessageId: 'web:2', body: 'x' })
    sockets[0].receive({ type: 'error', requestId: sockets[0].sent[0].requestId, error: { code: 'not_found', message: 'No such conversation' } })
    await expect(p).rejects.toMatchObject({ code: 'not_found' })
  })

  it('stops for good when the session is gone', async () => {
    let sessionGone = false
    const { client, sockets, timers } = setup({}, () => (sessionGone ? new HttpError(401) : null))
    client.start()
    await flush()
    sockets[0].hello('c0')
    sessionGone = true
    sockets[0].close(1006)
    expect(client.status).toBe('reconnecting')
    timers.runShortest()
    await flush()
    expect(client.status).toBe('stopped')
    expect(sockets).toHaveLength(1)
    expect(timers.queue).toEqual([]) // no retry is scheduled, now or ever
  })

  it('stops for good when the session ends during a catch-up', async () => {
    const { client, sockets, timers, errors } = setup({ c1: new HttpError(401) })
    client.start()
    await flush()
    sockets[0].hello('c0')
    sockets[0].receive(created(1, 'c1'))
    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('c9')
    await flush()
    expect(client.status).toBe('stopped')
    expect(timers.queue).toEqual([])
    expect(errors).toEqual([])
  })

  it('keeps retrying when the ticket failed for another reason', async () => {
    let down = true
    const { client, sockets, timers } = setup({}, () => (down ? new HttpError(503) : null))
    client.start()
    await flush()
    expect(client.status).toBe('reconnecting')
    timers.runShortest()
    await flush()
    expect(client.status).toBe('reconnecting')
    down = false
    timers.runShortest()
    await flush()
    sockets[0].hello('c0')
    expect(client.status).toBe('online')
  })
})
