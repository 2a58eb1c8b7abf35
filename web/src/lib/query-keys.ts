/** Every query key in the app, so cache writers and readers agree. */
export const keys = {
  me: ['me'] as const,
  conversations: ['conversations'] as const,
  conversation: (id: string) => ['conversation', id] as const,
  messages: (conversationId: string) => ['messages', conversationId] as const,
  outbox: (conversationId: string) => ['outbox', conversationId] as const,
  typing: (conversationId: string) => ['typing', conversationId] as const,
  presence: ['presence'] as const,
  userSearch: (q: string) => ['users', 'search', q] as const,
}
