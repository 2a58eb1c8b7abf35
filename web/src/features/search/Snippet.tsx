import type { SnippetSegment } from '@/lib/types'

/** A result's text around the match, the matched beginnings of words in <mark>. Segments are
 * rendered as text, never as HTML: a message saying `<img onerror=…>` shows just that. */
export function Snippet({ segments }: { segments: SnippetSegment[] }) {
  return (
    <span data-testid="search-snippet">
      {segments.map((s, i) =>
        s.match ? (
          <mark key={i} className="rounded-sm bg-amber-200 px-0.5 text-inherit dark:bg-amber-500/40">
            {s.text}
          </mark>
        ) : (
          <span key={i}>{s.text}</span>
        ),
      )}
    </span>
  )
}
