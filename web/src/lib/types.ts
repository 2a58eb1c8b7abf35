/**
 * The API's JSON shapes, one place for the whole app.
 *
 * Written against ../shared/API.md and docs/websocket.md; REST shapes are checked against
 * the server's OpenAPI document by `npm run gen:api` (src/lib/api-types.ts).
 */

export interface User {
  id: string
  username: string
  displayName: string
  createdAt: string
  email?: string | null
}

export interface Message {
  id: string
  conversationId: string
  seq: number
  senderId: string
  body: string
  clientMessageId: string | null
  createdAt: string
  editedAt: string | null
  deleted: boolean
}

export interface Conversation {
  id: string
  kind: 'direct' | 'group'
  title: string | null
  members: User[]
  ownerId?: string | null
  createdBy: string
  createdAt: string
  updatedAt: string
  lastMessage: Message | null
  lastSeq: number
  unreadCount: number
  readSeq: number
  memberReadSeqs?: Record<string, number>
}

export interface MessagePage {
  messages: Message[]
  hasMore: boolean
}

export interface ConversationPage {
  conversations: Conversation[]
  nextCursor: string | null
}

export interface Tokens {
  accessToken: string
  refreshToken: string
  expiresIn: number
}

export interface SignInResult extends Tokens {
  user: User
}

export interface SignUpResult {
  user: User
  confirmationRequired: boolean
}

/** Durable events carry a cursor; the same frames come back from GET /api/sync. */
export type DurableEvent =
  | { type: 'message.created' | 'message.updated' | 'message.deleted'; message: Message; cursor: string }
  | { type: 'read'; conversationId: string; userId: string; seq: number; cursor: string }
  | { type: 'conversation.created' | 'conversation.updated'; conversation: Conversation; cursor: string }
  | { type: 'conversation.deleted'; conversationId: string; cursor: string }
  | { type: 'member.added'; conversation: Conversation; userId: string; cursor: string }
  | { type: 'member.removed'; conversationId: string; userId: string; cursor: string }

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
