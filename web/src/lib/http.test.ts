import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { parseConfig, setConfig } from './config'
import { ApiError, NetworkError, api } from './http'
import { clearSession, getAccessToken, hasSession, onSessionEnded, setTokens } from './session'

type Handler = (url: string, init: RequestInit) => Response | Promise<Response>

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

let calls: { url: string; auth?: string; mode?: string; body?: unknown }[] = []
function stubFetch(handler: Handler) {
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    const headers = (init.headers ?? {}) as Record<string, string>
    calls.push({
      url,
      auth: headers.Authorization,
      mode: headers['X-Hubbub-Refresh'],
      body: init.body ? JSON.parse(init.body as string) : undefined,
    })
    return handler(url, init)
  })
}

describe('api()', () => {
  beforeEach(() => {
    calls = []
    clearSession()
    localStorage.clear()
    setConfig({ apiBaseUrl: 'http://api.test', wsUrl: '' })
  })
  afterEach(() => vi.unstubAllGlobals())

  it('refreshes once on 401 through the cookie and retries with the new access token', async () => {
    setTokens({ accessToken: 'old' })
    stubFetch((url, init) => {
      if (url.endsWith('/api/auth/refresh')) return json(200, { accessToken: 'new', expiresIn: 900 })
      const auth = (init.headers as Record<string, string>).Authorization
      return auth === 'Bearer new' ? json(200, { ok: true }) : json(401, { error: { code: 'unauthorized', message: 'expired' } })
    })
    await expect(api('/api/users/me')).resolves.toEqual({ ok: true })
    expect(calls.map((c) => c.url)).toEqual(['http://api.test/api/users/me', 'http://api.test/api/auth/refresh', 'http://api.test/api/users/me'])
    // The refresh token is the HttpOnly cookie's business: never in the body, never stored.
    expect(calls[1]).toMatchObject({ mode: 'cookie', body: {} })
    expect(getAccessToken()).toBe('new')
    expect(Object.keys(localStorage)).toEqual(['hubbub.session'])
  })

  it('moves a refresh token left in localStorage by an earlier version into the cookie', async () => {
    localStorage.setItem('hubbub.refreshToken', 'r1')
    stubFetch((url) =>
      url.endsWith('/api/auth/refresh') ? json(200, { accessToken: 'new', expiresIn: 900 }) : json(200, { ok: true }),
    )
    await expect(api('/api/users/me')).resolves.toEqual({ ok: true })
    expect(calls[0]).toMatchObject({ url: 'http://api.test/api/auth/refresh', mode: 'cookie', body: { refreshToken: 'r1' } })
    expect(localStorage.getItem('hubbub.refreshToken')).toBeNull()
    expect(calls[1].auth).toBe('Bearer new')
  })

  it('does not try to refresh when there was never a session', async () => {
    stubFetch(() => json(401, { error: { code: 'unauthorized', message: 'no' } }))
    await expect(api('/api/users/me')).rejects.toMatchObject({ status: 401 })
    expect(calls.map((c) => c.url)).toEqual(['http://api.test/api/users/me'])
  })

  it('ends the session when the refresh is refused', async () => {
    setTokens({ accessToken: 'old' })
    const ended = vi.fn()
    const off = onSessionEnded(ended)
    stubFetch(() => json(401, { error: { code: 'unauthorized', message: 'no' } }))
    await expect(api('/api/users/me')).rejects.toMatchObject({ status: 401, code: 'unauthorized' })
    expect(hasSession()).toBe(false)
    expect(getAccessToken()).toBeNull()
    expect(ended).toHaveBeenCalled()
    off()
  })

  it('refuses a success whose body is not JSON instead of returning null', async () => {
    for (const body of ['<html>proxy login</html>', '']) {
      stubFetch(() => new Response(body, { status: 200, headers: { 'Content-Type': 'text/html' } }))
      const err = await api('/api/users/me').catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ApiError)
      expect(err).toMatchObject({ status: 200, code: 'invalid_response' })
    }
  })

  it('surfaces the server error code and message', async () => {
    stubFetch(() => json(409, { error: { code: 'conflict', message: 'That username is taken.' } }))
    const err = await api('/api/auth/signup', { method: 'POST', body: {}, auth: false }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ status: 409, code: 'conflict', message: 'That username is taken.' })
  })

  it('reports an unreachable server as a NetworkError', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch')
    })
    await expect(api('/api/users/me', { auth: false })).rejects.toBeInstanceOf(NetworkError)
  })
})

describe('parseConfig', () => {
  it('accepts empty values and trims trailing slashes', () => {
    expect(parseConfig({ apiBaseUrl: '', wsUrl: '' })).toEqual({ apiBaseUrl: '', wsUrl: '' })
    expect(parseConfig({ apiBaseUrl: 'https://chat.example.com/', wsUrl: 'wss://ws.example.com/prod' })).toEqual({
      apiBaseUrl: 'https://chat.example.com',
      wsUrl: 'wss://ws.example.com/prod',
    })
  })
  it('rejects wrong types and schemes', () => {
    expect(() => parseConfig([])).toThrow()
    expect(() => parseConfig({ apiBaseUrl: 3 })).toThrow(/string/)
    expect(() => parseConfig({ apiBaseUrl: 'ftp://x' })).toThrow(/http/)
    expect(() => parseConfig({ wsUrl: 'https://x' })).toThrow(/ws/)
    expect(() => parseConfig({ apiBaseUrl: 'not a url' })).toThrow(/absolute/)
  })
})
