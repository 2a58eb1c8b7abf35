import { render } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { Linkified } from './MessageList'

describe('Linkified', () => {
  it('links http(s) URLs without trailing punctuation and keeps the rest as text', () => {
    const { container } = render(<Linkified text="see https://example.com/a?b=1, and http://x.org/y." mine={false} />)
    const links = [...container.querySelectorAll('a')]
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.com/a?b=1', 'http://x.org/y'])
    expect(links[0].getAttribute('rel')).toContain('noopener')
    expect(container.textContent).toBe('see https://example.com/a?b=1, and http://x.org/y.')
  })

  it('never links other schemes', () => {
    const { container } = render(<Linkified text="javascript:alert(1) ftp://x" mine />)
    expect(container.querySelectorAll('a')).toHaveLength(0)
  })
})
