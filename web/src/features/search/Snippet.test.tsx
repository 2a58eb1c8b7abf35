import { render } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { Snippet } from './Snippet'

describe('Snippet', () => {
  it('marks the matched segments and keeps the text whole, in order', () => {
    const { container } = render(
      <Snippet segments={[{ text: '…we take the ', match: false }, { text: 'Ferr', match: true }, { text: 'y at noon', match: false }]} />,
    )
    expect([...container.querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['Ferr'])
    expect(container.textContent).toBe('…we take the Ferry at noon')
  })

  it('shows markup in a message as text, never as HTML', () => {
    const { container } = render(<Snippet segments={[{ text: '<img src=x onerror=alert(1)>', match: false }, { text: '<b>bold</b>', match: true }]} />)
    expect(container.querySelector('img')).toBeNull()
    expect(container.querySelector('b')).toBeNull()
    expect(container.textContent).toBe('<img src=x onerror=alert(1)><b>bold</b>')
  })
})
