import * as RadixAvatar from '@radix-ui/react-avatar'
import { clsx } from 'clsx'
import { apiUrl } from '@/lib/config'

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

/** A person's picture (`src`: their `avatarUrl`) or, while it loads, fails or is absent, their
 * initials on a colour of their own. Decorative: the name is always written next to it. */
export function Avatar({ name, seed, src, size = 'md', online, group, testId }: { name: string; seed: string; src?: string | null; size?: keyof typeof sizes; online?: boolean; group?: boolean; testId?: string }) {
  const shape = group ? 'rounded-2xl' : 'rounded-full'
  return (
    <span className="relative inline-flex shrink-0" data-testid={testId}>
      <RadixAvatar.Root aria-hidden className={clsx('inline-flex overflow-hidden select-none', sizes[size], shape)}>
        {/* keyed by URL: a new picture is loaded afresh rather than keeping the old one's state */}
        {src && <RadixAvatar.Image key={src} src={apiUrl(src)} alt="" className="size-full object-cover" />}
        <RadixAvatar.Fallback className={clsx('inline-flex size-full items-center justify-center font-semibold text-white', colorFor(seed))}>
          {initials(name)}
        </RadixAvatar.Fallback>
      </RadixAvatar.Root>
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
