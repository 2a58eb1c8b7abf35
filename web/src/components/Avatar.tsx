import { clsx } from 'clsx'

const palette = [
  'bg-rose-500', 'bg-orange-500', 'bg-amber-500', 'bg-lime-600', 'bg-emerald-500', 'bg-teal-500',
  'bg-cyan-600', 'bg-sky-500', 'bg-blue-500', 'bg-indigo-500', 'bg-violet-500', 'bg-fuchsia-500', 'bg-pink-500',
]

export function initials(name: string): string {
  const parts = name
    .trim()
    .split(/\s+/)
    .map((w) => w.replace(/[^\p{L}\p{N}]/gu, ''))
    .filter(Boolean)
  if (parts.length === 0) return '?'
  const first = [...parts[0]][0] ?? ''
  const second = parts.length > 1 ? ([...parts[parts.length - 1]][0] ?? '') : ([...parts[0]][1] ?? '')
  return (first + (parts.length > 1 ? second : '')).toUpperCase()
}

function colorFor(seed: string): string {
  let h = 0
  for (let i = 0; i < seed.length; i++) h = (h * 31 + seed.charCodeAt(i)) | 0
  return palette[Math.abs(h) % palette.length]
}

const sizes = { sm: 'size-8 text-xs', md: 'size-11 text-sm', lg: 'size-14 text-lg' }

export function Avatar({ name, seed, size = 'md', online, group, testId }: { name: string; seed: string; size?: keyof typeof sizes; online?: boolean; group?: boolean; testId?: string }) {
  return (
    <span className="relative inline-flex shrink-0" data-testid={testId}>
      <span aria-hidden className={clsx('inline-flex items-center justify-center font-semibold text-white select-none', sizes[size], colorFor(seed), group ? 'rounded-2xl' : 'rounded-full')}>
        {initials(name)}
      </span>
      {online !== undefined && (
        <span
          data-testid="presence-dot"
          data-online={online ? 'true' : 'false'}
          aria-label={online ? 'online' : 'offline'}
          role="img"
          className={clsx(
            'absolute right-0 bottom-0 size-3 rounded-full ring-2 ring-white dark:ring-zinc-950',
            online ? 'bg-emerald-500' : 'bg-zinc-300 dark:bg-zinc-600',
          )}
        />
      )}
    </span>
  )
}
