/**
 * The API's JSON shapes, one place for the whole app.
 *
 * REST shapes come from the server's OpenAPI document (`npm run gen:api` writes
 * src/lib/api-types.ts); WebSocket frames are typed here from docs/websocket.md.
 */

import type { components } from './api-types'

type Schemas = components['schemas']

export type User = Schemas['User'] & { email?: string }
export type Me = Schemas['Me']
/** What a message carries of a file sent with it (metadata; bytes come from the links). */
export type Attachment = Schemas['Attachment']
export type Message = Schemas['Message']
export type AttachmentLinks = Schemas['AttachmentLinks']
/** Where and how to send an upload's bytes (step 2 of three; features/messages/upload.ts). */
export type UploadTarget = Schemas['UploadTarget']
export type ReplyTo = Schemas['ReplyTo']
export type ReactionCount = Schemas['ReactionCount']
export type ReactionEmoji = ReactionCount['emoji']
/** The reactions a message can get, in the order the server lists them. */
export const REACTION_EMOJI: readonly ReactionEmoji[] = ['👍', '❤️', '😂', '😮', '😢', '🙏']
/** How much of a quoted message's body a reply shows (code points), as the server cuts it. */
export const REPLY_EXCERPT_CHARS = 200
/** `lastEventSeq` is the conversation's event sequence as of this view. Optional here whatever
 * the generated schema says: views from a server older than the sequences, and the ones the
 * app makes up, have none; the cache then compares nothing and takes the newer view. */
export type Conversation = Omit<Schemas['Conversation'], 'lastEventSeq' | 'muted' | 'mutedUntil' | 'blocked' | 'canSend'> & {
  lastEventSeq?: number
  /** Our own mute (optional for the same reasons); read it through lib/mutes.ts, which prefers
   * what the socket says. */
  muted?: boolean
  mutedUntil?: string | null
  /** Direct chats: whether I blocked the other member. Absent (false) from older servers. */
  blocked?: boolean
  /** Whether messages can be sent here now (false while either of a direct chat's pair blocked
   * the other). Absent means true: older servers, and the views the app makes up. */
  canSend?: boolean
}
export type MessagePage = Schemas['MessagesResponse']
export type MessageSearchPage = Schemas['MessageSearchResponse']
export type MessageSearchResult = Schemas['MessageSearchResult']
export type SnippetSegment = Schemas['SnippetSegment']
export type ConversationPage = Schemas['ConversationsResponse']
export type Tokens = Schemas['TokensResponse']
export type SignInResult = Schemas['SignInResponse']
export type SignUpResult = Schemas['SignUpResponse']

/** The fields of a conversation that a `conversation.updated` changes, with their new values. */
export type ConversationChanges = Partial<Pick<Conversation, 'title' | 'ownerId' | 'updatedAt' | 'blocked' | 'canSend'>>

/** Where a durable event sits: `cursor` is the event's stable id (the same live and replayed),
 * for dropping duplicates only, not a resume point; `eventSeq` is its place in its
 * conversation's dense event sequence (1, 2, 3, ...). Optional so frames from a server older
 * than the sequences, and the events the app makes up from REST answers, still type-check. */
interface Positioned {
  cursor: string
  conversationId?: string
  eventSeq?: number
}

/** Durable events; the same frames come back from GET /api/sync and from a conversation's
 * /events.
 *
 * Conversation events carry what changed. A `conversation` in `conversation.updated` or
 * `member.added` is a whole shared view: the newcomer's own `member.added` has one, and so do
 * events recorded by servers before deltas (a /api/sync replay may still return them).
 * `read` has its own sequence, `receiptSeq`, and no `eventSeq`. */
