import { clsx } from 'clsx'
import { useMemo, useState } from 'react'
import { Link } from 'react-router'
import { Avatar } from '@/components/Avatar'
import { BellOffIcon, SearchIcon } from '@/components/icons'
import { Spinner, focusRing } from '@/components/ui'
import type { PresenceState } from '@/lib/cache'
import { useIsMuted } from '@/lib/mutes'
import { formatListTime } from '@/lib/time'
import type { Conversation } from '@/lib/types'
import { useConversations } from './api'
import { conversationTitle, otherMember, preview } from './display'

export function ConversationList({ meId, selectedId, presence, typingIn }: { meId: string; selectedId?: string; presence: PresenceState; typingIn?: (c: Conversation) => boolean }) {
  const { data, isPending, error, refetch } = useConversations()
  const [filter, setFilter] = useState('')
  const isMuted = useIsMuted(data)
  const items = useMemo(() => {
    const q = filter.trim().toLowerCase()
    const list = data ?? []
    if (!q) return list
    return list.filter((c) => conversationTitle(c, meId).toLowerCase().includes(q) || c.members.some((m) => m.username.toLowerCase().includes(q)))
  }, [data, filter, meId])

  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <div className="px-3 pb-2">
        <label className="relative block">
          <span className="sr-only">Filter conversations</span>
          <SearchIcon className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-zinc-400" />
          <input
            type="search"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            placeholder="Search chats"
            className="w-full rounded-full border-0 bg-zinc-100 py-2 pr-3 pl-9 text-sm placeholder:text-zinc-600 focus:ring-2 dark:placeholder:text-zinc-400 focus:ring-brand-500/40 focus:outline-none dark:bg-zinc-800/80"
          />
        </label>
      </div>
      <nav aria-label="Conversations" className="min-h-0 flex-1 overflow-y-auto px-2 pb-3 scroll-thin">
        {isPending && (
          <div className="flex justify-center p-6 text-zinc-400">
            <Spinner />
          </div>
        )}
        {error && (
          <p className="p-4 text-sm text-red-600">
            Could not load chats.{' '}
            <button className="underline" onClick={() => void refetch()}>
              Try again
            </button>
          </p>
        )}
        {data && items.length === 0 && (
          <p className="px-4 py-10 text-center text-sm text-zinc-600 dark:text-zinc-400">{filter ? 'No chats match.' : 'No chats yet. Start one with the + button.'}</p>
        )}
        <ul className="space-y-0.5">
          {items.map((c) => {
            const title = conversationTitle(c, meId)
            const other = c.kind === 'direct' ? otherMember(c, meId) : undefined
            const active = c.id === selectedId
            const typing = typingIn?.(c)
            const muted = isMuted(c)
            return (
              <li key={c.id}>
                <Link
                  to={`/c/${c.id}`}
                  data-testid="conversation-item"
                  aria-current={active ? 'page' : undefined}
                  className={clsx(
                    'flex items-center gap-3 rounded-2xl px-2.5 py-2.5 transition-colors',
                    focusRing,
                    active ? 'bg-brand-50 dark:bg-brand-500/15' : 'hover:bg-zinc-100 dark:hover:bg-zinc-800/70',
                  )}
                >
                  <Avatar name={title} seed={other?.id ?? c.id} src={other?.avatarUrl} group={c.kind === 'group'} online={other ? !!presence[other.id] : undefined} />
                  <span className="min-w-0 flex-1">
                    <span className="flex items-baseline justify-between gap-2">
                      <span className="flex min-w-0 items-center gap-1">
                        <span className="truncate font-semibold">{title}</span>
                        {muted && (
                          <span role="img" aria-label="Muted" title="Muted" data-testid="muted-icon" className="shrink-0 text-zinc-500 dark:text-zinc-400">
                            <BellOffIcon className="size-3.5" />
                          </span>
                        )}
                      </span>
                      <time dateTime={c.lastMessage?.createdAt ?? c.updatedAt} className={clsx('shrink-0 text-xs', c.unreadCount > 0 && !muted ? 'font-medium text-brand-600 dark:text-brand-400' : 'text-zinc-600 dark:text-zinc-400')}>
                        {formatListTime(c.lastMessage?.createdAt ?? c.updatedAt)}
                      </time>
                    </span>
                    <span className="mt-0.5 flex items-center justify-between gap-2">
                      <span className={clsx('truncate text-sm', typing ? 'text-brand-600 dark:text-brand-400' : 'text-zinc-600 dark:text-zinc-400', c.lastMessage?.deleted && 'italic')}>
                        {typing ? 'typing…' : preview(c, meId)}
                      </span>
                      {c.unreadCount > 0 && (
                        <span data-testid="unread-badge" aria-label={`${c.unreadCount} unread`} className={clsx('inline-flex h-5 min-w-5 shrink-0 items-center justify-center rounded-full px-1.5 text-[11px] font-semibold text-white', muted ? 'bg-zinc-500 dark:bg-zinc-600' : 'bg-brand-600')}>
                          {c.unreadCount > 99 ? '99+' : c.unreadCount}
                        </span>
                      )}
                    </span>
                  </span>
                </Link>
              </li>
            )
          })}
        </ul>
      </nav>
    </div>
  )
}
