import { describe, expect, it } from 'vitest'
import { conv, msg } from '@/test/fixtures'
import { RealtimeClient, type RealtimeDeps, type SocketLike, backoffDelay } from './realtime'
import type { DurableEvent, EventsPage, ServerEvent, SyncPage } from './types'

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

const flush = async (times = 3) => {
  for (let i = 0; i < times; i++) await new Promise((r) => setTimeout(r, 0))
}

/** Event `seq` of conversation c1: a new message, with its stable id. */
const created = (seq: number, id = `c1:e${seq}`): DurableEvent => ({
  type: 'message.created',
  message: msg(seq),
  cursor: id,
  conversationId: 'c1',
  eventSeq: seq,
})
const seqsOf = (events: ServerEvent[]) => events.map((e) => (e.type === 'message.created' ? e.message.seq : -1))

/** What the fake server answers a catch-up from a cursor: a page, or an error to throw. */
type SyncAnswer = SyncPage | Error
/** What it answers GET /api/conversations/{id}/events?after=, keyed `${id}@${after}`; a
 * function is called when the request arrives (to hold it, or to change the world first). */
type EventsAnswer = EventsPage | Error | (() => Promise<EventsPage>)

class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}

/** A promise the test settles. */
function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

function setup(
  syncPages: Record<string, SyncAnswer> = {},
  ticketError?: () => Error | null,
  eventsPages: Record<string, EventsAnswer> = {},
  views: Record<string, number> = {},
) {
  const sockets: FakeSocket[] = []
  const applied: ServerEvent[] = []
  const hellos: boolean[] = []
  const statuses: string[] = []
  const syncCalls: string[] = []
  const eventsCalls: string[] = []
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
    fetchEvents: async (conversationId, after) => {
      const key = `${conversationId}@${after}`
      eventsCalls.push(key)
      const page = eventsPages[key]
      if (!page) throw new Error(`unexpected events fetch ${key}`)
      if (page instanceof Error) throw page
      return typeof page === 'function' ? page() : page
    },
    knownEventSeq: (conversationId) => views[conversationId],
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
  return { client, deps, sockets, applied, hellos, statuses, syncCalls, eventsCalls, timers, errors }
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
  it('applies each durable event once and hands ephemeral ones straight through', async () => {
    const { client, sockets, applied, hellos } = setup()
    client.start()
    await flush()
    sockets[0].hello('s0', ['u-bob'])
    expect(client.status).toBe('online')
    expect(hellos).toEqual([false])
    sockets[0].receive(created(1))
    sockets[0].receive(created(1))
    sockets[0].receive({ type: 'typing', conversationId: 'c1', userId: 'u-bob', isTyping: true })
    await flush()
    expect(applied.map((e) => e.type).sort()).toEqual(['message.created', 'typing'])
  })

  it('resumes from the resume cursor of the hello and the sync pages, never from an applied event', async () => {
    const { client, sockets, applied, syncCalls, timers, errors } = setup({
      s0: { events: [created(1), created(2), created(3)], cursor: 's3', hasMore: false },
      s3: { events: [created(4), created(5)], cursor: 's5', hasMore: false },
    })
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1))
    sockets[0].receive(created(2))
    await flush()
    expect(client.resumeCursor).toBe('s0') // live events do not move it

    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('s9')
    await flush()
    expect(syncCalls).toEqual(['s0'])
    expect(client.resumeCursor).toBe('s3') // the sync page's cursor

    sockets[1].receive(created(4))
    await flush()
    expect(client.resumeCursor).toBe('s3')
    sockets[1].close(1006)
    timers.runShortest()
    await flush()
    sockets[2].hello('s10')
    await flush()
    expect(syncCalls).toEqual(['s0', 's3']) // not from 'c1:e4'
    expect(seqsOf(applied)).toEqual([1, 2, 3, 4, 5])
    expect(errors).toEqual([])
  })

  it('reconnects with backoff and a fresh ticket, catches up page by page, and applies an event seen live and in sync once', async () => {
    const { client, sockets, applied, hellos, syncCalls, timers } = setup({
      s0: { events: [created(2), created(3)], cursor: 's3', hasMore: true },
      s3: { events: [created(4)], cursor: 's4', hasMore: false },
    })
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1))
    await flush()

    sockets[0].close(1006)
    expect(client.status).toBe('reconnecting')
    expect(timers.runShortest()).toBe(375) // first retry: 500 ms base, half of it jittered
    await flush()
    expect(sockets[1].url).toContain('ticket=t2')

    // The server pushes live events while the client is still catching up.
    sockets[1].hello('s5')
    expect(client.status).toBe('syncing')
    sockets[1].receive(created(4)) // also in the sync page: must be skipped
    sockets[1].receive(created(5))
    await flush()

    expect(syncCalls).toEqual(['s0', 's3'])
    expect(hellos).toEqual([false, true])
    expect(seqsOf(applied)).toEqual([1, 2, 3, 4, 5])
    expect(client.status).toBe('online')
    expect(client.resumeCursor).toBe('s4')
  })

  it('fills a gap from the conversation\'s events before applying the frames that came after it', async () => {
    const held = deferred<EventsPage>()
    const { client, sockets, applied, eventsCalls, errors } = setup({}, undefined, {
      'c1@1': () => held.promise,
      'c1@2': { events: [created(3)], hasMore: false, lastEventSeq: 4 },
    })
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1)) // the first event of c1 we see: its place is learnt
    sockets[0].receive(created(3)) // event 2 never came
    sockets[0].receive(created(4))
    await flush()
    expect(eventsCalls).toEqual(['c1@1'])
    expect(seqsOf(applied)).toEqual([1]) // 3 and 4 wait for the gap

    held.resolve({ events: [created(2)], hasMore: true, lastEventSeq: 4 })
    await flush()
    expect(eventsCalls).toEqual(['c1@1', 'c1@2']) // every page
    expect(seqsOf(applied)).toEqual([1, 2, 3, 4])
    expect(errors).toEqual([])
  })

  it('fetches what a catch-up\'s whole view of a conversation it holds stands for, even one event ahead', async () => {
    // c1 began after the resume cursor s0: the catch-up brings it as one view at eventSeq 2,
    // the message we missed (2) is in c1's log, not in the page.
    const view: DurableEvent = { type: 'conversation.created', conversation: conv({ lastEventSeq: 2 }), conversationId: 'c1', eventSeq: 2, cursor: 'c1:j2' }
    const { client, sockets, applied, eventsCalls, timers, errors } = setup(
      { s0: { events: [view], cursor: 's1', hasMore: false } },
      undefined,
      { 'c1@1': { events: [created(2)], hasMore: false, lastEventSeq: 2 } },
    )
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1))
    await flush()
    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('s9')
    await flush()
    expect(eventsCalls).toEqual(['c1@1'])
    expect(applied.map((e) => ('cursor' in e ? e.cursor : e.type))).toEqual(['c1:e1', 'c1:e2', 'c1:j2'])
    expect(errors).toEqual([])
    expect(client.status).toBe('online')
  })

  it('applies out-of-order live frames once each, in order, starting from the view the app holds', async () => {
    const { client, sockets, applied, eventsCalls } = setup(
      {},
      undefined,
      { 'c1@5': { events: [created(6), created(7)], hasMore: false, lastEventSeq: 7 } },
      { c1: 5 }, // the conversation list says c1 is at event 5
    )
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(7))
    sockets[0].receive(created(6))
    sockets[0].receive(created(8))
    await flush()
    expect(eventsCalls).toEqual(['c1@5'])
    expect(seqsOf(applied)).toEqual([6, 7, 8])
  })

  it('hands over a message at or below the view\'s sequence that it has not applied: the message pages may lack it', async () => {
    const { client, sockets, applied, eventsCalls } = setup({}, undefined, {}, { c1: 8 })
    client.start()
    await flush()
    sockets[0].hello('s0')
    // The list was fetched after message 7 was sent but before its frame reached us.
    sockets[0].receive(created(7))
    sockets[0].receive(created(9))
    await flush()
    expect(seqsOf(applied)).toEqual([7, 9])
    expect(eventsCalls).toEqual([])
  })

  it('takes the place of a change this connection made from its ack, without fetching it', async () => {
    const { client, sockets, applied, eventsCalls, errors } = setup()
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1))
    await flush()
    const p = client.request({ action: 'sendMessage', conversationId: 'c1', clientMessageId: 'web:1', body: 'hi' })
    const { requestId } = sockets[0].sent[0]
    sockets[0].receive({ type: 'ack', requestId, message: msg(2), cursor: 'c1:e2', conversationId: 'c1', eventSeq: 2 })
    await expect(p).resolves.toMatchObject({ message: { seq: 2 } })
    sockets[0].receive(created(3))
    await flush()
    expect(eventsCalls).toEqual([])
    expect(errors).toEqual([])
    expect(seqsOf(applied)).toEqual([1, 3])
    expect(client.knownEventSeq('c1')).toBe(3)
  })

  it('when a gap cannot be fetched, reports it and resumes on a new connection from the resume cursor', async () => {
    const down = new HttpError(503)
    const { client, sockets, applied, errors, timers, syncCalls } = setup(
      { s0: { events: [created(1), created(2), created(3)], cursor: 's3', hasMore: false } },
      undefined,
      { 'c1@1': down },
    )
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1))
    sockets[0].receive(created(3))
    await flush()
    expect(errors).toEqual([down])
    expect(sockets[0].readyState).toBe(3)
    expect(client.status).toBe('reconnecting')
    timers.runShortest()
    await flush()
    sockets[1].hello('s9')
    await flush()
    expect(syncCalls).toEqual(['s0'])
    expect(seqsOf(applied)).toEqual([1, 2, 3])
    expect(client.status).toBe('online')
  })

  it('forgets the place of a conversation it left, so rejoining it fetches nothing', async () => {
    const { client, sockets, applied, eventsCalls, errors } = setup()
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1))
    sockets[0].receive({ type: 'member.removed', conversationId: 'c1', userId: 'u-ana', cursor: 'c1:e2', eventSeq: 2 })
    const again = { ...conv({ lastEventSeq: 40 }) }
    sockets[0].receive({ type: 'conversation.created', conversation: again, conversationId: 'c1', eventSeq: 40, cursor: 'c1:e40' })
    await flush()
    expect(applied.map((e) => e.type)).toEqual(['message.created', 'member.removed', 'conversation.created'])
    expect(eventsCalls).toEqual([])
    expect(errors).toEqual([])
  })

  it('applies our removal from a conversation without fetching what came before it', async () => {
    const removed: DurableEvent = { type: 'member.removed', conversationId: 'c1', userId: 'u-ana', cursor: 'c1:e9', eventSeq: 9 }
    const deleted: DurableEvent = { type: 'conversation.deleted', conversationId: 'g1', cursor: 'g1:e7', eventSeq: 7 }
    const { client, sockets, applied, eventsCalls, errors, timers } = setup(
      { s0: { events: [removed, deleted], cursor: 's1', hasMore: false } },
      undefined,
      {},
      { c1: 2, g1: 3 },
    )
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('s9') // we were removed from c1 and g1 was deleted meanwhile
    await flush()
    expect(eventsCalls).toEqual([]) // /events would answer 404 to someone no longer in them
    expect(applied).toEqual([removed, deleted])
    expect(errors).toEqual([])
    expect(client.status).toBe('online')
  })

  it('backs off further on repeated failures and resets after a hello', async () => {
    const { client, sockets, timers } = setup({ s0: { events: [], cursor: 's0', hasMore: false } })
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].close(1006)
    expect(timers.runShortest()).toBe(375)
    await flush()
    sockets[1].close(1006)
    expect(timers.runShortest()).toBe(750)
    await flush()
    sockets[2].close(1006)
    expect(timers.runShortest()).toBe(1500)
    await flush()
    sockets[3].hello('s0')
    await flush()
    sockets[3].close(1006)
    expect(timers.runShortest()).toBe(375)
  })

  it('reloads when the server refuses the resume cursor (410), and starts over from the new hello', async () => {
    const views: Record<string, number> = { c1: 1 }
    const { client, deps, sockets, hellos, timers, errors, applied, eventsCalls } = setup(
      { s0: new HttpError(410), s9: { events: [], cursor: 's9', hasMore: false } },
      undefined,
      {},
      views,
    )
    // As the app does: the reload invalidates the views it holds, a moment later.
    deps.onHello = (_h, resumed) => {
      hellos.push(resumed)
      if (!resumed) void Promise.resolve().then(() => delete views.c1)
    }
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(2))
    await flush()
    views.c1 = 2 // the list the first hello reloaded
    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('s9')
    sockets[1].receive(created(30)) // arrives while the refused catch-up is under way
    await flush()
    expect(hellos).toEqual([false, false])
    expect(client.resumeCursor).toBe('s9')
    expect(client.status).toBe('online')
    // What we knew of c1 is as old as the refused cursor: the reload has the rest, no gap.
    sockets[1].receive(created(31))
    await flush()
    expect(eventsCalls).toEqual([])
    expect(errors).toEqual([])
    expect(seqsOf(applied)).toEqual([2, 30, 31])
    sockets[1].close(1006)
    timers.runShortest()
    await flush()
    sockets[2].hello('s12')
    await flush()
    expect(hellos).toEqual([false, false, true]) // resumed from the new hello's cursor
  })

  it('retries a catch-up that failed for another reason, from the same cursor, and reports it', async () => {
    const pages: Record<string, SyncAnswer> = { s0: new HttpError(503) }
    const { client, sockets, hellos, timers, errors, applied } = setup(pages)
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1))
    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('s9')
    await flush()
    expect(errors).toEqual([pages.s0])
    expect(client.status).toBe('reconnecting') // not a reload: the cursor is still good
    expect(sockets[1].readyState).toBe(3)
    expect(client.resumeCursor).toBe('s0')
    pages.s0 = { events: [created(1), created(2)], cursor: 's2', hasMore: false }
    timers.runShortest()
    await flush()
    sockets[2].hello('s9')
    await flush()
    expect(hellos).toEqual([false, true])
    expect(seqsOf(applied)).toEqual([1, 2])
    expect(client.status).toBe('online')
  })

  it('reports an event that could not be applied instead of passing it off as an old cursor', async () => {
    const { client, deps, sockets, hellos, timers, errors } = setup({
      s0: { events: [created(2)], cursor: 's2', hasMore: false },
    })
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1))
    sockets[0].close(1006)
    const bug = new TypeError('cannot read properties of undefined')
    deps.onEvent = () => {
      throw bug
    }
    timers.runShortest()
    await flush()
    sockets[1].hello('s9')
    await flush()
    expect(errors).toEqual([bug])
    expect(hellos).toEqual([false]) // no reload that would hide it
    expect(client.resumeCursor).toBe('s0')
    expect(client.status).toBe('reconnecting')
  })

  it('resolves requests with their ack, records the ack\'s event id, and rejects them on disconnect', async () => {
    const { client, sockets, applied } = setup()
    client.start()
    await flush()
    sockets[0].hello('s0')
    const p = client.request({ action: 'sendMessage', conversationId: 'c1', clientMessageId: 'web:1', body: 'hi' })
    const frame = sockets[0].sent[0]
    expect(frame.action).toBe('sendMessage')
    sockets[0].receive({ type: 'ack', requestId: frame.requestId, message: msg(1), cursor: 'c1:e1', conversationId: 'c1', eventSeq: 1 })
    await expect(p).resolves.toMatchObject({ message: { seq: 1 } })
    // Our other device's echo of the same change, if it ever came here, is skipped by its id.
    sockets[0].receive(created(1))
    await flush()
    expect(applied).toEqual([])
    expect(client.hasApplied('c1:e1')).toBe(true)

    const q = client.request({ action: 'markRead', conversationId: 'c1', seq: 1 })
    sockets[0].close(1006)
    await expect(q).rejects.toMatchObject({ code: 'disconnected' })
    await expect(client.request({ action: 'ping' })).rejects.toMatchObject({ code: 'disconnected' })
  })

  it('rejects a request answered with an error frame', async () => {
    const { client, sockets } = setup()
    client.start()
    await flush()
    sockets[0].hello('s0')
    const p = client.request({ action: 'sendMessage', conversationId: 'nope', clientMessageId: 'web:2', body: 'x' })
    sockets[0].receive({ type: 'error', requestId: sockets[0].sent[0].requestId, error: { code: 'not_found', message: 'No such conversation' } })
    await expect(p).rejects.toMatchObject({ code: 'not_found' })
  })

  it('stops for good when the session is gone', async () => {
    let sessionGone = false
    const { client, sockets, timers } = setup({}, () => (sessionGone ? new HttpError(401) : null))
    client.start()
    await flush()
    sockets[0].hello('s0')
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
    const { client, sockets, timers, errors } = setup({ s0: new HttpError(401) })
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].receive(created(1))
    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('s9')
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
    sockets[0].hello('s0')
    expect(client.status).toBe('online')
  })
})

