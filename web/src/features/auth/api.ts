import { type QueryClient, queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { clearDrafts } from '@/lib/drafts'
import { ApiError, api } from '@/lib/http'
import { keys } from '@/lib/query-keys'
import { COOKIE_SESSION_HEADERS, clearSession, hasSession, setTokens } from '@/lib/session'
import type { SignInResult, SignUpResult, User } from '@/lib/types'

// Fetchers
export function signUp(input: { username: string; email: string; password: string; displayName: string }) {
  return api<SignUpResult>('/api/auth/signup', { method: 'POST', body: input, auth: false })
}

export function confirmSignUp(input: { username: string; code: string }) {
  return api<{ user: User }>('/api/auth/confirm', { method: 'POST', body: input, auth: false })
}

export function resendCode(username: string) {
  return api<void>('/api/auth/resend-code', { method: 'POST', body: { username }, auth: false })
}

/** Asks for a password reset code; the server answers 202 whether or not the account exists. */
export function forgotPassword(username: string) {
  return api<void>('/api/auth/forgot-password', { method: 'POST', body: { username }, auth: false })
}

/** Sets a new password with the emailed code; every session of the account is signed out. */
export function resetPassword(input: { username: string; code: string; newPassword: string }) {
  return api<void>('/api/auth/reset-password', { method: 'POST', body: input, auth: false })
}

/** Signs in; the refresh token comes back only as an HttpOnly cookie. */
export function signIn(input: { username: string; password: string }) {
  return api<SignInResult>('/api/auth/signin', {
    method: 'POST',
    body: input,
    headers: COOKIE_SESSION_HEADERS,
    auth: false,
  })
}

/** Ends this session on the server (its tokens and sockets) and clears the cookie. */
export async function signOut(): Promise<void> {
  try {
    if (hasSession()) await api<void>('/api/auth/signout', { method: 'POST', body: {}, headers: COOKIE_SESSION_HEADERS })
  } finally {
    clearDrafts()
    clearSession()
  }
}

/** The signed-in user, or null when there is no session. */
export async function fetchMe(): Promise<User | null> {
  if (!hasSession()) return null
  try {
    return (await api<{ user: User }>('/api/users/me')).user
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null
    throw err
  }
}

// Query options
export const meQueryOptions = () =>
  queryOptions({ queryKey: keys.me, queryFn: fetchMe, staleTime: Infinity, retry: 1 })

/** Drop everything the signed-in user had in the cache; `me` becomes null. */
export function forgetSession(qc: QueryClient): void {
  qc.setQueryData(keys.me, null)
  qc.removeQueries({ predicate: (q) => q.queryKey[0] !== keys.me[0] })
}

// Hooks
export function useMe() {
  return useQuery(meQueryOptions())
}

export function useSignIn() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: signIn,
    onSuccess: (res) => {
      setTokens(res)
      qc.setQueryData(keys.me, res.user)
    },
  })
}

export function useSignUp() {
  return useMutation({ mutationFn: signUp })
}

export function useConfirmSignUp() {
  return useMutation({ mutationFn: confirmSignUp })
}

export function useResendCode() {
  return useMutation({ mutationFn: resendCode })
}

export function useForgotPassword() {
  return useMutation({ mutationFn: forgotPassword })
}

export function useResetPassword() {
  return useMutation({ mutationFn: resetPassword })
}

export function useSignOut() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: signOut,
    onSettled: () => forgetSession(qc),
  })
}
