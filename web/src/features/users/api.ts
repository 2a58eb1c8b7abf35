import { keepPreviousData, queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from '@/lib/http'
import { keys } from '@/lib/query-keys'
import type { User } from '@/lib/types'

export async function searchUsers(q: string, signal?: AbortSignal): Promise<User[]> {
  const params = new URLSearchParams({ q, limit: '20' })
  return (await api<{ users: User[] }>(`/api/users/search?${params}`, { signal })).users
}

export const userSearchQueryOptions = (q: string) =>
  queryOptions({
    queryKey: keys.userSearch(q),
    queryFn: ({ signal }) => searchUsers(q, signal),
    enabled: q.trim().length > 0,
    staleTime: 30_000,
    placeholderData: keepPreviousData,
  })

export function useUserSearch(q: string) {
  return useQuery(userSearchQueryOptions(q.trim()))
}

export async function updateMe(displayName: string): Promise<User> {
  return (await api<{ user: User }>('/api/users/me', { method: 'PATCH', body: { displayName } })).user
}

export function useUpdateMe() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: updateMe,
    onSuccess: (user) => qc.setQueryData(keys.me, user),
  })
}

/** The largest picture the server takes (`PUT /api/users/me/avatar`: 413 past it). */
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024
export const AVATAR_TYPES = 'image/png,image/jpeg,image/gif,image/webp'

/** Set (a picked image file) or remove (null) my profile picture; the server squares it to a
 * 256 px WebP and tells my contacts (`user.updated`). */
export async function setAvatar(file: Blob | null): Promise<User> {
  const path = '/api/users/me/avatar'
  const reply = file ? await api<{ user: User }>(path, { method: 'PUT', body: file }) : await api<{ user: User }>(path, { method: 'DELETE' })
  return reply.user
}

export function useSetAvatar() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: setAvatar,
    onSuccess: (user) => qc.setQueryData(keys.me, user),
  })
}

/** Block a user: their direct chat with me stops taking messages both ways (docs/openapi.json). */
export async function blockUser(userId: string): Promise<void> {
  await api<unknown>(`/api/users/${encodeURIComponent(userId)}/block`, { method: 'PUT' })
}

export async function unblockUser(userId: string): Promise<void> {
  await api<void>(`/api/users/${encodeURIComponent(userId)}/block`, { method: 'DELETE' })
}

/** Block or unblock; the direct chat's view (`blocked`, `canSend`) is fetched again at once, so
 * it changes even if the socket's `conversation.updated` is late or the socket is down. */
export function useSetBlocked() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: ({ userId, blocked }: { userId: string; blocked: boolean; conversationId?: string }) => (blocked ? blockUser(userId) : unblockUser(userId)),
    onSuccess: (_done, { conversationId }) => {
      void qc.invalidateQueries({ queryKey: keys.conversations })
      if (conversationId) void qc.invalidateQueries({ queryKey: keys.conversation(conversationId) })
    },
  })
}
