/**
 * When a message becomes a browser notification, and what the tab's title says: pure rules,
 * so they are tested without a browser (the glue that calls the Notification API is in
 * app/useNotifications.ts).
 */
import type { Conversation, Message, ServerEvent } from '@/lib/types'

export const APP_NAME = 'Hubbub'

/** What the tab knows when an event arrives. */
export interface NotifyContext {
  meId: string
  /** The chat open in this tab, if any. */
  openConversationId: string | undefined
  /** Whether the user can see the page: the tab is showing and has focus. */
  pageSeen: boolean
  /** The browser's answer: only 'granted' lets a notification show. */
  permission: NotificationPermission | 'unsupported'
  /** Whether we have this conversation muted right now. */
  isMuted(conversationId: string): boolean
}

/**
 * The message a live event should notify about, or null. Only a new message from someone else
 * (not ours, sent from another device), in a chat that is not on screen (another chat is open,
 * or the page is hidden or in the background), not muted, and with permission. Events a
 * catch-up replays never reach here: the caller passes live events only.
 */
export function notifiable(event: ServerEvent, ctx: NotifyContext): Message | null {
  if (event.type !== 'message.created') return null
  const message = event.message
  if (message.senderId === ctx.meId || message.deleted) return null
  if (ctx.permission !== 'granted') return null
  if (ctx.pageSeen && ctx.openConversationId === message.conversationId) return null
  if (ctx.isMuted(message.conversationId)) return null
  return message
}

/** Unread messages over the chats we have not muted (a muted chat keeps its badge in the list
 * but does not call for attention in the title). */
export function unreadTotal(conversations: Conversation[], isMuted: (c: Conversation) => boolean): number {
  return conversations.reduce((n, c) => (isMuted(c) ? n : n + c.unreadCount), 0)
}

/** "(3) Hubbub" with 3 unread messages, plain "Hubbub" with none. */
export function unreadTitle(unread: number, base = APP_NAME): string {
  return unread > 0 ? `(${unread > 999 ? '999+' : unread}) ${base}` : base
}

const MAX_BODY = 140

/** A notification's text: the chat and, for a group, who wrote; the newest message's body;
 * how many more came with it when several were gathered into one. */
export function notificationText(
  chatTitle: string,
  senderName: string | undefined,
  messages: Message[],
  isGroup: boolean,
): { title: string; body: string } {
  const newest = messages[messages.length - 1]
  const text = newest.body.length > MAX_BODY ? `${newest.body.slice(0, MAX_BODY - 1)}…` : newest.body
  const title = isGroup && senderName ? `${senderName} in ${chatTitle}` : chatTitle
  const more = messages.length - 1
  return { title, body: more > 0 ? `${text}\n(+${more} more)` : text }
}

export interface Timers {
  set(fn: () => void, ms: number): unknown
  clear(handle: unknown): void
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
}

/**
 * Gathers a chat's messages so a burst does not become a flood of notifications: the first
 * message of a quiet chat shows at once; those that follow within `windowMs` wait, and show
 * together as one notification (which replaces the earlier one: same tag) when the window
 * ends, which starts a new window. So a busy chat notifies at most once per window.
 */
export class Coalescer {
  private readonly windows = new Map<string, { waiting: Message[]; timer: unknown }>()

  constructor(
    private readonly show: (conversationId: string, messages: Message[]) => void,
    private readonly windowMs = 5000,
    private readonly timers: Timers = realTimers,
  ) {}

  add(message: Message): void {
    const id = message.conversationId
    const open = this.windows.get(id)
    if (open) {
      if (!open.waiting.some((m) => m.id === message.id)) open.waiting.push(message)
      return
    }
    this.show(id, [message])
    this.open(id)
  }

  /** Forget what waits for a chat (it was opened, or muted). */
  drop(conversationId: string): void {
    const open = this.windows.get(conversationId)
    if (open) open.waiting = []
  }

  dispose(): void {
    for (const { timer } of this.windows.values()) this.timers.clear(timer)
    this.windows.clear()
  }

  private open(id: string): void {
    const window = { waiting: [] as Message[], timer: null as unknown }
    window.timer = this.timers.set(() => {
      this.windows.delete(id)
      if (window.waiting.length === 0) return
      this.show(id, window.waiting)
      this.open(id)
    }, this.windowMs)
    this.windows.set(id, window)
  }
}