export type DurableEvent =
  | ({ type: 'message.created' | 'message.updated' | 'message.deleted'; message: Message } & Positioned)
  | { type: 'read'; conversationId: string; userId: string; seq: number; receiptSeq?: number; cursor: string }
  | ({ type: 'conversation.created'; conversation: Conversation } & Positioned)
  | ({
      type: 'conversation.updated'
      userId?: string
      changes?: ConversationChanges
      conversation?: Conversation
    } & Positioned)
  | ({ type: 'conversation.deleted'; conversationId: string } & Positioned)
  | ({
      type: 'member.added'
      userId: string
      /** Who added them (servers before issue 13 do not say). */
      actorId?: string | null
      member?: User
      role?: 'owner' | 'member'
      readSeq?: number
      updatedAt?: string
      conversation?: Conversation
    } & Positioned)
  | ({ type: 'member.removed'; conversationId: string; userId: string; ownerId?: string | null; updatedAt?: string; /** who removed them; themself when they left */ actorId?: string | null } & Positioned)
  | ({
      type: 'reaction.added' | 'reaction.removed'
      conversationId: string
      messageId: string
      /** Who reacted, and with which emoji. */
      userId: string
      emoji: ReactionEmoji
      /** The message's reactions after the change (replayed: as they are now). */
      reactions: ReactionCount[]
    } & Positioned)

export type EphemeralEvent =
  | { type: 'typing'; conversationId: string; userId: string; isTyping: boolean }
  /** `lastSeenAt` comes with `online: false` (servers before issue 13 do not send it). */
  | { type: 'presence'; userId: string; online: boolean; lastSeenAt?: string | null }
  /** A contact's (or our own) public profile changed; never stored, so never replayed: a
   * client that was away loads the conversations it shows again on reconnecting. */
  | { type: 'user.updated'; user: User }
  /** Our own mute of the conversation changed (from any of our devices); `mutedUntil` null
   * while `muted`: until unmuted. */
  | { type: 'conversation.muted'; conversationId: string; muted: boolean; mutedUntil: string | null }

export type ServerEvent = DurableEvent | EphemeralEvent

export interface HelloFrame {
  type: 'hello'
  userId: string
  connectionId: string
  cursor: string
  online: string[]
  /** Our mutes in force: conversation id -> when the mute ends (null: until unmuted). The
   * whole truth at connect time (servers before issue 13 send none). */
  muted?: Record<string, string | null>
}

export interface AckFrame {
  type: 'ack'
  requestId?: string | null
  message?: Message
  readSeq?: number
  /** The change's event id (null when nothing changed, e.g. a retried send). */
  cursor?: string | null
  conversationId?: string
  /** send/edit/delete: the change's place in the conversation's event sequence. */
  eventSeq?: number
  /** markRead: the marker's place in the conversation's receipt sequence. */
  receiptSeq?: number
}

export interface ErrorFrame {
  type: 'error'
  requestId?: string | null
  error: { code: string; message: string }
}

/** GET /api/sync: `cursor` is the next resume cursor. */
export interface SyncPage {
  events: DurableEvent[]
  cursor: string
  hasMore: boolean
}

/** GET /api/conversations/{id}/events?after=: the conversation's events after `after`,
 * oldest first, rendered as they are now. */
export interface EventsPage {
  events: DurableEvent[]
  hasMore: boolean
  lastEventSeq: number
}

export type ClientFrame =
  | { action: 'sendMessage'; conversationId: string; clientMessageId: string; body: string; attachmentIds?: string[]; replyToId?: string }
  | { action: 'editMessage'; conversationId: string; messageId: string; body: string }
  | { action: 'deleteMessage'; conversationId: string; messageId: string }
  | { action: 'typing'; conversationId: string; isTyping: boolean }
  | { action: 'markRead'; conversationId: string; seq: number }
  | { action: 'ping' }

export function isDurable(event: ServerEvent): event is DurableEvent {
  return 'cursor' in event && typeof (event as { cursor?: unknown }).cursor === 'string'
}

/** The conversation a durable event belongs to (message frames from servers older than the
 * sequences name it only inside `message`). */
export function conversationOf(event: DurableEvent): string | undefined {
  if (event.conversationId) return event.conversationId
  if ('message' in event) return event.message.conversationId
  if ('conversation' in event && event.conversation) return event.conversation.id
  return undefined
}

/** The event's place in its conversation's event sequence, when it has one. */
export function eventSeqOf(event: DurableEvent): number | undefined {
  return event.type === 'read' ? undefined : event.eventSeq
}
