import { infiniteQueryOptions, keepPreviousData, useInfiniteQuery } from '@tanstack/react-query'
import { api } from '@/lib/http'
import { keys } from '@/lib/query-keys'
import type { MessageSearchPage } from '@/lib/types'

/** The server refuses longer queries (422); the input stops there. */
export const MAX_QUERY_CHARS = 100

export function searchMessages(q: string, cursor: string | null, signal?: AbortSignal): Promise<MessageSearchPage> {
  const params = new URLSearchParams({ q, limit: '20' })
  if (cursor) params.set('cursor', cursor)
  return api<MessageSearchPage>(`/api/search/messages?${params}`, { signal })
}

/** Results newest first; the next page continues from the previous page's cursor. */
export const messageSearchQueryOptions = (q: string) =>
  infiniteQueryOptions({
    queryKey: keys.messageSearch(q),
    queryFn: ({ pageParam, signal }) => searchMessages(q, pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last: MessageSearchPage) => last.nextCursor ?? undefined,
    enabled: q.length > 0,
    // Results go stale as people write, edit and delete: a new search asks again.
    staleTime: 0,
    gcTime: 60_000,
    placeholderData: keepPreviousData,
  })

export function useMessageSearch(q: string) {
  const query = useInfiniteQuery(messageSearchQueryOptions(q.trim()))
  const results = q.trim() ? (query.data?.pages.flatMap((p) => p.results) ?? []) : []
  return { ...query, results }
}
