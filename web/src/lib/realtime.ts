/**
 * The WebSocket client core, free of React: one connection per signed-in tab.
 *
 * Contract:
 * - durable events reach `onEvent` at most once per event id (`cursor`), and within one
 *   conversation in event-sequence order: a live event past a gap in its conversation's
 *   `eventSeq` waits (with every event after it) until the conversation's missing events have
 *   been fetched from its /events and applied; a whole view of a conversation we hold
 *   (`conversation.created`, our own `member.added`) ahead of what we have is such a gap too;
 * - the resume cursor comes from the first hello and from each /api/sync page, never from an
 *   applied event; after a reconnect, /api/sync is read from it until hasMore is false before
 *   buffered live events; a refused cursor (410) means a full reload from the new hello;
 * - reconnects use exponential backoff with jitter and a fresh ticket every time;
 * - the status never claims `online` without a live socket: `goOffline` (the browser's
 *   `offline` event) drops the socket at once and says `offline` until `nudge` (its `online`
 *   event) reconnects; a ping unanswered within `pongTimeoutMs` drops the socket as dead, so
 *   a connection that dies silently is noticed within `pingIntervalMs + pongTimeoutMs`;
 * - `request` resolves with the server's ack (or rejects on an error frame, a timeout or a
 *   disconnect), so callers can fall back to REST.
 */
import type { AckFrame, ClientFrame, DurableEvent, ErrorFrame, EventsPage, HelloFrame, ServerEvent, SyncPage } from './types'
import { conversationOf, eventSeqOf, isDurable } from './types'

/** `offline`: the browser has no network; `reconnecting`: it has, the server is not reached. */
export type ConnectionStatus = 'idle' | 'connecting' | 'syncing' | 'online' | 'reconnecting' | 'offline' | 'stopped'

export interface SocketLike {
  readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason?: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
}

export interface RealtimeDeps {
  getTicket(): Promise<string>
  url(ticket: string): string
  fetchSync(since: string): Promise<SyncPage>
  /** One page of a conversation's events with eventSeq > `after`, oldest first. */
  fetchEvents(conversationId: string, after: number): Promise<EventsPage>
  /** The `lastEventSeq` of a current view of the conversation the app holds (REST), if any:
   * where gap detection starts for a conversation no event has been seen of yet. */
  knownEventSeq?(conversationId: string): number | undefined
  createSocket(url: string): SocketLike
  /** `live` is true for an event that arrived on the socket as it happened, false for one a
   * catch-up (/api/sync) or a gap fetch (/events) brought back: only live ones may notify. */
  onEvent(event: ServerEvent, live: boolean): void
  /** `resumed` is false on the first connection (and after a failed catch-up): the caller
   * should reload its queries, which are then at least as new as `hello.cursor`. */
  onHello(hello: HelloFrame, resumed: boolean): void
  /** After a catch-up: conversations we joined live after the resume cursor was taken, of
   * which the catch-up said nothing. The server tells of a departure only for conversations
   * the cursor knew, so we may have left (or lost) these while offline: load them again. */
  /** Who is online, from hello; called as soon as hello arrives, before any catch-up, so
   * presence events that follow it are not overwritten. */
  onOnline?(online: string[]): void
  /** Our mutes in force, from hello (whole), as soon as hello arrives like `onOnline`, so a
   * `conversation.muted` that follows it is not overwritten. */
  onMutes?(muted: Record<string, string | null>): void
  onStatus?(status: ConnectionStatus): void
  /** The ticket (or a catch-up page) could not be had because the session is gone: stop
   * reconnecting. */
  isFatal?(err: unknown): boolean
  /** The server refused the cursor itself (410 expired, or another 4xx answer to /api/sync):
   * reload instead of resuming. Any other failure to catch up or to fill a gap (network, 5xx,
   * an event that could not be applied) is reported through `onError` and retried on a fresh
   * connection from the same resume cursor. */
  isCursorRejected?(err: unknown): boolean
  /** A failure the client recovered from by retrying; default `console.error`. */
  onError?(err: unknown): void
  random?(): number
  setTimer?(fn: () => void, ms: number): unknown
  clearTimer?(handle: unknown): void
  requestTimeoutMs?: number
  /** Quiet time between heartbeats (default 5 s). */
  pingIntervalMs?: number
  /** How long a heartbeat waits for its pong before the socket counts as dead (default 5 s). */
  pongTimeoutMs?: number
  /** The browser's idea of whether there is a network (`navigator.onLine`); default true. */
  isOnline?(): boolean
}

