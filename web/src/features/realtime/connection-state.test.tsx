import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { act, cleanup, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { setOnline } from '@/lib/cache'
import type { ConnectionStatus, RealtimeClient } from '@/lib/realtime'
import { RealtimeContext, type RealtimeHandle } from '@/lib/realtime-context'
import { ConnectionBanner, ConnectionStatusBadge } from './components'
import { useLivePresence } from './hooks'

/** A handle whose status the test sets, as the realtime client would. */
function fakeHandle(initial: ConnectionStatus) {
  const listeners = new Set<() => void>()
  const client = { status: initial } as RealtimeClient
  const handle: RealtimeHandle = {
    client,
    subscribe(fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
  }
  const set = (status: ConnectionStatus) =>
    act(() => {
      client.status = status
      listeners.forEach((fn) => fn())
    })
  return { handle, set }
}

function Dot({ userId }: { userId: string }) {
  return <span data-testid="dot">{useLivePresence()[userId] ? 'online' : 'not online'}</span>
}

function renderApp(status: ConnectionStatus) {
  const qc = new QueryClient()
  setOnline(qc, ['u-bob'])
  const { handle, set } = fakeHandle(status)
  render(
    <QueryClientProvider client={qc}>
      <RealtimeContext.Provider value={handle}>
        <ConnectionStatusBadge />
        <ConnectionBanner />
        <Dot userId="u-bob" />
      </RealtimeContext.Provider>
    </QueryClientProvider>,
  )
  return set
}

afterEach(cleanup)

describe('the connection state on screen', () => {
  it('says Online and shows presence only while connected', () => {
    const set = renderApp('online')
    expect(screen.getByTestId('connection-status').textContent).toBe('Online')
    expect(screen.queryByTestId('connection-banner')).toBeNull()
    expect(screen.getByTestId('dot').textContent).toBe('online')

    set('offline')
    expect(screen.getByTestId('connection-status').textContent).toBe('Waiting for network…')
    expect(screen.getByTestId('connection-banner').textContent).toContain('Waiting for network…')
    expect(screen.getByTestId('dot').textContent).toBe('not online')

    set('reconnecting')
    expect(screen.getByTestId('connection-status').textContent).toBe('Reconnecting…')
    expect(screen.getByTestId('connection-banner').textContent).toBe('Reconnecting…')
    expect(screen.getByTestId('dot').textContent).toBe('not online')

    set('online')
    expect(screen.getByTestId('dot').textContent).toBe('online')
  })
})
