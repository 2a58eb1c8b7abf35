import { clsx } from 'clsx'
import { useState } from 'react'
import { collapsedPreview } from './body'
import { linkify } from './linkify'

/** Plain text with http(s) and www. links made clickable (opened in a new tab, no referrer). */
export function Linkified({ text, mine }: { text: string; mine: boolean }) {
  return (
    <>
      {linkify(text).map((s, i) =>
        s.kind === 'text' ? (
          s.text
        ) : (
          <a key={i} href={s.href} target="_blank" rel="noopener noreferrer nofollow" className={clsx('underline underline-offset-2 break-all', mine ? 'text-white' : 'text-brand-700 dark:text-brand-300')}>
            {s.text}
          </a>
        ),
      )}
    </>
  )
}

/**
 * A message's text, its spaces and line breaks as written; a long one is folded to its start
 * with "Read more" (and "Show less" once open).
 */
export function MessageText({ text, mine }: { text: string; mine: boolean }) {
  const [open, setOpen] = useState(false)
  const preview = collapsedPreview(text)
  const folded = preview !== null && !open
  return (
    <>
      <span data-testid="message-text" className="whitespace-pre-wrap">
        <Linkified text={folded ? preview : text} mine={mine} />
        {folded && '…'}
      </span>
      {preview !== null && (
        <>
          {' '}
          <button type="button" aria-expanded={open} onClick={() => setOpen(!open)} className={clsx('text-sm font-semibold underline underline-offset-2', mine ? 'text-white' : 'text-brand-700 dark:text-brand-300')}>
            {open ? 'Show less' : 'Read more'}
          </button>
        </>
      )}
    </>
  )
}
