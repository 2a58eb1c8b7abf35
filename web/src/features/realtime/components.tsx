import { clsx } from 'clsx'
import type { ConnectionStatus } from '@/lib/realtime'
import { useConnectionStatus } from '@/lib/realtime-context'

const labels: Record<ConnectionStatus, string> = {
  idle: 'Offline',
  connecting: 'Connecting…',
  syncing: 'Catching up…',
  online: 'Online',
  reconnecting: 'Reconnecting…',
  offline: 'Waiting for network…',
  stopped: 'Offline',
}

/** A small dot + label; loud only when something is wrong. */
export function ConnectionStatusBadge() {
  const status = useConnectionStatus()
  const ok = status === 'online'
  return (
    <span
      role="status"
      data-testid="connection-status"
      data-status={status}
      className={clsx(
        'inline-flex items-center gap-1.5 rounded-full py-0.5 text-xs font-medium',
        ok ? 'text-emerald-700 dark:text-emerald-400' : 'bg-amber-100 px-2 text-amber-800 dark:bg-amber-500/15 dark:text-amber-300',
      )}
    >
      <span className={clsx('size-2 rounded-full', ok ? 'bg-emerald-500' : 'animate-pulse bg-amber-500')} />
      {labels[status]}
    </span>
  )
}

/** Over the chat, while it cannot be live: what is wrong, and that sends will wait. Shown
 * only once a connection has been lost (not while the first one is made). */
export function ConnectionBanner() {
  const status = useConnectionStatus()
  if (status !== 'offline' && status !== 'reconnecting') return null
  return (
    <div data-testid="connection-banner" className="bg-amber-100 px-4 py-1.5 text-center text-xs font-medium text-amber-900 dark:bg-amber-500/15 dark:text-amber-200">
      {status === 'offline' ? 'Waiting for network… Messages you send will go out when you are back online.' : 'Reconnecting…'}
    </div>
  )
}

export function TypingIndicator({ names }: { names: string[] }) {
  if (names.length === 0) return <div className="h-6" aria-hidden />
  const text =
    names.length === 1 ? `${names[0]} is typing…` : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : `${names.length} people are typing…`
  return (
    <div className="flex h-6 items-center gap-2 px-1 text-xs text-zinc-500 dark:text-zinc-400" data-testid="typing-indicator" aria-live="polite">
      <span className="inline-flex gap-0.5" aria-hidden>
        {[0, 1, 2].map((i) => (
          <span key={i} className="size-1.5 animate-bounce-dot rounded-full bg-brand-500" style={{ animationDelay: `${i * 0.15}s` }} />
        ))}
      </span>
      {text}
    </div>
  )
}
