import { useQueries } from '@tanstack/react-query'
import { useMemo } from 'react'
import { PersonName } from '@/components/PersonName'
import { ApiError } from '@/lib/http'
import { keys } from '@/lib/query-keys'
import type { Message, User } from '@/lib/types'
import { fetchUser } from '@/lib/users'

/** Who wrote the messages on screen. */
export interface Senders {
  /** Everyone whose name is known: the current members, and former members once fetched. */
  names: ReadonlyMap<string, User>
  /** Authors on screen who are no longer members (they left or were removed). */
  former: ReadonlySet<string>
  /** Former members whose profile is still on its way. */
  loading: ReadonlySet<string>
}

/** Authors of `messages` who are not among `members`, each once, in order of appearance. */
export function formerSenderIds(messages: readonly Message[], members: readonly User[]): string[] {
  const current = new Set(members.map((m) => m.id))
  const former = new Set<string>()
  for (const m of messages) if (!current.has(m.senderId)) former.add(m.senderId)
  return [...former]
}

/**
 * The conversation's members name most authors. Someone who left or was removed is no
 * longer among them, but wrote what is still on screen: their public profile is fetched
 * (GET /api/users/{id}, once per person and cached) so their messages keep their name.
 * Works the same for live events and history, whatever store the server uses.
 */
export function useSenders(messages: readonly Message[], members: readonly User[]): Senders {
  const ids = formerSenderIds(messages, members)
  const key = ids.join(' ')
  const formerIds = useMemo(() => (key ? key.split(' ') : []), [key])
  const { users, pending } = useQueries({
    queries: formerIds.map((id) => ({
      queryKey: keys.user(id),
      queryFn: ({ signal }: { signal: AbortSignal }) => fetchUser(id, signal),
      staleTime: 5 * 60_000,
      // A 404 will not change on retry (an account that is gone); a network error may.
      retry: (failures: number, err: unknown) => !(err instanceof ApiError && err.status < 500) && failures < 3,
    })),
    combine: byPosition,
  })
  return useMemo(() => {
    const names = new Map(members.map((m) => [m.id, m]))
    const loading = new Set<string>()
    formerIds.forEach((id, i) => {
      const user = users[i]
      if (user) names.set(id, user)
      else if (pending[i]) loading.add(id)
    })
    return { names, former: new Set(formerIds), loading }
  }, [members, formerIds, users, pending])
}

/** Stable (module-level), so TanStack Query keeps the combined value while nothing changed. */
function byPosition(results: readonly { data?: User; isPending: boolean }[]) {
  return { users: results.map((r) => r.data), pending: results.map((r) => r.isPending) }
}

/** The name line above a group of someone else's messages. */
export function SenderLabel({ senderId, senders }: { senderId: string; senders: Senders }) {
  const user = senders.names.get(senderId)
  if (!user) return senders.loading.has(senderId) ? <span aria-label="Loading name">…</span> : <>Former member</>
  return (
    <>
      <PersonName user={user} />
      {senders.former.has(senderId) && <span className="font-normal text-zinc-500 dark:text-zinc-400"> · no longer in the group</span>}
    </>
  )
}