describe('RealtimeClient connection state', () => {
  /** A started client with a live socket (hello answered). */
  async function online() {
    const t = setup({ s0: { events: [], cursor: 's0', hasMore: false } })
    t.client.start()
    await flush()
    t.sockets[0].hello('s0', ['u-bob'])
    expect(t.client.status).toBe('online')
    return t
  }

  it('says offline at once when the browser loses the network, and fails requests in flight', async () => {
    const { client, sockets, statuses } = await online()
    const p = client.request({ action: 'sendMessage', conversationId: 'c1', clientMessageId: 'web:1', body: 'hi' })
    client.goOffline()
    expect(client.status).toBe('offline')
    expect(client.isOpen).toBe(false)
    expect(sockets[0].readyState).toBe(3)
    await expect(p).rejects.toMatchObject({ code: 'disconnected' })
    expect(statuses.slice(-1)).toEqual(['offline'])
  })

  it('stays offline through failed attempts until the network returns, then reconnects at once', async () => {
    let down = false
    const { client, deps, sockets, timers } = setup({ s0: { events: [], cursor: 's0', hasMore: false } }, () => (down ? new TypeError('Failed to fetch') : null))
    client.start()
    await flush()
    sockets[0].hello('s0')
    down = true
    client.goOffline()
    deps.isOnline = () => false
    for (let i = 0; i < 3; i++) {
      timers.runShortest()
      await flush()
      expect(client.status).toBe('offline')
    }
    expect(sockets).toHaveLength(1)
    down = false
    deps.isOnline = () => true
    client.nudge() // the `online` event: no waiting for the backoff timer
    await flush()
    expect(sockets).toHaveLength(2)
    expect(client.status).toBe('reconnecting')
    sockets[1].hello('s0')
    await flush()
    expect(client.status).toBe('online')
  })

  it('reports a lost server (network up) as reconnecting, not offline', async () => {
    const { client, sockets } = await online()
    sockets[0].close(1006)
    expect(client.status).toBe('reconnecting')
  })

  it('drops a socket whose ping gets no pong within the timeout, and connects anew', async () => {
    const { client, sockets, timers } = await online()
    expect(timers.queue.map((t) => t.ms)).toEqual([5000]) // the heartbeat
    timers.runShortest()
    expect(sockets[0].sent.at(-1)).toMatchObject({ action: 'ping' })
    expect(timers.queue.map((t) => t.ms)).toEqual([5000]) // its pong timeout
    timers.runShortest()
    await flush()
    expect(client.status).toBe('reconnecting')
    expect(client.isOpen).toBe(false)
    expect(sockets[0].readyState).toBe(3)
    timers.runShortest() // the reconnect, after a short backoff
    await flush()
    expect(sockets).toHaveLength(2)
  })

  it('keeps a socket that answers its pings', async () => {
    const { client, sockets, timers } = await online()
    for (let i = 0; i < 3; i++) {
      timers.runShortest()
      const ping = sockets[0].sent.at(-1) as { requestId: string }
      sockets[0].receive({ type: 'pong', requestId: ping.requestId })
      await flush()
      expect(client.status).toBe('online')
    }
    expect(sockets).toHaveLength(1)
  })

  it('keeps beating after a ping the server refuses, and still notices a dead socket', async () => {
    const { client, sockets, timers } = await online()
    timers.runShortest()
    const refused = sockets[0].sent.at(-1) as { requestId: string }
    sockets[0].receive({ type: 'error', requestId: refused.requestId, error: { code: 'rate_limited', message: 'slow down' } })
    await flush()
    expect(timers.queue.map((t) => t.ms)).toEqual([5000]) // the next heartbeat, not silence
    timers.runShortest()
    expect(sockets[0].sent.at(-1)).toMatchObject({ action: 'ping' })
    timers.runShortest() // no pong: the socket is dead
    await flush()
    expect(client.status).toBe('reconnecting')
  })

  it('replaces a socket still waiting for its hello when nudged, leaving no second socket open', async () => {
    const { client, sockets } = await online()
    sockets[0].close(1006)
    client.nudge()
    await flush()
    expect(sockets).toHaveLength(2)
    client.nudge()
    await flush()
    expect(sockets).toHaveLength(3)
    expect(sockets[1].readyState).toBe(3)
    sockets[2].hello('s0')
    await flush()
    expect(client.status).toBe('online')
  })
})

