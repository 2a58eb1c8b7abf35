/**
 * Tokens: the access token lives only in memory, and the refresh token never reaches
 * JavaScript at all. The server keeps it in an HttpOnly, SameSite=Strict cookie scoped to
 * /api/auth (every auth call asks for that with `X-Hubbub-Refresh: cookie`), so an injected
 * script cannot carry it away. localStorage keeps only a hint that a session may exist, so
 * a fresh page knows whether to try a refresh. Subscribers hear when the session ends
 * (sign-out, or a refresh that failed).
 */
const HINT_KEY = 'hubbub.session'
/** Where earlier versions kept the refresh token itself: moved into the cookie once. */
const LEGACY_REFRESH_KEY = 'hubbub.refreshToken'

/** Sent with auth calls: the refresh token goes in the HttpOnly cookie, not in JSON. */
export const COOKIE_SESSION_HEADERS: Readonly<Record<string, string>> = { 'X-Hubbub-Refresh': 'cookie' }

let accessToken: string | null = null
const listeners = new Set<() => void>()

function stored(key: string): string | null {
  try {
    return localStorage.getItem(key)
  } catch {
    return null
  }
}

function forget(key: string): void {
  try {
    localStorage.removeItem(key)
  } catch {
    /* storage unavailable: nothing to clear */
  }
}

export function getAccessToken(): string | null {
  return accessToken
}

/** Whether there may be a session to resume (an access token, or the refresh cookie). */
export function hasSession(): boolean {
  return accessToken !== null || stored(HINT_KEY) !== null || stored(LEGACY_REFRESH_KEY) !== null
}

/** A refresh token left in localStorage by an earlier version, removed as it is read. */
export function takeLegacyRefreshToken(): string | null {
  const token = stored(LEGACY_REFRESH_KEY)
  if (token !== null) forget(LEGACY_REFRESH_KEY)
  return token
}

export function setTokens(tokens: { accessToken: string }): void {
  accessToken = tokens.accessToken
  try {
    localStorage.setItem(HINT_KEY, '1')
  } catch {
    /* storage unavailable: this tab still has its access token */
  }
}

export function clearSession(): void {
  const had = hasSession()
  accessToken = null
  forget(HINT_KEY)
  forget(LEGACY_REFRESH_KEY)
  if (had) listeners.forEach((fn) => fn())
}

export function onSessionEnded(fn: () => void): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}
