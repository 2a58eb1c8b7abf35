/**
 * The WebSocket client core, free of React: one connection per signed-in tab.
 *
 * Contract:
 * - durable events (those with a `cursor`) reach `onEvent` at most once per cursor, in the
 *   order the server sent them; after a reconnect, everything after the newest applied cursor
 *   is fetched from GET /api/sync (until hasMore is false) before buffered live events;
 * - reconnects use exponential backoff with jitter and a fresh ticket every time;
 * - `request` resolves with the server's ack (or rejects on an error frame, a timeout or a
 *   disconnect), so callers can fall back to REST.
 */
import type { AckFrame, ClientFrame, DurableEvent, ErrorFrame, HelloFrame, ServerEvent, SyncPage } from './types'
import { isDurable } from './types'

export type ConnectionStatus = 'idle' | 'connecting' | 'syncing' | 'online' | 'reconnecting' | 'stopped'

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
  createSocket(url: string): SocketLike
  onEvent(event: ServerEvent): void
  /** `resumed` is false on the first connection (and after a failed catch-up): the caller
   * should reload its queries, which are then at least as new as `hello.cursor`. */
  onHello(hello: HelloFrame, resumed: boolean): void
  /** Who is online, from hello; called as soon as hello arrives, before any catch-up, so
   * presence events that follow it are not overwritten. */
  onOnline?(online: string[]): void
  onStatus?(status: ConnectionStatus): void
  /** The ticket (or a catch-up page) could not be had because the session is gone: stop
   * reconnecting. */
  isFatal?(err: unknown): boolean
  /** The server refused the cursor itself (a 4xx answer to the catch-up): reload instead of
   * resuming. Any other catch-up failure (network, 5xx, an event that could not be applied)
   * is reported through `onError` and retried on a fresh connection from the same cursor. */
  isCursorRejected?(err: unknown): boolean
  /** A failure the client recovered from by retrying; default `console.error`. */
  onError?(err: unknown): void
  random?(): number
  setTimer?(fn: () => void, ms: number): unknown
  clearTimer?(handle: unknown): void
  requestTimeoutMs?: number
  pingIntervalMs?: number
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

const OPEN = 1
const MAX_REMEMBERED_CURSORS = 5000

export function backoffDelay(attempt: number, random: () => number): number {
  const base = Math.min(30_000, 500 * 2 ** attempt)
  return Math.round(base / 2 + random() * (base / 2))
}

export class RealtimeClient {
  status: ConnectionStatus = 'idle'
  /** The newest durable cursor applied; null until the first hello. */
  cursor: string | null = null
  private readonly applied = new Set<string>()
  private readonly appliedOrder: string[] = []
  private socket: SocketLike | null = null
  private attempt = 0
  private retryTimer: unknown = null
  private pingTimer: unknown = null
  private pending = new Map<string, Pending>()
  private buffer: DurableEvent[] | null = null
  private nextRequestId = 1
  private generation = 0
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
    if (socket) {
      socket.onclose = null
      socket.onmessage = null
      socket.close(1000, 'bye')
    }
    this.failPending(new RequestError('disconnected', 'Connection closed'))
  }

  /** Reconnect now (the browser came back online, or the tab woke up). */
  nudge(): void {
    if (this.status === 'reconnecting') {
      this.clearTimer(this.retryTimer)
      this.attempt = 0
      void this.connect()
    }
  }

  /** Fire and forget (typing); false when the socket is not open. */
  send(frame: ClientFrame): boolean {
    if (!this.isOpen || !this.socket) return false
    this.socket.send(JSON.stringify(frame))
    return true
  }

  /** Send a frame that gets an ack; rejects when it cannot be sent or is not acked. */
  request(frame: ClientFrame): Promise<AckFrame> {
    if (!this.isOpen || !this.socket) return Promise.reject(new RequestError('disconnected', 'Not connected'))
    const requestId = `r${this.nextRequestId++}`
    const socket = this.socket
    return new Promise<AckFrame>((resolve, reject) => {
      const timer = this.setTimer(() => {
        this.pending.delete(requestId)
        reject(new RequestError('timeout', 'The server did not answer in time'))
      }, this.deps.requestTimeoutMs ?? 10_000)
      this.pending.set(requestId, {
        resolve: (ack) => {
          if (ack.cursor) this.markApplied(ack.cursor)
          resolve(ack)
        },
        reject,
        timer,
      })
      socket.send(JSON.stringify({ ...frame, requestId }))
    })
  }

  /** True if this cursor was already applied (so the event must be skipped). */
  hasApplied(cursor: string): boolean {
    return this.applied.has(cursor)
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
    this.cursor = cursor
  }

  private deliver(event: DurableEvent): void {
    if (this.applied.has(event.cursor)) return
    this.deps.onEvent(event)
    this.markApplied(event.cursor)
  }

  private async connect(): Promise<void> {
    const gen = this.generation
    this.setStatus(this.cursor === null && this.attempt === 0 ? 'connecting' : 'reconnecting')
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
      this.buffer = null
      this.failPending(new RequestError('disconnected', 'Connection lost'))
      if (gen === this.generation) this.scheduleReconnect()
    }
    socket.onerror = () => {
      /* onclose follows */
    }
  }

  private scheduleReconnect(): void {
    this.setStatus('reconnecting')
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
    const every = this.deps.pingIntervalMs ?? 25_000
    const socket = this.socket
    this.pingTimer = this.setTimer(() => {
      if (this.socket !== socket || !socket) return
      // A ping that gets no pong means the connection is dead though not yet closed.
      this.request({ action: 'ping' }).then(
        () => this.schedulePing(),
        (err: unknown) => {
          if (err instanceof RequestError && err.code === 'timeout' && this.socket === socket) socket.close(4000, 'ping timeout')
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
          if (this.buffer) this.buffer.push(event)
          else this.deliver(event)
        } else {
          this.deps.onEvent(event)
        }
      }
    }
  }

  private async onHello(hello: HelloFrame): Promise<void> {
    const socket = this.socket
    this.attempt = 0
    this.deps.onOnline?.(hello.online ?? [])
    const since = this.cursor
    if (since === null) {
      this.markApplied(hello.cursor)
      this.deps.onHello(hello, false)
      this.setStatus('online')
      this.schedulePing()
      return
    }
    this.setStatus('syncing')
    this.buffer = []
    let resumed: boolean | null
    try {
      resumed = await this.catchUp(since, socket)
    } catch (err) {
      if (this.socket !== socket) return
      if (this.deps.isFatal?.(err)) {
        this.stop()
        return
      }
      ;(this.deps.onError ?? console.error)(err)
      socket?.close(4000, 'catch-up failed') // reconnect with backoff, resume from this.cursor
      return
    }
    if (resumed === null) return
    if (!resumed) this.markApplied(hello.cursor) // reload everything from hello's position
    const buffered = this.buffer ?? []
    this.buffer = null
    this.deps.onHello(hello, resumed)
    for (const event of buffered) this.deliver(event)
    this.setStatus('online')
    this.schedulePing()
  }

  /** Applies every event after `since`, page by page. False when the server refused the
   * cursor; null when `socket` was replaced meanwhile; throws on any other failure. */
  private async catchUp(since: string, socket: SocketLike | null): Promise<boolean | null> {
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
      for (const event of page.events) this.deliver(event)
      cursor = page.cursor
      if (!page.hasMore) break
    }
    this.cursor = cursor
    return true
  }
}
