import { clsx } from 'clsx'
import { useEffect, useState } from 'react'
import { SearchIcon } from '@/components/icons'
import { Button, Spinner, TextInput, focusRing } from '@/components/ui'
import { errorMessage } from '@/lib/http'
import { formatClock } from '@/lib/time'
import type { MessageSearchResult } from '@/lib/types'
import { MAX_QUERY_CHARS, useMessageSearch } from './api'
import { Snippet } from './Snippet'

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value)
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms)
    return () => clearTimeout(t)
  }, [value, ms])
  return v
}

function when(iso: string): string {
  const at = new Date(iso)
  const today = new Date().toDateString() === at.toDateString()
  return today ? formatClock(iso) : at.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })
}

/** Search the messages of the user's chats as they type; each result opens its message. */
export function MessageSearch({ meId, titleOf, onOpen, autoFocus }: { meId: string; titleOf(result: MessageSearchResult): string; onOpen(result: MessageSearchResult): void; autoFocus?: boolean }) {
  const [q, setQ] = useState('')
  const debounced = useDebounced(q.trim(), 250)
  const { results, isFetching, isFetchingNextPage, error, hasNextPage, fetchNextPage, isPlaceholderData } = useMessageSearch(debounced)
  return (
    <div className="space-y-2">
      <label className="relative block">
        <span className="sr-only">Search messages</span>
        <SearchIcon className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-zinc-400" />
        <TextInput type="search" className="pl-9" placeholder="Words from a message" value={q} maxLength={MAX_QUERY_CHARS} onChange={(e) => setQ(e.target.value)} autoFocus={autoFocus} aria-label="Search messages" />
        {isFetching && <Spinner className="absolute top-1/2 right-3 -translate-y-1/2 text-zinc-400" />}
      </label>
      {error && <p className="text-sm text-red-600">{errorMessage(error)}</p>}
      {debounced && !isFetching && !isPlaceholderData && results.length === 0 && !error && <p className="px-1 py-3 text-sm text-zinc-500">No messages found for “{debounced}”.</p>}
      <ul className="space-y-0.5" aria-label="Message results">
        {results.map((r) => {
          const title = titleOf(r)
          // Who said it, where the title does not already say so (a direct chat's is the other person).
          const sender = r.message.senderId === meId ? 'You' : r.conversation.kind === 'group' ? (r.sender?.displayName ?? 'Someone') : null
          return (
            <li key={r.message.id}>
              <button
                type="button"
                onClick={() => onOpen(r)}
                data-testid="message-result"
                className={clsx('block w-full rounded-xl px-2 py-2 text-left hover:bg-zinc-100 dark:hover:bg-zinc-800', focusRing)}
              >
                <span className="flex items-baseline gap-2 text-xs text-zinc-500 dark:text-zinc-400">
                  <span className="min-w-0 flex-1 truncate font-semibold text-zinc-800 dark:text-zinc-200">
                    <bdi>{title}</bdi>
                  </span>
                  <time dateTime={r.message.createdAt}>{when(r.message.createdAt)}</time>
                </span>
                <span className="mt-0.5 line-clamp-2 block text-sm break-words">
                  {sender && (
                    <span className="font-medium">
                      <bdi>{sender}</bdi>:{' '}
                    </span>
                  )}
                  <Snippet segments={r.snippet} />
                </span>
              </button>
            </li>
          )
        })}
      </ul>
      {hasNextPage && (
        <Button variant="ghost" className="w-full" disabled={isFetchingNextPage} onClick={() => void fetchNextPage()}>
          {isFetchingNextPage ? <Spinner /> : 'More results'}
        </Button>
      )}
    </div>
  )
}
