import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query'
import { useCallback, useMemo, useRef } from 'react'
import { type MessagesData, type OutboxEntry, allMessages, applyMessage, applyReactions, applyRead, quoteOf } from '@/lib/cache'
import { useRealtimeClient } from '@/lib/realtime-context'
import { keys } from '@/lib/query-keys'
import type { Attachment, Message, ReactionEmoji } from '@/lib/types'
import { deleteMessageRest, markReadRest, messagesQueryOptions, patchMessage, postMessage, putReaction } from './api'
import { type SendContext, discardMessage, retryAllFailed, retryMessage, sendMessage, socketOrRest } from './send'

export function useMessages(conversationId: string) {
  const query = useInfiniteQuery(messagesQueryOptions(conversationId))
  const messages = useMemo(() => allMessages(query.data as MessagesData | undefined), [query.data])
  return { ...query, messages }
}

export function useOutbox(conversationId: string) {
  return useQuery<OutboxEntry[]>({
    queryKey: keys.outbox(conversationId),
    queryFn: () => [],
    staleTime: Infinity,
    gcTime: Infinity,
    initialData: [],
  }).data
}

function useSendContext(meId: string): SendContext {
  const qc = useQueryClient()
  const client = useRealtimeClient()
  return useMemo(
    () => ({ qc, meId, transport: { ws: client, rest: postMessage } }),
    [qc, meId, client],
  )
}

export function useMessageActions(meId: string) {
  const ctx = useSendContext(meId)
  const client = useRealtimeClient()
  const qc = ctx.qc
  const lastRead = useRef<Record<string, number>>({})

  const send = useCallback(
    (conversationId: string, body: string, attachments: Attachment[] = [], replyTo?: Message) =>
      sendMessage(ctx, conversationId, body, undefined, attachments, replyTo ? quoteOf(replyTo) : undefined),
    [ctx],
  )
  const retry = useCallback((conversationId: string, cmid: string) => retryMessage(ctx, conversationId, cmid), [ctx])
  const discard = useCallback((conversationId: string, cmid: string) => discardMessage(qc, conversationId, cmid), [qc])
  const retryFailed = useCallback(() => retryAllFailed(ctx), [ctx])

  const edit = useCallback(
    async (message: Message, body: string): Promise<void> => {
      const { conversationId, id: messageId } = message
      const updated = await socketOrRest(
        client,
        { action: 'editMessage', conversationId, messageId, body },
        (ack) => ack.message,
        () => patchMessage(conversationId, messageId, body),
      )
      applyMessage(qc, updated, meId)
    },
    [client, qc, meId],
  )

  const remove = useCallback(
    async (message: Message): Promise<void> => {
      const { conversationId, id: messageId } = message
      const deleted = { ...message, body: '', deleted: true, replyTo: null, reactions: [] }
      const updated = await socketOrRest(
        client,
        { action: 'deleteMessage', conversationId, messageId },
        (ack) => ack.message ?? deleted,
        async () => {
          await deleteMessageRest(conversationId, messageId)
          return deleted
        },
      )
      applyMessage(qc, updated, meId)
    },
    [client, qc, meId],
  )

  /** Move our read marker forward to `seq` (no-op if already there). A failure is logged and
   * forgotten, so the next call (a new message, the tab regaining attention) tries again. */
  const markRead = useCallback(
    async (conversationId: string, seq: number): Promise<void> => {
      applyRead(qc, conversationId, meId, seq, meId)
      if ((lastRead.current[conversationId] ?? 0) >= seq) return
      lastRead.current[conversationId] = seq
      try {
        await socketOrRest(
          client,
          { action: 'markRead', conversationId, seq },
          () => true,
          async () => {
            await markReadRest(conversationId, seq)
            return true
          },
        )
      } catch (err) {
        if (lastRead.current[conversationId] === seq) lastRead.current[conversationId] = 0
        console.warn(`Could not record the read position in ${conversationId}:`, err)
      }
    },
    [client, qc, meId],
  )

  /** Our `emoji` on a message, on or off, over REST: PUT and DELETE are idempotent, so a
   * retry or a double click does nothing twice. Everyone (our other tabs too) hears it as a
   * reaction event; the answer updates this tab at once. */
  const react = useCallback(
    async (message: Message, emoji: ReactionEmoji, on: boolean): Promise<void> => {
      const updated = await putReaction(message.conversationId, message.id, emoji, on)
      applyReactions(qc, updated.conversationId, updated.id, updated.reactions)
    },
    [qc],
  )

  return { send, retry, discard, retryFailed, edit, remove, markRead, react }
}

const TYPING_EVERY_MS = 3000

/** Tells the others we are typing, at most every ~3 s, and that we stopped. */
export function useTypingSender(conversationId: string) {
  const client = useRealtimeClient()
  const lastSent = useRef(0)
  const onInput = useCallback(
    (text: string) => {
      if (!client) return
      const now = Date.now()
      if (text.trim() === '') {
        if (lastSent.current) client.send({ action: 'typing', conversationId, isTyping: false })
        lastSent.current = 0
        return
      }
      if (now - lastSent.current >= TYPING_EVERY_MS) {
        if (client.send({ action: 'typing', conversationId, isTyping: true })) lastSent.current = now
      }
    },
    [client, conversationId],
  )
  const stop = useCallback(() => {
    if (client && lastSent.current) client.send({ action: 'typing', conversationId, isTyping: false })
    lastSent.current = 0
  }, [client, conversationId])
  return { onInput, stop }
}
