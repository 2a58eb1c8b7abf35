import { clsx } from 'clsx'
import { useEffect, useState } from 'react'
import { Avatar } from '@/components/Avatar'
import { SearchIcon } from '@/components/icons'
import { Spinner, TextInput, focusRing } from '@/components/ui'
import { errorMessage } from '@/lib/http'
import type { User } from '@/lib/types'
import { useUserSearch } from './api'

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value)
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms)
    return () => clearTimeout(t)
  }, [value, ms])
  return v
}

/** Search people as you type; each result is a button that calls `onPick`. */
export function UserSearch({ onPick, exclude = [], selected = [], label = 'Search people', autoFocus }: { onPick(user: User): void; exclude?: string[]; selected?: string[]; label?: string; autoFocus?: boolean }) {
  const [q, setQ] = useState('')
  const debounced = useDebounced(q, 200)
  const { data, isFetching, error } = useUserSearch(debounced)
  const results = (debounced.trim() ? (data ?? []) : []).filter((u) => !exclude.includes(u.id))
  return (
    <div className="space-y-2">
      <label className="relative block">
        <span className="sr-only">{label}</span>
        <SearchIcon className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-zinc-400" />
        <TextInput type="search" className="pl-9" placeholder="Search by name or username" value={q} onChange={(e) => setQ(e.target.value)} autoFocus={autoFocus} aria-label={label} />
        {isFetching && <Spinner className="absolute top-1/2 right-3 -translate-y-1/2 text-zinc-400" />}
      </label>
      {error && <p className="text-sm text-red-600">{errorMessage(error)}</p>}
      {debounced.trim() && !isFetching && results.length === 0 && !error && <p className="px-1 py-3 text-sm text-zinc-500">Nobody found for “{debounced.trim()}”.</p>}
      <ul className="space-y-0.5" aria-label="Search results">
        {results.map((u) => {
          const isSelected = selected.includes(u.id)
          return (
            <li key={u.id}>
              <button
                type="button"
                onClick={() => onPick(u)}
                aria-pressed={selected.length || isSelected ? isSelected : undefined}
                aria-label={`${u.displayName} @${u.username}`}
                className={clsx('flex w-full items-center gap-3 rounded-xl px-2 py-2 text-left hover:bg-zinc-100 dark:hover:bg-zinc-800', focusRing, isSelected && 'bg-brand-50 dark:bg-brand-500/15')}
              >
                <Avatar size="sm" name={u.displayName} seed={u.id} src={u.avatarUrl} />
                <span className="min-w-0 flex-1">
                  <span className="block truncate text-sm font-medium">{u.displayName}</span>
                  <span className="block truncate text-xs text-zinc-500">@{u.username}</span>
                </span>
                {isSelected && <span className="text-xs font-semibold text-brand-600">Added</span>}
              </button>
            </li>
          )
        })}
      </ul>
    </div>
  )
}
