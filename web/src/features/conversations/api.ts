import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { applyEvent, applyMute, mergeConversationLists, removeConversation, upsertConversation } from '@/lib/cache'
import { api } from '@/lib/http'
import { keys } from '@/lib/query-keys'
import type { Conversation, ConversationPage, User } from '@/lib/types'

// Fetchers
export async function fetchConversations(): Promise<Conversation[]> {
  const all: Conversation[] = []
  let cursor: string | null = null
  for (let i = 0; i < 50; i++) {
    const params = new URLSearchParams({ limit: '100' })
    if (cursor) params.set('cursor', cursor)
    const page: ConversationPage = await api<ConversationPage>(`/api/conversations?${params}`)
    all.push(...page.conversations)
    cursor = page.nextCursor
    if (!cursor) break
  }
  return all
}

export async function fetchConversation(id: string): Promise<Conversation> {
  return (await api<{ conversation: Conversation }>(`/api/conversations/${encodeURIComponent(id)}`)).conversation
}

export async function startDirect(userId: string): Promise<Conversation> {
  return unwrap(await api<{ conversation: Conversation } | Conversation>('/api/conversations/direct', { method: 'POST', body: { userId } }))
}

export async function createGroup(input: { title: string; memberIds: string[] }): Promise<Conversation> {
  return unwrap(await api<{ conversation: Conversation } | Conversation>('/api/conversations', { method: 'POST', body: input }))
}

export async function renameGroup(id: string, title: string): Promise<Conversation | null> {
  const res = await api<{ conversation: Conversation } | Conversation | undefined>(`/api/conversations/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    body: { title },
  })
  return res ? unwrap(res) : null
}

export function deleteGroup(id: string) {
  return api<void>(`/api/conversations/${encodeURIComponent(id)}`, { method: 'DELETE' })
}

export async function addMember(id: string, userId: string): Promise<Conversation | null> {
  const res = await api<{ conversation: Conversation } | Conversation | undefined>(`/api/conversations/${encodeURIComponent(id)}/members`, {
    method: 'POST',
    body: { userId },
  })
  return res && (('conversation' in res) || ('id' in res)) ? unwrap(res) : null
}

export function removeMember(id: string, userId: string) {
  return api<void>(`/api/conversations/${encodeURIComponent(id)}/members/${encodeURIComponent(userId)}`, { method: 'DELETE' })
}

export interface MuteState {
  muted: boolean
  /** When the mute ends; null while muted: until unmuted. */
  mutedUntil: string | null
}

/** Mute for ourselves until `until` (null: until we unmute). */
export function muteConversation(id: string, until: Date | null): Promise<MuteState> {
  return api<MuteState>(`/api/conversations/${encodeURIComponent(id)}/mute`, {
    method: 'PUT',
    body: { until: until ? until.toISOString() : null },
  })
}

export function unmuteConversation(id: string): Promise<MuteState> {
  return api<MuteState>(`/api/conversations/${encodeURIComponent(id)}/mute`, { method: 'DELETE' })
}

/** Mute (`hours`: null for until unmuted) or unmute (`hours`: 0) a conversation; the answer is
 * applied at once (our other devices hear `conversation.muted`, and so does this one). */
export function useMuteConversation(id: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (hours: number | null) =>
      hours === 0 ? unmuteConversation(id) : muteConversation(id, hours === null ? null : new Date(Date.now() + hours * 3_600_000)),
    onSuccess: (state) => applyMute(qc, id, state.muted, state.mutedUntil),
  })
}

function unwrap(res: { conversation: Conversation } | Conversation): Conversation {
  return 'conversation' in res ? res.conversation : res
}

// Query options
export const conversationsQueryOptions = () =>
  queryOptions({ queryKey: keys.conversations, queryFn: fetchConversations, staleTime: Infinity, structuralSharing: mergeConversationLists })

export const conversationQueryOptions = (id: string) =>
  queryOptions({ queryKey: keys.conversation(id), queryFn: () => fetchConversation(id), staleTime: Infinity, retry: false })

// Hooks
export function useConversations() {
  return useQuery(conversationsQueryOptions())
}

/** One conversation: from the list when it is there, else fetched. */
export function useConversation(id: string | undefined) {
  const list = useConversations()
  const fromList = id ? list.data?.find((c) => c.id === id) : undefined
  const single = useQuery({ ...conversationQueryOptions(id ?? ''), enabled: !!id && !fromList && list.isSuccess })
  return { conversation: fromList ?? single.data ?? undefined, isLoading: !fromList && (list.isPending || single.isLoading), error: single.error }
}

export function useConversationMutations(meId: string | undefined) {
  const qc = useQueryClient()
  const put = (c: Conversation | null) => c && upsertConversation(qc, c, meId)
  const refetch = () => qc.invalidateQueries({ queryKey: keys.conversations })
  return {
    startDirect: useMutation({ mutationFn: startDirect, onSuccess: put }),
    createGroup: useMutation({ mutationFn: createGroup, onSuccess: put }),
    rename: useMutation({
      mutationFn: (v: { id: string; title: string }) => renameGroup(v.id, v.title),
      onSuccess: (c) => (c ? put(c) : refetch()),
    }),
    addMember: useMutation({
      mutationFn: (v: { id: string; user: User }) => addMember(v.id, v.user.id),
      onSuccess: (c) => (c ? put(c) : refetch()),
    }),
    removeMember: useMutation({
      mutationFn: (v: { id: string; userId: string }) => removeMember(v.id, v.userId),
      // The change the server's member.removed event makes (it follows on the socket),
      // applied now through the same code; an event has a cursor, this has none to record.
      onSuccess: (_r, v) => applyEvent(qc, { type: 'member.removed', conversationId: v.id, userId: v.userId, cursor: '' }, meId),
    }),
    remove: useMutation({ mutationFn: deleteGroup, onSuccess: (_r, id) => removeConversation(qc, id) }),
  }
}
