import { clsx } from 'clsx'
import { type BodyCount, MAX_BODY } from './body'

/** "3950/4000": shown near the limit, marked past it; `onBrand` for the coloured own bubble. */
export function BodyCounter({ count, onBrand = false, className }: { count: BodyCount; onBrand?: boolean; className?: string }) {
  if (!count.show) return null
  const tone = onBrand ? (count.tooLong ? 'font-semibold text-white underline decoration-red-300 decoration-2' : 'text-white/80') : count.tooLong ? 'font-semibold text-red-600 dark:text-red-400' : 'text-zinc-500'
  return (
    <span data-testid="body-counter" className={clsx('text-xs tabular-nums', tone, className)}>
      {count.length}/{MAX_BODY}
    </span>
  )
}
