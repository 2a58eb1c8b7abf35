import { apiUrl } from './config'
import { COOKIE_SESSION_HEADERS, clearSession, getAccessToken, hasSession, setTokens, takeLegacyRefreshToken } from './session'
import type { Tokens } from './types'

/** An API failure with the server's stable error code and its `details`, if any. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: Readonly<Record<string, unknown>>
  constructor(status: number, code: string, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
  }

  /** The request field the error is about (`details.field`), if the server named one. */
  get field(): string | undefined {
    return typeof this.details.field === 'string' ? this.details.field : undefined
  }
}

/** The network failed (server down, offline): the request may be retried. */
export class NetworkError extends Error {}

export interface RequestOptions {
  method?: string
  body?: unknown
  /** Send the bearer token and refresh it once on 401 (default true). */
  auth?: boolean
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>
  signal?: AbortSignal
}

let refreshing: Promise<boolean> | null = null

/**
 * Rotate the refresh token (it travels only in the HttpOnly cookie); concurrent callers in
 * this tab share one request. Other tabs may refresh at the same moment with the same
 * cookie: the server answers both with the same successor, so no tab is signed out.
 */
export function refreshSession(): Promise<boolean> {
  if (!refreshing) {
    refreshing = (async () => {
      if (!hasSession()) return false
      const legacy = takeLegacyRefreshToken()
      try {
        const tokens = await raw<Tokens>('/api/auth/refresh', {
          method: 'POST',
          body: legacy ? { refreshToken: legacy } : {},
          headers: COOKIE_SESSION_HEADERS,
          auth: false,
        })
        setTokens(tokens)
        return true
      } catch (err) {
        if (err instanceof ApiError && err.status < 500) clearSession()
        if (err instanceof NetworkError || (err instanceof ApiError && err.status >= 500)) throw err
        return false
      }
    })().finally(() => {
      refreshing = null
    })
  }
  return refreshing
}

async function raw<T>(path: string, opts: RequestOptions): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers }
  // A Blob (a picked file) is sent as it is, the raw body an upload route takes; anything else as JSON.
  const binary = opts.body instanceof Blob
  if (opts.body !== undefined) headers['Content-Type'] = binary ? 'application/octet-stream' : 'application/json'
  const token = getAccessToken()
  if (opts.auth !== false && token) headers.Authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(apiUrl(path), {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? undefined : binary ? (opts.body as Blob) : JSON.stringify(opts.body),
      signal: opts.signal,
    })
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err
    throw new NetworkError('Cannot reach the server. Check your connection.')
  }
  if (res.status === 204 || res.status === 202) return undefined as T
  const text = await res.text()
  let data: unknown = null
  if (text || res.ok) {
    try {
      data = JSON.parse(text)
    } catch {
      // A success must carry the JSON it promises; only an error body may be anything.
      if (res.ok) throw new ApiError(res.status, 'invalid_response', `The server sent an unreadable reply (HTTP ${res.status}).`)
      data = null
    }
  }
  if (!res.ok) {
    const error = (data as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error
    const details = error?.details && typeof error.details === 'object' ? (error.details as Record<string, unknown>) : {}
    throw new ApiError(
      res.status,
      error?.code ?? (res.status >= 500 ? 'server_error' : 'http_error'),
      error?.message ?? `Request failed (HTTP ${res.status})`,
      details,
    )
  }
  return data as T
}

/** Call the API; with auth, a 401 triggers one refresh and one retry. */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  if (opts.auth !== false && !getAccessToken() && hasSession()) {
    await refreshSession()
  }
  try {
    return await raw<T>(path, opts)
  } catch (err) {
    if (opts.auth !== false && err instanceof ApiError && err.status === 401) {
      if (await refreshSession()) return raw<T>(path, opts)
      clearSession()
    }
    throw err
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError || err instanceof NetworkError) return err.message
  if (err instanceof Error) return err.message
  return 'Something went wrong.'
}
