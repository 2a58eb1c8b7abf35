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
