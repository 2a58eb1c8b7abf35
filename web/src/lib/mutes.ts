/**
 * Our own mutes (issue 13). A mute is kept on the server so it follows us to every device:
 * the socket's hello says which of our conversations are muted (the whole truth at connect
 * time) and `conversation.muted` tells of each change made anywhere. Until the socket has
 * spoken, the conversation views' own `muted` and `mutedUntil` (REST) stand in.
 *
 * A timed mute ends by itself with no event: whoever asks compares its end with the clock.
 */
import { type QueryClient, useQuery } from '@tanstack/react-query'
import { useCallback, useEffect, useState } from 'react'
import { keys } from './query-keys'
import type { Conversation } from './types'

/** Conversation id -> when our mute ends (ISO-8601), or null: until we unmute. */
export type Mutes = Record<string, string | null>

type MuteFields = Pick<Conversation, 'id' | 'muted' | 'mutedUntil'>

/** Whether a mute that ends at `until` (null: never) still holds at `now` (ms epoch). */
export function muteHolds(until: string | null, now: number): boolean {
  return until === null || Date.parse(until) > now
}

/** Whether we have `conv` muted at `now`: by the socket's word once it has spoken (`mutes`),
 * else by the view's own fields. */
export function isMuted(conv: MuteFields, mutes: Mutes | undefined, now: number): boolean {
  if (mutes) return conv.id in mutes && muteHolds(mutes[conv.id], now)
  return !!conv.muted && muteHolds(conv.mutedUntil ?? null, now)
}

/** When the next of these mutes in force lapses (ms epoch; Infinity when none will). */
export function nextMuteEnd(conversations: MuteFields[], mutes: Mutes | undefined, now: number): number {
  let next = Infinity
  for (const c of conversations) {
    const until = mutes ? (c.id in mutes ? mutes[c.id] : undefined) : c.muted ? (c.mutedUntil ?? null) : undefined
    if (typeof until !== 'string') continue
    const end = Date.parse(until)
    if (end > now && end < next) next = end
  }
  return next
}

/** The hello's mutes: they replace whatever we knew. */
export function setMutes(qc: QueryClient, mutes: Mutes): void {
  qc.setQueryData<Mutes>(keys.mutes, { ...mutes })
}

/** One change of our mute of a conversation, into the socket's map once it has one. */
export function putMute(qc: QueryClient, conversationId: string, muted: boolean, mutedUntil: string | null): void {
  const current = qc.getQueryData<Mutes>(keys.mutes)
  if (!current) return
  const next = { ...current }
  if (muted) next[conversationId] = mutedUntil
  else delete next[conversationId]
  qc.setQueryData<Mutes>(keys.mutes, next)
}

/** The socket's map of our mutes; undefined until it has spoken. */
export function useMutes(): Mutes | undefined {
  return useQuery<Mutes>({ queryKey: keys.mutes, queryFn: () => ({}), enabled: false, staleTime: Infinity, gcTime: Infinity }).data
}

/** `(conversation) => muted now`, re-rendering the caller when one of the mutes of
 * `conversations` lapses. */
export function useIsMuted(conversations: MuteFields[] | undefined): (conv: MuteFields) => boolean {
  const mutes = useMutes()
  const [now, setNow] = useState(() => Date.now())
  const next = nextMuteEnd(conversations ?? [], mutes, now)
  useEffect(() => {
    if (!Number.isFinite(next)) return
    // setTimeout holds at most ~24.8 days; a longer wait simply looks again then.
    const t = setTimeout(() => setNow(Date.now()), Math.min(Math.max(next - Date.now() + 50, 50), 2 ** 31 - 1))
    return () => clearTimeout(t)
  }, [next])
  return useCallback((conv: MuteFields) => isMuted(conv, mutes, Math.max(now, Date.now())), [mutes, now])
}
