/** Every query key in the app, so cache writers and readers agree. */

/** Prefixes that match every key of one kind, to find or invalidate them all at once. */
const every = {
  conversation: ['conversation'] as const,
  messages: ['messages'] as const,
  outbox: ['outbox'] as const,
  typing: ['typing'] as const,
  user: ['user'] as const,
}

export const keys = {
  me: ['me'] as const,
  conversations: ['conversations'] as const,
  conversation: (id: string) => [...every.conversation, id] as const,
  messages: (conversationId: string) => [...every.messages, conversationId] as const,
  outbox: (conversationId: string) => [...every.outbox, conversationId] as const,
  typing: (conversationId: string) => [...every.typing, conversationId] as const,
  notices: (conversationId: string) => ['notices', conversationId] as const,
  departure: (conversationId: string) => ['departure', conversationId] as const,
  presence: ['presence'] as const,
  /** Our mutes, as the socket's hello and `conversation.muted` tell them (lib/mutes.ts). */
  mutes: ['mutes'] as const,
  userSearch: (q: string) => ['users', 'search', q] as const,
  /** Message search results for one query, page by page. */
  messageSearch: (q: string) => ['search', 'messages', q] as const,
  /** One user's public profile, by id. */
  user: (id: string) => [...every.user, id] as const,
  /** Short-lived URLs of one attachment's file and thumbnail: for its thumbnail, or fetched
   * afresh each time it is opened full size. */
  attachmentLinks: (conversationId: string, attachmentId: string, use: 'thumbnail' | 'full' = 'thumbnail') =>
    ['attachment-links', conversationId, attachmentId, use] as const,
  every,
}
