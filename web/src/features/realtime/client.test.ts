import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setConfig } from '@/lib/config'
import { clearSession, setTokens } from '@/lib/session'
import { fetchEvents, fetchSync, isCursorRejected } from './client'

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

describe('the realtime client over HTTP', () => {
  let urls: string[] = []
  beforeEach(() => {
    urls = []
    clearSession()
    setConfig({ apiBaseUrl: 'http://api.test', wsUrl: '' })
    setTokens({ accessToken: 'a' })
  })
  afterEach(() => vi.unstubAllGlobals())

  it('fetches a conversation\'s events after a sequence number', async () => {
    const page = { events: [], hasMore: false, lastEventSeq: 7 }
    vi.stubGlobal('fetch', async (url: string) => {
      urls.push(url)
      return json(200, page)
    })
    await expect(fetchEvents('g/1', 5)).resolves.toEqual(page)
    expect(urls).toEqual(['http://api.test/api/conversations/g%2F1/events?after=5&limit=500'])
  })

  it('takes an expired resume cursor (410) for a reload, and a server failure for a retry', async () => {
    let status = 410
    vi.stubGlobal('fetch', async () => json(status, { error: { code: status === 410 ? 'cursor_expired' : 'internal_error', message: 'x' } }))
    const expired = await fetchSync('s2.abc').catch((err: unknown) => err)
    expect(isCursorRejected(expired)).toBe(true)
    status = 503
    const down = await fetchSync('s2.abc').catch((err: unknown) => err)
    expect(isCursorRejected(down)).toBe(false)
  })
})
