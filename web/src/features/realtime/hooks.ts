import { useQuery } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import type { PresenceState, TypingState } from '@/lib/cache'
import { keys } from '@/lib/query-keys'

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