export class RequestError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

interface Pending {
  resolve(frame: AckFrame): void
  reject(err: Error): void
  timer: unknown
}

/** What waits to be applied, in arrival order: a live event, or the place in its
 * conversation's sequence of a change this connection made (its ack stands for the event). */
type Queued = { event: DurableEvent } | { acked: { conversationId: string; eventSeq: number } }

const OPEN = 1
const MAX_REMEMBERED_CURSORS = 5000

export function backoffDelay(attempt: number, random: () => number): number {
  const base = Math.min(30_000, 500 * 2 ** attempt)
  return Math.round(base / 2 + random() * (base / 2))
}

export class RealtimeClient {
  status: ConnectionStatus = 'idle'
  /** Where a catch-up starts: from the first hello, then each /api/sync page; null until
   * the first hello. Applying a live event does not move it. */
  resumeCursor: string | null = null
  private readonly applied = new Set<string>()
  private readonly appliedOrder: string[] = []
  /** Per conversation, the eventSeq up to which nothing is missing as far as we know. */
  private readonly eventSeqs = new Map<string, number>()
  private socket: SocketLike | null = null
  private attempt = 0
  private retryTimer: unknown = null
  private pingTimer: unknown = null
  private pending = new Map<string, Pending>()
  private queue: Queued[] = []
  /** The queue waits while the connection catches up from /api/sync. */
  private syncing = false
  /** The socket whose queue is being worked through (one worker per connection). */
  private pumping: SocketLike | null = null
  /** After a reload the app's views are being fetched again: until the events buffered
   * meanwhile are applied, their old `lastEventSeq`s would only start needless gap fetches. */
  private seedsPaused = false
  private meId: string | null = null
  private nextRequestId = 1
  private generation = 0
  /** Set by `goOffline`, cleared by `nudge` or a hello: the browser said the network went. */
  private networkDown = false
  private readonly deps: RealtimeDeps
  private readonly setTimer: (fn: () => void, ms: number) => unknown
  private readonly clearTimer: (handle: unknown) => void

