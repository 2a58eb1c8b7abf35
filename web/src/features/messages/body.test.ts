import { describe, expect, it } from 'vitest'
import { COLLAPSE_CHARS, MAX_BODY, bodyLength, collapsedPreview, countBody, normalizeBody } from './body'

describe('normalizeBody (as the server stores it)', () => {
  it('keeps the first line indentation, drops blank lines before and whitespace after', () => {
    expect(normalizeBody('    indented')).toBe('    indented')
    expect(normalizeBody('\n\n  def f():\n      pass\n\n')).toBe('  def f():\n      pass')
    expect(normalizeBody(' \t\r\n  x  \n')).toBe('  x')
    expect(normalizeBody('a\n\n\nb')).toBe('a\n\n\nb')
  })

  it('treats what Python calls whitespace as blank, and nothing more', () => {
    for (const blank of ['', '   ', '\n \t\n', '\u3000\u2028', '\x1c\x85']) expect(normalizeBody(blank)).toBe('')
    // Python does not strip a BOM; JavaScript's trim() would.
    expect(normalizeBody('x\ufeff')).toBe('x\ufeff')
  })
})

describe('counting', () => {
  it('counts code points: one emoji is one', () => {
    expect('😀'.length).toBe(2)
    expect(bodyLength('😀')).toBe(1)
    expect(bodyLength('a😀b')).toBe(3)
  })

  it('allows exactly the limit and refuses one more', () => {
    expect(countBody('😀'.repeat(MAX_BODY))).toEqual({ length: MAX_BODY, tooLong: false, show: true })
    expect(countBody('😀'.repeat(MAX_BODY + 1)).tooLong).toBe(true)
    expect(countBody(`\n\n${'x'.repeat(MAX_BODY)}   `).tooLong).toBe(false)
    expect(countBody('hello').show).toBe(false)
  })
})

describe('collapsedPreview', () => {
  it('leaves short messages whole', () => {
    expect(collapsedPreview('hi')).toBeNull()
    expect(collapsedPreview('x'.repeat(COLLAPSE_CHARS))).toBeNull()
    expect(collapsedPreview(Array(15).fill('line').join('\n'))).toBeNull()
  })

  it('folds long or tall messages to a start cut at a word, never inside an emoji', () => {
    const words = 'lorem ipsum dolor '.repeat(200)
    const preview = collapsedPreview(words)!
    expect(preview.length).toBeLessThan(800)
    expect(words.startsWith(preview)).toBe(true)
    expect(words[preview.length]).toBe(' ')
    const tall = Array(16).fill('line').join('\n')
    expect(collapsedPreview(tall)!.split('\n')).toHaveLength(10)
    const emoji = collapsedPreview('😀'.repeat(MAX_BODY))!
    expect(emoji).toBe('😀'.repeat(bodyLength(emoji)))
  })
})
