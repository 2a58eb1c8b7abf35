/**
 * Finds the links in a message's plain text. Only http(s) URLs and `www.` host names become
 * links (a `www.` one gets `https://`), so no `javascript:` or other scheme is ever clickable.
 * Trailing punctuation stays text: "see www.example.com." links "www.example.com".
 */
export type Segment = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string }

const URL = String.raw`\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]`
// Not inside a word, an e-mail address, a path or another URL ("a.www.b", "me@www.x").
const WWW = String.raw`(?<![\p{L}\p{N}_.@/\-])www\.[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)+(?::\d{1,5})?(?:[\/?#](?:[^\s<>"']*[^\s<>"'.,;:!?)\]])?)?`
const LINK_RE = new RegExp(`${URL}|${WWW}`, 'giu')

export function linkify(text: string): Segment[] {
  const out: Segment[] = []
  let last = 0
  for (const m of text.matchAll(LINK_RE)) {
    const at = m.index
    if (at > last) out.push({ kind: 'text', text: text.slice(last, at) })
    const href = /^https?:\/\//i.test(m[0]) ? m[0] : `https://${m[0]}`
    out.push({ kind: 'link', text: m[0], href })
    last = at + m[0].length
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) })
  return out
}
