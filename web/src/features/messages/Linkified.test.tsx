import { render } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { Linkified } from './MessageText'
import { linkify } from './linkify'

const links = (text: string) => linkify(text).flatMap((s) => (s.kind === 'link' ? [[s.text, s.href]] : []))

describe('Linkified', () => {
  it('links http(s) URLs without trailing punctuation and keeps the rest as text', () => {
    const { container } = render(<Linkified text="see https://example.com/a?b=1, and http://x.org/y." mine={false} />)
    const anchors = [...container.querySelectorAll('a')]
    expect(anchors.map((a) => a.getAttribute('href'))).toEqual(['https://example.com/a?b=1', 'http://x.org/y'])
    expect(anchors[0].getAttribute('rel')).toContain('noopener')
    expect(anchors[0].getAttribute('rel')).toContain('noreferrer')
    expect(anchors[0].getAttribute('target')).toBe('_blank')
    expect(container.textContent).toBe('see https://example.com/a?b=1, and http://x.org/y.')
  })

  it('never links other schemes', () => {
    const { container } = render(<Linkified text="javascript:alert(1) ftp://x javascript:www.x.com" mine />)
    expect([...container.querySelectorAll('a')].map((a) => a.getAttribute('href'))).toEqual(['https://www.x.com'])
  })
})

describe('linkify', () => {
  it('links www. host names with https:// added', () => {
    expect(links('see www.example.com.')).toEqual([['www.example.com', 'https://www.example.com']])
    expect(links('(WWW.Example.org/a/b?c=1#d)')).toEqual([['WWW.Example.org/a/b?c=1#d', 'https://WWW.Example.org/a/b?c=1#d']])
    expect(links('www.example.com/, then')).toEqual([['www.example.com/', 'https://www.example.com/']])
    expect(links('at www.münchen.de:8080/x!')).toEqual([['www.münchen.de:8080/x', 'https://www.münchen.de:8080/x']])
  })

  it('does not link www. inside a word, an address or another URL', () => {
    expect(links('mail me@www.example.com')).toEqual([])
    expect(links('a.www.example.com swww.example.com www. www.x')).toEqual([])
    expect(links('https://www.example.com/www.other.org')).toEqual([['https://www.example.com/www.other.org', 'https://www.example.com/www.other.org']])
  })

  it('keeps all the text, in order', () => {
    const text = 'a www.b.co c https://d.e f'
    expect(linkify(text).map((s) => s.text).join('')).toBe(text)
  })
})
