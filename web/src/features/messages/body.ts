/**
 * A message body as the server stores and counts it (src/hubbub/domain/rules.py,
 * `message_body`): trailing whitespace and leading blank lines dropped, the first line's
 * indentation kept, and the length counted in code points, so one emoji is one character
 * (String.length counts UTF-16 units, two for most emoji).
 */
export const MAX_BODY = 4000

/** Python's str.isspace() set, which its `\s` and rstrip() use (JS `\s` differs a little). */
const WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
const TRAILING = new RegExp(`[${WS}]+$`)
const LEADING_BLANK_LINES = new RegExp(`^[${WS}]*\\n`)

/** The body the server will store for what was typed ('' when it would refuse it as empty). */
export function normalizeBody(raw: string): string {
  return raw.replace(TRAILING, '').replace(LEADING_BLANK_LINES, '')
}

/** The length the server checks: code points, not UTF-16 units. */
export function bodyLength(body: string): number {
  let n = 0
  for (const _ of body) n++
  return n
}

export interface BodyCount {
  length: number
  tooLong: boolean
  /** Whether to show the counter: near or over the limit. */
  show: boolean
}

/** How far a typed text is from the limit, counted on what the server would store. */
export function countBody(raw: string): BodyCount {
  const length = bodyLength(normalizeBody(raw))
  return { length, tooLong: length > MAX_BODY, show: length > MAX_BODY - 200 }
}

/** Longer than this (characters or lines) shows collapsed, with "Read more". */
export const COLLAPSE_CHARS = 1000
export const COLLAPSE_LINES = 15
const PREVIEW_CHARS = 700
const PREVIEW_LINES = 10

/**
 * The start of a long body to show folded, or null when the body is short enough to show
 * whole. The cut falls after whole code points, at a line end or a space when one is near,
 * so a word or a link is not split.
 */
export function collapsedPreview(body: string): string | null {
  const lines = body.split('\n')
  if (bodyLength(body) <= COLLAPSE_CHARS && lines.length <= COLLAPSE_LINES) return null
  const firstLines = lines.slice(0, PREVIEW_LINES).join('\n')
  const points = Array.from(firstLines)
  if (points.length <= PREVIEW_CHARS) return firstLines.replace(TRAILING, '')
  const head = points.slice(0, PREVIEW_CHARS).join('')
  const space = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\n'))
  const cut = space > head.length * 0.8 ? head.slice(0, space) : head
  return cut.replace(TRAILING, '')
}
