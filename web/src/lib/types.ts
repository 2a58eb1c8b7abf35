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
export type Message = Schemas['Message']
export type Conversation = Schemas['Conversation']
export type MessagePage = Schemas['MessagesResponse']
export type ConversationPage = Schemas['ConversationsResponse']
export type Tokens = Schemas['TokensResponse']
export type SignInResult = Schemas['SignInResponse']
export type SignUpResult = Schemas['SignUpResponse']

/** The fields of a conversation that a `conversation.updated` changes, with their new values. */
export type ConversationChanges = Partial<Pick<Conversation, 'title' | 'ownerId' | 'updatedAt'>>

/** Durable events carry a cursor; the same frames come back from GET /api/sync.
 *
 * Conversation events carry what changed. A `conversation` in `conversation.updated` or
 * `member.added` is a whole shared view: the newcomer's own `member.added` has one, and so do
 * events recorded by servers before deltas (a /api/sync replay may still return them). */
export type DurableEvent =
  | { type: 'message.created' | 'message.updated' | 'message.deleted'; message: Message; cursor: string }
  | { type: 'read'; conversationId: string; userId: string; seq: number; cursor: string }
  | { type: 'conversation.created'; conversation: Conversation; cursor: string }
  | {
      type: 'conversation.updated'
      conversationId?: string
      userId?: string
      changes?: ConversationChanges
      conversation?: Conversation
      cursor: string
    }
  | { type: 'conversation.deleted'; conversationId: string; cursor: string }
  | {
      type: 'member.added'
      conversationId?: string
      userId: string
      member?: User
      role?: 'owner' | 'member'
      readSeq?: number
      updatedAt?: string
      conversation?: Conversation
      cursor: string
    }
  | { type: 'member.removed'; conversationId: string; userId: string; ownerId?: string | null; updatedAt?: string; cursor: string }

export type EphemeralEvent =
  | { type: 'typing'; conversationId: string; userId: string; isTyping: boolean }
  | { type: 'presence'; userId: string; online: boolean }

export type ServerEvent = DurableEvent | EphemeralEvent

export interface HelloFrame {
  type: 'hello'
  userId: string
  connectionId: string
  cursor: string
  online: string[]
}

export interface AckFrame {
  type: 'ack'
  requestId?: string | null
  message?: Message
  readSeq?: number
  cursor?: string | null
}

export interface ErrorFrame {
  type: 'error'
  requestId?: string | null
  error: { code: string; message: string }
}

export interface SyncPage {
  events: DurableEvent[]
  cursor: string
  hasMore: boolean
}

export type ClientFrame =
  | { action: 'sendMessage'; conversationId: string; clientMessageId: string; body: string }
  | { action: 'editMessage'; conversationId: string; messageId: string; body: string }
  | { action: 'deleteMessage'; conversationId: string; messageId: string }
  | { action: 'typing'; conversationId: string; isTyping: boolean }
  | { action: 'markRead'; conversationId: string; seq: number }
  | { action: 'ping' }

export function isDurable(event: ServerEvent): event is DurableEvent {
  return 'cursor' in event && typeof (event as { cursor?: unknown }).cursor === 'string'
}
