import { infiniteQueryOptions } from '@tanstack/react-query'
import { mergeMessagePages } from '@/lib/cache'
import { api } from '@/lib/http'
import { keys } from '@/lib/query-keys'
import type { Message, MessagePage, ReactionEmoji } from '@/lib/types'

export const PAGE_SIZE = 50

const base = (conversationId: string) => `/api/conversations/${encodeURIComponent(conversationId)}/messages`

export function fetchMessages(conversationId: string, before: number | null, signal?: AbortSignal): Promise<MessagePage> {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) })
  if (before !== null) params.set('before', String(before))
  return api<MessagePage>(`${base(conversationId)}?${params}`, { signal })
}

/** Sends over REST; `attachmentIds` and `replyToId` are left out of the body when absent. */
export async function postMessage(conversationId: string, clientMessageId: string, body: string, attachmentIds?: string[], replyToId?: string): Promise<Message> {
  const payload = {
    clientMessageId,
    body,
    ...(attachmentIds?.length ? { attachmentIds } : {}),
    ...(replyToId ? { replyToId } : {}),
  }
  return (await api<{ message: Message }>(base(conversationId), { method: 'POST', body: payload })).message
}

/** Adds (`on`) or takes back our reaction; either is a no-op when it is already so. */
export async function putReaction(conversationId: string, messageId: string, emoji: ReactionEmoji, on: boolean): Promise<Message> {
  const path = `${base(conversationId)}/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`
  return (await api<{ message: Message }>(path, { method: on ? 'PUT' : 'DELETE' })).message
}

export async function patchMessage(conversationId: string, messageId: string, body: string): Promise<Message> {
  return (await api<{ message: Message }>(`${base(conversationId)}/${encodeURIComponent(messageId)}`, { method: 'PATCH', body: { body } })).message
}

export function deleteMessageRest(conversationId: string, messageId: string): Promise<void> {
  return api<void>(`${base(conversationId)}/${encodeURIComponent(messageId)}`, { method: 'DELETE' })
}

export function markReadRest(conversationId: string, seq: number) {
  return api<{ readSeq: number }>(`/api/conversations/${encodeURIComponent(conversationId)}/read`, { method: 'POST', body: { seq } })
}

/** Pages run newest first; the next page is the one before the oldest loaded seq. */
export const messagesQueryOptions = (conversationId: string) =>
  infiniteQueryOptions({
    queryKey: keys.messages(conversationId),
    queryFn: ({ pageParam, signal }) => fetchMessages(conversationId, pageParam, signal),
    initialPageParam: null as number | null,
    getNextPageParam: (last: MessagePage) => (last.hasMore && last.messages.length > 0 ? last.messages[0].seq : undefined),
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    structuralSharing: mergeMessagePages,
  })

