import { type QueryClient, useQuery, useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from 'react'
import type { PresenceState, TypingState } from '@/lib/cache'
import { keys } from '@/lib/query-keys'
import { useConnectionStatus } from '@/lib/realtime-context'

const empty = {}

/** User ids typing in a conversation right now (entries expire after ~5 s). */
export function useTypingUsers(conversationId: string): string[] {
  const { data } = useQuery<TypingState>({
    queryKey: keys.typing(conversationId),
    queryFn: () => ({}),
    staleTime: Infinity,
    initialData: empty,
  })
  const [now, setNow] = useState(() => Date.now())
  const entries = Object.entries(data ?? empty)
  const next = entries.reduce((min, [, exp]) => (exp > now && exp < min ? exp : min), Infinity)
  useEffect(() => {
    if (next === Infinity) return
    const t = setTimeout(() => setNow(Date.now()), Math.max(50, next - Date.now() + 20))
    return () => clearTimeout(t)
  }, [next, data])
  useEffect(() => setNow(Date.now()), [data])
  return entries.filter(([, exp]) => exp > now).map(([id]) => id)
}

export function usePresence(): PresenceState {
  return useQuery<PresenceState>({
    queryKey: keys.presence,
    queryFn: () => ({}),
    staleTime: Infinity,
    initialData: empty,
  }).data
}

/** Who is online, as far as we can know: nobody while we are not connected, since presence
 * events are not reaching us (hello brings the full list again on reconnecting). */
export function useLivePresence(): PresenceState {
  const presence = usePresence()
  const status = useConnectionStatus()
  return status === 'online' || status === 'syncing' ? presence : empty
}

/** Conversation ids where someone is typing right now (for the conversation list). */
export function useTypingConversations(): Set<string> {
  const qc = useQueryClient()
  const [tick, setTick] = useState(0)
  const subscribe = useCallback(
    (notify: () => void) =>
      qc.getQueryCache().subscribe((e) => {
        if (e.query.queryKey[0] === 'typing' && e.type === 'updated') notify()
      }),
    [qc],
  )
  // A string snapshot, so only a real change re-renders (not every cache event).
  const snapshot = useSyncExternalStore(subscribe, () => typingSnapshot(qc, Date.now()))
  const [ids, nextExpiry] = useMemo(() => {
    const [list, next] = snapshot.split('|')
    return [new Set(list ? list.split(',') : []), Number(next)] as const
  }, [snapshot])
  useEffect(() => {
    if (!Number.isFinite(nextExpiry)) return
    const t = setTimeout(() => setTick(tick + 1), Math.max(50, nextExpiry - Date.now() + 20))
    return () => clearTimeout(t)
  }, [nextExpiry, tick])
  return ids
}

function typingSnapshot(qc: QueryClient, now: number): string {
  const ids: string[] = []
  let next = Infinity
  for (const q of qc.getQueryCache().findAll({ queryKey: keys.every.typing })) {
    let active = false
    for (const exp of Object.values((q.state.data as TypingState | undefined) ?? {})) {
      if (exp > now) {
        active = true
        next = Math.min(next, exp)
      }
    }
    if (active) ids.push(q.queryKey[1] as string)
  }
  return `${ids.sort().join(',')}|${next}`
}
