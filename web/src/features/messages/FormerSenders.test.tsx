import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { cleanup, render } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { MessagesData } from '@/lib/cache'
import { setConfig } from '@/lib/config'
import { keys } from '@/lib/query-keys'
import { clearSession, setTokens } from '@/lib/session'
import type { User } from '@/lib/types'
import { ana, bob, msg } from '@/test/fixtures'
import { MessageList } from './MessageList'
import { formerSenderIds } from './senders'

const cy: User = { id: 'u-cy', username: 'cy', displayName: 'Cy Young', createdAt: '2026-01-01T00:00:00.000Z', avatarUrl: null }

let requested: string[] = []

function stubUsers(known: User[]) {
  vi.stubGlobal('fetch', async (url: string) => {
    requested.push(url)
    const user = known.find((u) => url.endsWith(`/api/users/${u.id}`))
    const body = user ? { user } : { error: { code: 'not_found', message: 'User not found.' } }
    return new Response(JSON.stringify(body), { status: user ? 200 : 404, headers: { 'Content-Type': 'application/json' } })
  })
}

/** A group in which Bob (and whoever else is in `senders`) wrote, seen by Ana. */
function renderGroup(members: User[], senders: string[]) {
  const qc = new QueryClient({ defaultOptions: { queries: { retryDelay: 0 } } })
  const messages = senders.map((senderId, i) => msg(i + 1, { senderId, body: `from ${senderId}` }))
  qc.setQueryData<MessagesData>(keys.messages('c1'), { pages: [{ messages, hasMore: false }], pageParams: [null] })
  const noop = () => undefined
  return render(
    <QueryClientProvider client={qc}>
      <MessageList
        conversationId="c1"
        meId={ana.id}
        members={members}
        memberReadSeqs={{}}
        isGroup
        onRetry={noop}
        onDiscard={noop}
        onEdit={async () => undefined}
        onDelete={async () => undefined}
      />
    </QueryClientProvider>,
  )
}

beforeEach(() => {
  requested = []
  setConfig({ apiBaseUrl: 'http://api.test', wsUrl: '' })
  setTokens({ accessToken: 'token' })
})
afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
  clearSession()
})

describe('authors who are no longer members', () => {
  it('lists each author missing from the members once', () => {
    const messages = [msg(1), msg(2, { senderId: ana.id }), msg(3), msg(4, { senderId: cy.id })]
    expect(formerSenderIds(messages, [ana])).toEqual([bob.id, cy.id])
    expect(formerSenderIds(messages, [ana, bob, cy])).toEqual([])
  })

  it('keep their name, @username and initials, with a hint that they are gone', async () => {
    stubUsers([bob])
    const view = renderGroup([ana], [bob.id])
    const label = view.getByTestId('sender-name')
    await vi.waitFor(() => expect(label.textContent).toContain('Bob Stone @bob'))
    expect(label.textContent).toContain('no longer in the group')
    expect(label.textContent).not.toContain('Former member')
    expect(view.getByTestId('sender-avatar').textContent).toBe('BS')
    expect(requested).toEqual([`http://api.test/api/users/${bob.id}`])
  })

  it('asks for nobody who is still a member', () => {
    stubUsers([bob])
    const view = renderGroup([ana, bob], [bob.id])
    expect(view.getByTestId('sender-name').textContent).toBe('Bob Stone @bob')
    expect(requested).toEqual([])
  })

  it('fall back to "Former member" only when the profile cannot be found', async () => {
    stubUsers([])
    const view = renderGroup([ana], [bob.id])
    await vi.waitFor(() => expect(view.getByTestId('sender-name').textContent).toBe('Former member'))
    expect(requested).toHaveLength(1) // a 404 is not retried
  })
})
