/**
 * Tokens: the refresh token survives reloads in localStorage, the access token lives only in
 * memory. Subscribers hear when the session ends (sign-out, or a refresh that failed).
 */
const REFRESH_KEY = 'hubbub.refreshToken'

let accessToken: string | null = null
const listeners = new Set<() => void>()

export function getAccessToken(): string | null {
  return accessToken
}

export function getRefreshToken(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY)
  } catch {
    return null
  }
}

export function setTokens(tokens: { accessToken: string; refreshToken?: string }): void {
  accessToken = tokens.accessToken
  if (tokens.refreshToken) localStorage.setItem(REFRESH_KEY, tokens.refreshToken)
}

export function clearSession(): void {
  const had = accessToken !== null || getRefreshToken() !== null
  accessToken = null
  try {
    localStorage.removeItem(REFRESH_KEY)
  } catch {
    /* storage unavailable: nothing to clear */
  }
  if (had) listeners.forEach((fn) => fn())
}

export function onSessionEnded(fn: () => void): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}
