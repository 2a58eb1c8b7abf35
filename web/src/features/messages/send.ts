/**
 * Optimistic sending. A message waits in the conversation's outbox (in the query cache) until
 * the server confirms it; the confirmation (ack, REST response or a live/sync event) removes it
 * by clientMessageId. A retry reuses the clientMessageId, so the server never stores it twice.
 */
import type { QueryClient } from '@tanstack/react-query'
import { type OutboxEntry, applyMessage } from '@/lib/cache'
import { ApiError } from '@/lib/http'
import { newClientMessageId } from '@/lib/ids'
import { keys } from '@/lib/query-keys'
import type { AckFrame, Attachment, ClientFrame, Message, ReplyTo } from '@/lib/types'

/** The socket path; null or closed means use REST. */
export type SocketPath = { readonly isOpen: boolean; request(frame: ClientFrame): Promise<AckFrame> } | null

export interface SendTransport {
  ws: SocketPath
  rest(conversationId: string, clientMessageId: string, body: string, attachmentIds?: string[], replyToId?: string): Promise<Message>
}

export interface SendContext {
  qc: QueryClient
  transport: SendTransport
  meId: string
}

function putEntry(qc: QueryClient, entry: OutboxEntry): void {
  qc.setQueryData<OutboxEntry[]>(keys.outbox(entry.conversationId), (box = []) => {
    const idx = box.findIndex((e) => e.clientMessageId === entry.clientMessageId)
    if (idx === -1) return [...box, entry]
    const next = box.slice()
    next[idx] = entry
    return next
  })
}

/** Permanent failures (the server refused the message) are not retried automatically. */
export function isPermanent(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && ['validation_error', 'payload_too_large', 'forbidden', 'not_found', 'blocked'].includes(code)
}

/**
 * The one WebSocket-then-REST path of every change a user makes: over the socket when it is
 * open; over REST when it is not, when the ack carries nothing (`fromAck` gives undefined), or
 * when the socket attempt failed for any reason but a refusal (disconnected, timed out). A
 * refusal is final and thrown. Each change is safe to repeat (a clientMessageId, or a state it
 * sets), so a REST retry after a socket attempt whose ack was lost does nothing twice.
 */
export async function socketOrRest<T>(
  ws: SocketPath,
  frame: ClientFrame,
  fromAck: (ack: AckFrame) => T | undefined,
  rest: () => Promise<T>,
): Promise<T> {
  if (ws?.isOpen) {
    try {
      const value = fromAck(await ws.request(frame))
      if (value !== undefined) return value
    } catch (err) {
      if (isPermanent(err)) throw err
    }
  }
  return rest()
}

function deliver(ctx: SendContext, entry: OutboxEntry): Promise<Message> {
  const { conversationId, clientMessageId, body } = entry
  const ids = (entry.attachments ?? []).map((a) => a.id)
  // Without attachments or a quote the frame is exactly what it was before them.
  const attachmentIds = ids.length > 0 ? ids : undefined
  const replyToId = entry.replyTo?.id
  return socketOrRest(
    ctx.transport.ws,
    { action: 'sendMessage', conversationId, clientMessageId, body, ...(attachmentIds && { attachmentIds }), ...(replyToId ? { replyToId } : {}) },
    (ack) => ack.message,
    () => ctx.transport.rest(conversationId, clientMessageId, body, attachmentIds, replyToId),
  )
}

/** Send (or resend) an outbox entry; resolves with the stored message or null on failure. */
export async function sendEntry(ctx: SendContext, entry: OutboxEntry): Promise<Message | null> {
  putEntry(ctx.qc, { ...entry, status: 'sending', error: undefined })
  try {
    const message = await deliver(ctx, entry)
    applyMessage(ctx.qc, message, ctx.meId)
    return message
  } catch (err) {
    const still = ctx.qc.getQueryData<OutboxEntry[]>(keys.outbox(entry.conversationId))?.some((e) => e.clientMessageId === entry.clientMessageId)
    if (still) {
      putEntry(ctx.qc, {
        ...entry,
        status: 'failed',
        error: err instanceof Error ? err.message : 'Not sent',
        permanent: isPermanent(err),
      })
    }
    return null
  }
}

/** Send a new message; `replyTo` is the quote of the message it replies to. */
export function sendMessage(
  ctx: SendContext,
  conversationId: string,
  body: string,
  clientMessageId = newClientMessageId(),
  attachments: Attachment[] = [],
  replyTo?: ReplyTo,
): Promise<Message | null> {
  return sendEntry(ctx, {
    clientMessageId,
    conversationId,
    senderId: ctx.meId,
    body,
    ...(attachments.length > 0 && { attachments }),
    createdAt: new Date().toISOString(),
    status: 'sending',
    ...(replyTo ? { replyTo } : {}),
  })
}

export function retryMessage(ctx: SendContext, conversationId: string, clientMessageId: string): Promise<Message | null> {
  const entry = ctx.qc.getQueryData<OutboxEntry[]>(keys.outbox(conversationId))?.find((e) => e.clientMessageId === clientMessageId)
  if (!entry || entry.status === 'sending') return Promise.resolve(null)
  return sendEntry(ctx, entry)
}

export function discardMessage(qc: QueryClient, conversationId: string, clientMessageId: string): void {
  qc.setQueryData<OutboxEntry[]>(keys.outbox(conversationId), (box) => box?.filter((e) => e.clientMessageId !== clientMessageId))
}

/** Resend every failed, retryable entry (called when the connection comes back). */
export function retryAllFailed(ctx: SendContext): void {
  for (const query of ctx.qc.getQueryCache().findAll({ queryKey: keys.every.outbox })) {
    const box = query.state.data as OutboxEntry[] | undefined
    for (const e of box ?? []) if (e.status === 'failed' && !e.permanent) void sendEntry(ctx, e)
  }
}