describe('RealtimeClient: live or replayed (issue 13, notifications)', () => {
  it('says which events arrived live and which a catch-up or a gap fetch brought back', async () => {
    const { client, deps, sockets, timers } = setup(
      { s0: { events: [created(1)], cursor: 's1', hasMore: false } },
      undefined,
      { 'c1@2': { events: [created(3)], hasMore: false, lastEventSeq: 3 } },
    )
    const seen: string[] = []
    deps.onEvent = (e, live) => seen.push(`${e.type === 'message.created' ? e.message.seq : e.type}:${live ? 'live' : 'replayed'}`)
    client.start()
    await flush()
    sockets[0].hello('s0')
    sockets[0].close(1006)
    timers.runShortest()
    await flush()
    sockets[1].hello('s9')
    await flush()
    sockets[1].receive(created(2))
    sockets[1].receive(created(4)) // past a gap: 3 is fetched first
    await flush()
    sockets[1].receive({ type: 'typing', conversationId: 'c1', userId: 'u-bob', isTyping: true })
    expect(seen).toEqual(['1:replayed', '2:live', '3:replayed', '4:live', 'typing:live'])
  })

  it("hands hello's mutes over as soon as hello arrives", async () => {
    const { client, deps, sockets } = setup()
    const mutes: unknown[] = []
    deps.onMutes = (m) => mutes.push(m)
    client.start()
    await flush()
    sockets[0].receive({ type: 'hello', userId: 'u-ana', connectionId: 'x', cursor: 's0', online: [], muted: { c1: null } })
    expect(mutes).toEqual([{ c1: null }])
  })
})
