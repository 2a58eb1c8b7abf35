import type { QueryClient } from '@tanstack/react-query'
import { applyEvent, heldEventSeq, setOnline } from '@/lib/cache'
import { setMutes } from '@/lib/mutes'
import { wsEndpoint } from '@/lib/config'
import { ApiError, api } from '@/lib/http'
import { recordGroupEvent } from '@/lib/notices'
import { keys } from '@/lib/query-keys'
import { RealtimeClient, type SocketLike } from '@/lib/realtime'
import type { RealtimeHandle } from '@/lib/realtime-context'
import type { EventsPage, ServerEvent, SyncPage } from '@/lib/types'

export function fetchTicket(): Promise<{ ticket: string; expiresIn: number }> {
  return api<{ ticket: string; expiresIn: number }>('/api/auth/ws-ticket', { method: 'POST' })
}

export function fetchSync(since: string): Promise<SyncPage> {
  return api<SyncPage>(`/api/sync?${new URLSearchParams({ since })}`)
}

/** One page of a conversation's events after `after` (its eventSeq), oldest first. */
export function fetchEvents(conversationId: string, after: number): Promise<EventsPage> {
  const params = new URLSearchParams({ after: String(after), limit: '500' })
  return api<EventsPage>(`/api/conversations/${encodeURIComponent(conversationId)}/events?${params}`)
}

/** /api/sync refused the resume cursor (410 cursor_expired, 422 a malformed one): reload. */
export function isCursorRejected(err: unknown): boolean {
  return err instanceof ApiError && err.status >= 400 && err.status < 500
}

/** Build the tab's realtime client, writing every event into the query cache; `onLiveEvent`
 * hears each event that arrived as it happened (not the ones a catch-up brought back), once it
 * is in the cache. */
export function createRealtime(qc: QueryClient, meId: string, onLiveEvent?: (event: ServerEvent) => void): RealtimeHandle {
  const listeners = new Set<() => void>()
  const client = new RealtimeClient({
    getTicket: async () => (await fetchTicket()).ticket,
    url: (ticket) => `${wsEndpoint()}?${new URLSearchParams({ ticket })}`,
    fetchSync,
    fetchEvents,
    knownEventSeq: (conversationId) => heldEventSeq(qc, conversationId),
    createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
    onEvent: (event, live) => {
      recordGroupEvent(qc, event, meId) // first: it names people the event may remove
      applyEvent(qc, event, meId)
      if (live) onLiveEvent?.(event)
    },
    onOnline: (online) => setOnline(qc, online),
    onMutes: (muted) => setMutes(qc, muted),
    onHello: (_hello, resumed) => {
      if (!resumed) {
        // Anything loaded before this point may predate hello's cursor: load it again. So may
        // a first load still in flight (a refetch would only join it): cancel it first.
        for (const queryKey of [keys.conversations, keys.every.messages, keys.every.conversation, keys.every.user]) {
          void qc.cancelQueries({ queryKey }).then(() => qc.invalidateQueries({ queryKey }))
        }
      } else {
        // The catch-up brought every conversation change, but not the profiles of the people
        // in them (a rename, "last seen": `user.updated` and `presence` are never replayed):
        // the conversations and profiles on show are loaded again, so no name is stale.
        for (const queryKey of [keys.conversations, keys.every.conversation, keys.every.user]) {
          void qc.invalidateQueries({ queryKey })
        }
      }
    },
    onStatus: () => listeners.forEach((fn) => fn()),
    isFatal: (err) => err instanceof ApiError && err.status === 401,
    isCursorRejected,
    isOnline: () => navigator.onLine,
  })
  return {
    client,
    subscribe(fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
  }
}