  constructor(deps: RealtimeDeps) {
    this.deps = deps
    this.setTimer = deps.setTimer ?? ((fn, ms) => setTimeout(fn, ms))
    this.clearTimer = deps.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>))
  }

  get isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === OPEN && (this.status === 'online' || this.status === 'syncing')
  }

  start(): void {
    if (this.status !== 'idle' && this.status !== 'stopped') return
    this.generation++
    void this.connect()
  }

  stop(): void {
    this.generation++
    this.setStatus('stopped')
    this.clearTimer(this.retryTimer)
    this.clearTimer(this.pingTimer)
    const socket = this.socket
    this.socket = null
    this.dropQueue()
    if (socket) {
      socket.onclose = null
      socket.onmessage = null
      socket.close(1000, 'bye')
    }
    this.failPending(new RequestError('disconnected', 'Connection closed'))
  }

  /** Reconnect now (the browser came back online, or the tab woke up), backoff reset. */
  nudge(): void {
    this.networkDown = false
    if (this.status === 'reconnecting' || this.status === 'offline') {
      this.generation++
      this.clearTimer(this.retryTimer)
      this.attempt = 0
      void this.connect()
    }
  }

  /** The browser lost the network: say so now and drop the socket (which may take long to
   * notice it is dead); requests in flight fail at once, so their callers can tell the user.
   * Reconnecting waits for `nudge`, with backoff attempts meanwhile should it never come. */
  goOffline(): void {
    if (this.status === 'idle' || this.status === 'stopped') return
    this.networkDown = true
    this.generation++
    this.clearTimer(this.retryTimer)
    if (this.socket) this.drop(this.socket, 4001, 'offline')
    this.scheduleReconnect()
  }

  /** Fire and forget (typing); false when the socket is not open. */
  send(frame: ClientFrame): boolean {
    if (!this.isOpen || !this.socket) return false
    this.socket.send(JSON.stringify(frame))
    return true
  }

  /** Send a frame that gets an ack; rejects when it cannot be sent or is not acked. */
  request(frame: ClientFrame, timeoutMs = this.deps.requestTimeoutMs ?? 10_000): Promise<AckFrame> {
    if (!this.isOpen || !this.socket) return Promise.reject(new RequestError('disconnected', 'Not connected'))
    const requestId = `r${this.nextRequestId++}`
    const socket = this.socket
    return new Promise<AckFrame>((resolve, reject) => {
      const timer = this.setTimer(() => {
        this.pending.delete(requestId)
        reject(new RequestError('timeout', 'The server did not answer in time'))
      }, timeoutMs)
      this.pending.set(requestId, {
        resolve: (ack) => {
          this.noteAck(ack, socket)
          resolve(ack)
        },
        reject,
        timer,
      })
      socket.send(JSON.stringify({ ...frame, requestId }))
    })
  }

  /** True if this event id was already applied (so the event must be skipped). */
  hasApplied(cursor: string): boolean {
    return this.applied.has(cursor)
  }

  /** The eventSeq up to which the conversation has nothing missing, as far as we know. */
  knownEventSeq(conversationId: string): number | undefined {
    return this.eventSeqs.get(conversationId) ?? (this.seedsPaused ? undefined : this.deps.knownEventSeq?.(conversationId))
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.status === status) return
    this.status = status
    this.deps.onStatus?.(status)
  }

  private markApplied(cursor: string): void {
    if (this.applied.has(cursor)) return
    this.applied.add(cursor)
    this.appliedOrder.push(cursor)
    if (this.appliedOrder.length > MAX_REMEMBERED_CURSORS) {
      const old = this.appliedOrder.shift()
      if (old !== undefined) this.applied.delete(old)
    }
  }

  private noteSeq(conversationId: string, eventSeq: number): void {
    this.eventSeqs.set(conversationId, Math.max(this.knownEventSeq(conversationId) ?? eventSeq, eventSeq))
  }

  /** An ack is the event for the connection that made the change: record its id now, and
   * its place in the sequence in turn with the events before it. */
  private noteAck(ack: AckFrame, socket: SocketLike): void {
    if (ack.cursor) this.markApplied(ack.cursor)
    if (ack.conversationId && typeof ack.eventSeq === 'number' && this.socket === socket) {
      this.queue.push({ acked: { conversationId: ack.conversationId, eventSeq: ack.eventSeq } })
      void this.pump()
    }
  }

  /** Hand one event to the app. An event at or below the known eventSeq that is not a
   * known duplicate is still handed over: a REST view's lastEventSeq says the view has it,
   * not that the loaded message pages do, and the cache's writers are idempotent. */
  private apply(event: DurableEvent, live: boolean): void {
    this.deps.onEvent(event, live)
    this.markApplied(event.cursor)
    const conversationId = conversationOf(event)
    if (conversationId === undefined) return
    const seq = eventSeqOf(event)
    if (this.endsConversation(event)) this.eventSeqs.delete(conversationId)
    else if (seq !== undefined) this.noteSeq(conversationId, seq)
  }

  /** We joined the conversation (it was created with us, or we were added to it). */
  private isArrival(event: DurableEvent): boolean {
    return event.type === 'conversation.created' || (event.type === 'member.added' && event.userId === this.meId)
  }

  /** The conversation is gone for us: nothing before this event matters any more (and its
   * /events would answer 404). */
  private endsConversation(event: DurableEvent): boolean {
    return event.type === 'conversation.deleted' || (event.type === 'member.removed' && event.userId === this.meId)
  }

  /** Apply `event` unless it is a duplicate, first filling any gap before it in its
   * conversation. Throws when the gap could not be fetched or an event not applied. */
  private async accept(event: DurableEvent, socket: SocketLike, live: boolean): Promise<void> {
    if (this.applied.has(event.cursor)) return
    const conversationId = conversationOf(event)
    const seq = eventSeqOf(event)
    if (conversationId !== undefined && seq !== undefined && !this.endsConversation(event)) {
      const known = this.knownEventSeq(conversationId)
      // An arrival (a catch-up brings a conversation the resume cursor lacks as one whole
      // view) stands for every event up to its eventSeq, not for one event: if we already
      // hold the conversation, even one event past what we have must be fetched.
      const step = this.isArrival(event) ? 0 : 1
      if (known !== undefined && seq > known + step) {
        await this.fillGap(conversationId, known, socket)
        if (this.socket !== socket || this.applied.has(event.cursor)) return
      }
    }
    this.apply(event, live)
  }

  /** Apply the conversation's events after `after`, every page. */
  private async fillGap(conversationId: string, after: number, socket: SocketLike): Promise<void> {
    let from = after
    for (let guard = 0; guard < 10_000; guard++) {
      const page = await this.deps.fetchEvents(conversationId, from)
      if (this.socket !== socket) return
      for (const event of page.events) {
        const seq = eventSeqOf(event)
        if (this.applied.has(event.cursor)) {
          if (seq !== undefined) this.noteSeq(conversationId, seq)
        } else this.apply(event, false)
        if (seq !== undefined) from = Math.max(from, seq)
      }
      if (!page.hasMore || page.events.length === 0) return
    }
  }

  /** Work through the queue of this connection, one item at a time, unless it is catching
   * up. A failure ends the connection: the next one resumes from the resume cursor, which
   * no live event has moved, so /api/sync returns whatever was not applied. */
  private async pump(): Promise<void> {
    const socket = this.socket
    if (!socket || this.syncing || this.pumping === socket) return
    this.pumping = socket
    try {
      while (this.socket === socket && !this.syncing) {
        const item = this.queue.shift()
        if (!item) {
          this.seedsPaused = false
          break
        }
        if ('event' in item) await this.accept(item.event, socket, true)
        else {
          const { conversationId, eventSeq } = item.acked
          const known = this.knownEventSeq(conversationId)
          // Only a step forward: past a gap, the next event fetches it (skipping this id).
          if (known === undefined || eventSeq === known + 1) this.noteSeq(conversationId, eventSeq)
        }
      }
    } catch (err) {
      this.fail(err, socket)
    } finally {
      if (this.pumping === socket) this.pumping = null
    }
  }

  private dropQueue(): void {
    this.queue = []
    this.syncing = false
  }

  /** Catching up or applying failed: stop when the session is gone, else report it and
   * reconnect (with backoff) to resume from the resume cursor. */
  private fail(err: unknown, socket: SocketLike | null): void {
    if (this.socket !== socket) return
    if (this.deps.isFatal?.(err)) {
      this.stop()
      return
    }
    ;(this.deps.onError ?? console.error)(err)
    socket?.close(4000, 'catch-up failed')
  }

  /** Not connected, and why: no network, or no server. */
  private waitingStatus(): ConnectionStatus {
    return this.networkDown || this.deps.isOnline?.() === false ? 'offline' : 'reconnecting'
  }

  /** Forget `socket` now, as if it had closed, and close it: its requests fail, its queue
   * goes (the next connection resumes from the resume cursor). */
  private drop(socket: SocketLike, code: number, reason: string): void {
    if (this.socket !== socket) return
    this.socket = null
    socket.onclose = null
    socket.onmessage = null
    this.clearTimer(this.pingTimer)
    this.dropQueue()
    this.failPending(new RequestError('disconnected', 'Connection lost'))
    try {
      socket.close(code, reason)
    } catch {
      /* already closed */
    }
  }

  private async connect(): Promise<void> {
    const gen = this.generation
    if (this.socket) this.drop(this.socket, 1000, 'reconnecting')
    this.setStatus(this.resumeCursor === null && this.attempt === 0 && !this.networkDown ? 'connecting' : this.waitingStatus())
    let ticket: string
    try {
      ticket = await this.deps.getTicket()
    } catch (err) {
      if (gen !== this.generation) return
      if (this.deps.isFatal?.(err)) {
        this.stop()
        return
      }
      this.scheduleReconnect()
      return
    }
    if (gen !== this.generation) return
    let socket: SocketLike
    try {
      socket = this.deps.createSocket(this.deps.url(ticket))
    } catch {
      this.scheduleReconnect()
      return
    }
    this.socket = socket
    socket.onmessage = (ev) => {
      if (this.socket === socket) this.handleFrame(ev.data)
    }
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.socket = null
      this.clearTimer(this.pingTimer)
      this.dropQueue()
      this.failPending(new RequestError('disconnected', 'Connection lost'))
      if (gen === this.generation) this.scheduleReconnect()
    }
    socket.onerror = () => {
      /* onclose follows */
    }
  }

  private scheduleReconnect(): void {
    this.setStatus(this.waitingStatus())
    const delay = backoffDelay(this.attempt, this.deps.random ?? Math.random)
    this.attempt = Math.min(this.attempt + 1, 10)
    const gen = this.generation
    this.clearTimer(this.retryTimer)
    this.retryTimer = this.setTimer(() => {
      if (gen === this.generation) void this.connect()
    }, delay)
  }

  private failPending(err: Error): void {
    for (const [, p] of this.pending) {
      this.clearTimer(p.timer)
      p.reject(err)
    }
    this.pending.clear()
  }

  private schedulePing(): void {
    this.clearTimer(this.pingTimer)
    const every = this.deps.pingIntervalMs ?? 5_000
    this.pingTimer = this.setTimer(() => {
      // The socket of this moment, not of when the timer was set: the heartbeat must
      // never end while a socket is open (goOnline starts it again for a new one).
      const socket = this.socket
      if (!socket || !this.isOpen) return
      // A ping that gets no pong means the connection is dead though not yet closed (and a
      // close handshake over a dead path could take long): drop it and connect anew.
      this.request({ action: 'ping' }, this.deps.pongTimeoutMs ?? 5_000).then(
        () => {
          if (this.socket === socket) this.schedulePing()
        },
        (err: unknown) => {
          if (this.socket !== socket) return
          if (err instanceof RequestError && err.code === 'timeout') {
            this.drop(socket, 4000, 'ping timeout')
            this.scheduleReconnect()
          } else {
            this.schedulePing() // refused (say, rate limited), not lost: keep listening
          }
        },
      )
    }, every)
  }

  private handleFrame(data: unknown): void {
    if (typeof data !== 'string') return
    let frame: { type?: string; requestId?: string | null; cursor?: unknown }
    try {
      frame = JSON.parse(data) as typeof frame
    } catch {
      return
    }
    if (!frame || typeof frame !== 'object') return
    switch (frame.type) {
      case 'hello':
        void this.onHello(frame as unknown as HelloFrame)
        return
      case 'ack':
      case 'pong':
      case 'error': {
        const p = frame.requestId ? this.pending.get(frame.requestId) : undefined
        if (!p) return
        this.pending.delete(frame.requestId as string)
        this.clearTimer(p.timer)
        if (frame.type === 'error') {
          const e = (frame as unknown as ErrorFrame).error
          p.reject(new RequestError(e?.code ?? 'error', e?.message ?? 'Request failed'))
        } else p.resolve(frame as AckFrame)
        return
      }
      default: {
        const event = frame as unknown as ServerEvent
        if (isDurable(event)) {
          this.queue.push({ event })
          void this.pump()
        } else {
          this.deps.onEvent(event, true)
        }
      }
    }
  }

  private async onHello(hello: HelloFrame): Promise<void> {
    const socket = this.socket
    if (!socket) return
    this.attempt = 0
    this.networkDown = false
    this.meId = hello.userId
    this.deps.onOnline?.(hello.online ?? [])
    if (hello.muted) this.deps.onMutes?.(hello.muted)
    const since = this.resumeCursor
    if (since === null) {
      this.resumeCursor = hello.cursor
      this.deps.onHello(hello, false)
      this.goOnline()
      return
    }
    this.setStatus('syncing')
    this.syncing = true
    let resumed: boolean | null
    try {
      resumed = await this.catchUp(since, socket)
    } catch (err) {
      this.fail(err, socket)
      return
    }
    if (resumed === null) return
    if (!resumed) {
      // Reload everything from hello's position; what we knew of each conversation's
      // sequence is as old as the cursor the server refused.
      this.resumeCursor = hello.cursor
      this.eventSeqs.clear()
      this.seedsPaused = true
    }
    this.deps.onHello(hello, resumed)
    this.goOnline()
  }

  /** Live events buffered during the catch-up are applied next, in arrival order. */
  private goOnline(): void {
    this.syncing = false
    this.setStatus('online')
    this.schedulePing()
    void this.pump()
  }

  /** Applies every event after `since`, page by page, moving the resume cursor page by page.
   * False when the server refused the cursor; null when `socket` was replaced meanwhile;
   * throws on any other failure. */
  private async catchUp(since: string, socket: SocketLike): Promise<boolean | null> {
    let cursor = since
    for (let guard = 0; guard < 10_000; guard++) {
      let page: SyncPage
      try {
        page = await this.deps.fetchSync(cursor)
      } catch (err) {
        if (this.deps.isCursorRejected?.(err) && !this.deps.isFatal?.(err)) return false
        throw err
      }
      if (this.socket !== socket) return null
      for (const event of page.events) {
        await this.accept(event, socket, false)
        if (this.socket !== socket) return null
      }
      cursor = page.cursor
      this.resumeCursor = cursor
      if (!page.hasMore) break
    }
    return true
  }
}
