import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { cleanup, render, within } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import type { MessagesData } from '@/lib/cache'
import { keys } from '@/lib/query-keys'
import type { User } from '@/lib/types'
import { ana, msg } from '@/test/fixtures'
import { MessageList } from './MessageList'

const samA: User = { id: 'u-sam-a', username: 'sam_a', displayName: 'Sam Lee', createdAt: '2026-01-01T00:00:00.000Z', avatarUrl: null }
const samB: User = { id: 'u-sam-b', username: 'samlee', displayName: 'Sam Lee', createdAt: '2026-01-01T00:00:00.000Z', avatarUrl: null }
const rtl: User = { id: 'u-rtl', username: 'mallory', displayName: 'Bob\u202Egnp.exe', createdAt: '2026-01-01T00:00:00.000Z', avatarUrl: null }

function renderGroup(members: User[], senders: string[]) {
  const qc = new QueryClient()
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

afterEach(cleanup)

describe('sender names in a group', () => {
  it('tells apart two members who share a display name', () => {
    const view = renderGroup([ana, samA, samB], [samA.id, samB.id])
    const labels = view.getAllByTestId('sender-name').map((el) => el.textContent)
    expect(labels).toEqual(['Sam Lee @sam_a', 'Sam Lee @samlee'])
    expect(new Set(labels).size).toBe(2)
    // Each label sits above the messages of the member it names.
    for (const [sam, body] of [[samA, `from ${samA.id}`], [samB, `from ${samB.id}`]] as const) {
      const group = view.getByText(body).closest('ol')!
      expect(within(group).getByTestId('sender-name').textContent).toContain(`@${sam.username}`)
    }
  })

  it('isolates a right-to-left name so it cannot run into the @username', () => {
    const view = renderGroup([ana, rtl], [rtl.id])
    const label = view.getByTestId('sender-name')
    const isolated = label.querySelector('bdi')
    expect(isolated?.textContent).toBe(rtl.displayName)
    expect(label.textContent?.endsWith('@mallory')).toBe(true)
    expect(isolated?.textContent).not.toContain('@mallory')
  })
})
