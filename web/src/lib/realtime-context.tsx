import { createContext, useContext, useSyncExternalStore } from 'react'
import type { ConnectionStatus, RealtimeClient } from './realtime'

/** The tab's realtime client plus a way to watch its status. Provided by app/. */
export interface RealtimeHandle {
  client: RealtimeClient
  subscribe(fn: () => void): () => void
}

export const RealtimeContext = createContext<RealtimeHandle | null>(null)

export function useRealtimeClient(): RealtimeClient | null {
  return useContext(RealtimeContext)?.client ?? null
}

const noop = () => () => {}

export function useConnectionStatus(): ConnectionStatus {
  const handle = useContext(RealtimeContext)
  return useSyncExternalStore(handle?.subscribe ?? noop, () => handle?.client.status ?? 'idle')
}
