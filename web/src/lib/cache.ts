/**
 * Writes server data and real-time events into the React Query cache: the only store.
 *
 * Every writer here is idempotent: applying the same message or event twice leaves the cache
 * as applying it once (messages dedupe by id and by the sender's clientMessageId), so REST
 * responses, acks, live events and /api/sync replays may overlap freely.
 *
 * Conversation views carry `lastEventSeq`, the conversation's event sequence as of the view:
 * of two views the one further along wins, and a delta event (`eventSeq`) changes only a view
 * that does not have it yet, then moves the view's `lastEventSeq` to it.
 *
 * No write is lost to a fetch that was already in flight: a refetch merges with what is cached
 * (`mergeMessagePages`, `mergeConversationLists`), and a change that reaches a query whose first
 * fetch has not landed yet is applied to that fetch's data when it lands (`updateQuery`).
 */
import type { InfiniteData, QueryClient, QueryKey } from '@tanstack/react-query'
import { putMute } from './mutes'
import { keys } from './query-keys'
import { type Attachment, type Conversation, type ConversationChanges, type DurableEvent, type Message, type MessagePage, type ReactionCount, REPLY_EXCERPT_CHARS, type ReplyTo, type ServerEvent, type User } from './types'

export type MessagesData = InfiniteData<MessagePage, number | null>

/** A message the user sent that the server has not confirmed yet. */
export interface OutboxEntry {
  clientMessageId: string
  conversationId: string
  senderId: string
  body: string
  /** Uploaded files it sends (their ids go with every retry). */
  attachments?: Attachment[]
  createdAt: string
  status: 'sending' | 'failed'
  error?: string
  /** The message it replies to, as it was quoted when written (shown until confirmed). */
  replyTo?: ReplyTo
  /** The server refused it: only a manual retry makes sense. */
  permanent?: boolean
}

export type TypingState = Record<string, number> // userId -> expiry (ms epoch)
export type PresenceState = Record<string, boolean>

export const TYPING_TTL_MS = 5000

function sameMessage(a: Message, b: Message): boolean {
  return (
    a.id === b.id ||
    (a.clientMessageId !== null &&
      a.clientMessageId === b.clientMessageId &&
      a.senderId === b.senderId &&
      a.conversationId === b.conversationId)
  )
}

/** Prefer the newer state of one message: deletion and edits never go backwards. */
function newer(existing: Message, incoming: Message): Message {
  if (existing.deleted && !incoming.deleted) return existing
  if (existing.editedAt && (!incoming.editedAt || incoming.editedAt < existing.editedAt)) {
    return incoming.deleted ? incoming : existing
  }
  return incoming
}

type Updater = (data: unknown) => unknown

/** Per client and query hash: changes waiting for the query's first fetch to land. */
const waiting = new WeakMap<QueryClient, Map<string, Updater[]>>()

/** The client's waiting changes; the first call starts applying them as fetches land. */
function waitingFor(qc: QueryClient): Map<string, Updater[]> {
  const known = waiting.get(qc)
  if (known) return known
  const map = new Map<string, Updater[]>()
  waiting.set(qc, map)
  qc.getQueryCache().subscribe((event) => {
    const { query } = event
    const fns = map.get(query.queryHash)
    if (!fns) return
    if (event.type === 'removed') {
      map.delete(query.queryHash)
    } else if (query.state.data !== undefined) {
      map.delete(query.queryHash)
      qc.setQueryData(query.queryKey, (data: unknown) => fns.reduce((d, fn) => fn(d), data))
    } else if (query.state.fetchStatus === 'idle') {
      map.delete(query.queryHash)
    }
  })
  return map
}

/**
 * Apply `fn` to the cached data of the query at `queryKey`; nothing when none is loaded. When
 * the query's first fetch is in flight, its response may predate the change (the server
 * answered before it happened), so `fn` is kept and applied to that response as it lands, in
 * the same cache update, so nothing renders the response without it. `fn` may thus see data
 * that already has the change: it must be idempotent, as every writer here is. A fetch that
 * fails or is cancelled drops what waited for it (the next fetch starts later and has it).
 */
export function updateQuery<T>(qc: QueryClient, queryKey: QueryKey, fn: (data: T) => T): void {
  const query = qc.getQueryCache().find<T>({ queryKey, exact: true })
  if (!query) return
  if (query.state.data !== undefined) {
    qc.setQueryData<T>(queryKey, (data) => (data === undefined ? data : fn(data)))
    return
  }
  if (query.state.fetchStatus === 'idle') return
  const byHash = waitingFor(qc)
  byHash.set(query.queryHash, [...(byHash.get(query.queryHash) ?? []), fn as Updater])
}

/** Insert or replace `message` in the loaded pages. Pages run newest first; each page's
 * messages are in seq order. Returns the data unchanged when nothing is loaded. */
export function mergeMessage(data: MessagesData | undefined, message: Message): MessagesData | undefined {
  if (!data || data.pages.length === 0) return data
  let found = false
  const pages = data.pages.map((page) => {
    const idx = page.messages.findIndex((m) => sameMessage(m, message))
    if (idx === -1) return page
    found = true
    const merged = newer(page.messages[idx], message)
    if (merged === page.messages[idx]) return page
    const messages = page.messages.slice()
    messages[idx] = merged
    return { ...page, messages }
  })
  if (found) return { ...data, pages }
  // New message: it belongs in the newest page unless it is older than everything loaded
  // there (then an older page will fetch it when scrolled to).
  const lastPage = pages[pages.length - 1]
  const oldestLoaded = lastPage.messages[0]
  if (oldestLoaded && message.seq < oldestLoaded.seq && lastPage.hasMore) return data
  let target = pages.length - 1
  for (let i = 0; i < pages.length; i++) {
    const first = pages[i].messages[0]
    if (!first || message.seq >= first.seq) {
      target = i
      break
    }
  }
  const page = pages[target]
  const messages = [...page.messages, message].sort((a, b) => a.seq - b.seq)
  pages[target] = { ...page, messages }
  return { ...data, pages }
}

export function allMessages(data: MessagesData | undefined): Message[] {
  if (!data) return []
  const out: Message[] = []
  for (let i = data.pages.length - 1; i >= 0; i--) out.push(...data.pages[i].messages)
  // Dedupe defensively: pages fetched around a live insert may overlap.
  const seen = new Set<string>()
  return out
    .sort((a, b) => a.seq - b.seq)
    .filter((m) => (seen.has(m.id) ? false : (seen.add(m.id), true)))
}

function sortConversations(list: Conversation[]): Conversation[] {
  const at = (c: Conversation) => c.lastMessage?.createdAt ?? c.updatedAt ?? c.createdAt
  return list.slice().sort((a, b) => (at(a) < at(b) ? 1 : at(a) > at(b) ? -1 : 0))
}

/** Of two views of one conversation, the one further along in its event sequence (the
 * incoming one when they are level or either has no sequence). */
function furtherView(held: Conversation, incoming: Conversation): Conversation {
  return held.lastEventSeq !== undefined && incoming.lastEventSeq !== undefined && held.lastEventSeq > incoming.lastEventSeq
    ? held
    : incoming
}

function maxEventSeq(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b)
}

/** `fn` as the change made by event `eventSeq` of the conversation: a view that already has
 * it is left as it is; one that takes it moves to that point of the sequence. */
function asEvent(eventSeq: number | undefined, fn: (c: Conversation) => Conversation): (c: Conversation) => Conversation {
  if (eventSeq === undefined) return fn
  return (c) => (c.lastEventSeq !== undefined && c.lastEventSeq >= eventSeq ? c : { ...fn(c), lastEventSeq: eventSeq })
}

/** The later of two "last seen" times (ISO-8601 UTC, so they compare as strings). */
function laterSeen(a: string | null | undefined, b: string | null | undefined): string | null | undefined {
  if (!a) return b ?? a
  if (!b) return a
  return b > a ? b : a
}

/** One person's profile as `incoming` has it, over the one held: names (and any public field)
 * from `incoming`, "last seen" whichever is later. */
function newerProfile(held: User, incoming: User): User {
  if (held === incoming) return held
  const lastSeenAt = laterSeen(held.lastSeenAt, incoming.lastSeenAt)
  return lastSeenAt === undefined ? { ...held, ...incoming } : { ...held, ...incoming, lastSeenAt }
}

/**
 * The members of `base` (the view further along: who is in the conversation) with their
 * profiles from `incoming`, when it has them. A profile is not in the conversation's event
 * sequence (a rename is `user.updated`, for every conversation at once), so a view that is
 * behind in the sequence may still hold the newer names: a REST answer or a catch-up's view
 * is at least as new as any rename we applied before it, since `applyUserUpdated` fetches
 * again whatever was in flight when the rename arrived.
 */
function profilesFrom(base: Conversation, incoming: Conversation): User[] {
  if (base === incoming) return base.members
  const byId = new Map(incoming.members.map((m) => [m.id, m]))
  return base.members.map((m) => {
    const fresh = byId.get(m.id)
    return fresh ? newerProfile(m, fresh) : m
  })
}

/** Read markers only move forward, for the members `base` has. */
function laterReadSeqs(base: Conversation, other: Conversation): Record<string, number> {
  const memberReadSeqs = { ...base.memberReadSeqs }
  for (const [uid, seq] of Object.entries(other.memberReadSeqs ?? {})) {
    if (base.members.some((m) => m.id === uid)) memberReadSeqs[uid] = Math.max(seq, memberReadSeqs[uid] ?? 0)
  }
  return memberReadSeqs
}

/** The viewer's own fields of a shared conversation view (events carry zeros there). */
export function personalise(incoming: Conversation, meId: string | undefined, previous?: Conversation): Conversation {
  let conv = incoming
  if (previous) {
    const base = furtherView(previous, incoming)
    const other = base === previous ? incoming : previous
    conv = {
      ...base,
      members: profilesFrom(base, incoming),
      memberReadSeqs: laterReadSeqs(base, other),
      lastEventSeq: maxEventSeq(base.lastEventSeq, other.lastEventSeq),
    }
  }
  const fromMap = meId ? conv.memberReadSeqs?.[meId] : undefined
  const readSeq = Math.max(fromMap ?? conv.readSeq ?? 0, previous?.readSeq ?? 0)
  let lastMessage = conv.lastMessage
  let lastSeq = conv.lastSeq
  if (previous && previous.lastSeq > conv.lastSeq) {
    lastSeq = previous.lastSeq
    lastMessage = previous.lastMessage
  }
  return { ...conv, lastSeq, lastMessage, readSeq, unreadCount: Math.max(lastSeq - readSeq, 0) }
}

function updateConversations(qc: QueryClient, fn: (list: Conversation[]) => Conversation[]): void {
  updateQuery<Conversation[]>(qc, keys.conversations, (list) => sortConversations(fn(list)))
}

function updateConversation(qc: QueryClient, id: string, fn: (c: Conversation) => Conversation): void {
  updateConversations(qc, (list) => list.map((c) => (c.id === id ? fn(c) : c)))
  updateQuery<Conversation | null>(qc, keys.conversation(id), (c) => (c ? fn(c) : c))
}

export function upsertConversation(qc: QueryClient, conv: Conversation, meId: string | undefined): void {
  updateConversations(qc, (list) => {
    const prev = list.find((c) => c.id === conv.id)
    const next = personalise(conv, meId, prev)
    return prev ? list.map((c) => (c.id === conv.id ? next : c)) : [next, ...list]
  })
  updateQuery<Conversation | null>(qc, keys.conversation(conv.id), (prev) => (prev ? personalise(conv, meId, prev) : prev))
}

/** The `lastEventSeq` of the view of the conversation we hold, from the list or the
 * conversation's own query; none while that query is invalidated (being fetched again after
 * a reload, its data is older than the connection). */
export function heldEventSeq(qc: QueryClient, id: string): number | undefined {
  const current = (key: QueryKey) => {
    const state = qc.getQueryState(key)
    return state && !state.isInvalidated ? state.data : undefined
  }
  const list = current(keys.conversations) as Conversation[] | undefined
  const inList = list?.find((c) => c.id === id)?.lastEventSeq
  if (inList !== undefined) return inList
  return (current(keys.conversation(id)) as Conversation | null | undefined)?.lastEventSeq
}

export function removeConversation(qc: QueryClient, id: string): void {
  updateConversations(qc, (list) => list.filter((c) => c.id !== id))
  qc.setQueryData(keys.conversation(id), null)
  qc.removeQueries({ queryKey: keys.messages(id) })
  qc.removeQueries({ queryKey: keys.outbox(id) })
}

/** The later of two ISO-8601 UTC times (same format, so they compare as strings). */
function later(a: string, b: string | undefined): string {
  return b !== undefined && b > a ? b : a
}

/** Apply a delta to a conversation we hold; one we have not loaded (an older page of the list)
 * has just become recent, so the list is fetched again. */
function updateHeldConversation(qc: QueryClient, id: string, fn: (c: Conversation) => Conversation): void {
  const missing = qc.getQueryData<Conversation[]>(keys.conversations)?.some((c) => c.id === id) === false
  updateConversation(qc, id, fn)
  if (missing) void qc.invalidateQueries({ queryKey: keys.conversations })
}

/** `conversation.updated`: merge the changed fields into our copy, unless it has them. */
export function applyConversationChanges(qc: QueryClient, conversationId: string, changes: ConversationChanges, eventSeq?: number): void {
  updateHeldConversation(
    qc,
    conversationId,
    asEvent(eventSeq, (c) => ({ ...c, ...changes, updatedAt: later(c.updatedAt, changes.updatedAt) })),
  )
}

/** `member.added` for a conversation we were already in: append the newcomer (members are in
 * join order) with their read marker. Applying it twice changes nothing more. */
export function applyMemberAdded(
  qc: QueryClient,
  conversationId: string,
  member: User,
  readSeq: number,
  updatedAt: string | undefined,
  eventSeq?: number,
): void {
  updateHeldConversation(qc, conversationId, asEvent(eventSeq, (c) => ({
    ...c,
    members: c.members.some((m) => m.id === member.id) ? c.members.map((m) => (m.id === member.id ? member : m)) : [...c.members, member],
    memberReadSeqs: { ...c.memberReadSeqs, [member.id]: Math.max(c.memberReadSeqs?.[member.id] ?? 0, readSeq) },
    updatedAt: later(c.updatedAt, updatedAt),
  })))
}

/** `member.removed` for someone else: drop them, and take the owner the event names (it moves
 * when the owner leaves). Events recorded before deltas name no owner: keep ours then. */
export function applyMemberRemoved(
  qc: QueryClient,
  conversationId: string,
  userId: string,
  ownerId: string | null | undefined,
  updatedAt: string | undefined,
  eventSeq?: number,
): void {
  updateHeldConversation(qc, conversationId, asEvent(eventSeq, (c) => {
    const memberReadSeqs = { ...c.memberReadSeqs }
    delete memberReadSeqs[userId]
    return {
      ...c,
      members: c.members.filter((m) => m.id !== userId),
      memberReadSeqs,
      ownerId: ownerId === undefined ? c.ownerId : ownerId,
      updatedAt: later(c.updatedAt, updatedAt),
    }
  }))
}

/** Change the messages of one conversation's loaded pages that `fn` changes (it returns the
 * same object for the others), in the pages and in the conversation's preview. */
function updateMessages(qc: QueryClient, conversationId: string, fn: (m: Message) => Message): void {
  updateQuery<MessagesData>(qc, keys.messages(conversationId), (data) => {
    let changed = false
    const pages = data.pages.map((page) => {
      const messages = page.messages.map((m) => {
        const next = fn(m)
        if (next !== m) changed = true
        return next
      })
      return messages.some((m, i) => m !== page.messages[i]) ? { ...page, messages } : page
    })
    return changed ? { ...data, pages } : data
  })
  updateConversation(qc, conversationId, (c) => {
    const last = c.lastMessage ? fn(c.lastMessage) : c.lastMessage
    return last === c.lastMessage ? c : { ...c, lastMessage: last }
  })
}

/** The quote of `original` as a reply shows it now: the start of its body, or deleted. */
export function quoteOf(original: Message): ReplyTo {
  return {
    id: original.id,
    senderId: original.senderId,
    excerpt: original.deleted ? '' : Array.from(original.body).slice(0, REPLY_EXCERPT_CHARS).join(''),
    deleted: original.deleted,
  }
}

/** Replies quote the original as it is now: after a change to `original` (an edit, a
 * deletion), the replies to it that we hold follow. A deletion never goes back. */
function updateQuotes(qc: QueryClient, original: Message): void {
  const quote = quoteOf(original)
  updateMessages(qc, original.conversationId, (m) => {
    const held = m.replyTo
    if (!held || held.id !== original.id || m.deleted) return m
    if (held.deleted || (held.excerpt === quote.excerpt && held.senderId === quote.senderId && !quote.deleted)) return m
    return { ...m, replyTo: quote }
  })
}

/** `reaction.added` / `reaction.removed`: the message's reactions as the event gives them
 * (the whole set after the change, so applying it again, or late, counts nothing twice). A
 * deleted message keeps none. */
export function applyReactions(qc: QueryClient, conversationId: string, messageId: string, reactions: ReactionCount[], eventSeq?: number): void {
  updateMessages(qc, conversationId, (m) => (m.id !== messageId || m.deleted ? m : { ...m, reactions }))
  if (eventSeq !== undefined) {
    updateConversation(qc, conversationId, (c) => {
      const lastEventSeq = maxEventSeq(c.lastEventSeq, eventSeq)
      return lastEventSeq === c.lastEventSeq ? c : { ...c, lastEventSeq }
    })
  }
}

/** Apply a message from any source (ack, REST, event) to the message pages, the outbox and
 * the conversation's preview. Messages only move forward (`newer`), so a message event is
 * applied even to a view that is further along: the message pages may not have it. */
export function applyMessage(qc: QueryClient, message: Message, meId: string | undefined, eventSeq?: number): void {
  updateQuery<MessagesData>(qc, keys.messages(message.conversationId), (d) => mergeMessage(d, message) ?? d)
  if (message.clientMessageId && message.senderId === meId) {
    qc.setQueryData<OutboxEntry[]>(keys.outbox(message.conversationId), (box) =>
      box?.filter((e) => e.clientMessageId !== message.clientMessageId),
    )
  }
  updateConversation(qc, message.conversationId, (c) => {
    const next = withPreview(c, message, meId)
    const lastEventSeq = maxEventSeq(c.lastEventSeq, eventSeq)
    return lastEventSeq === c.lastEventSeq ? next : { ...next, lastEventSeq }
  })
  if (message.editedAt || message.deleted) {
    // The message as the cache now holds it: a late, older copy does not roll quotes back.
    const held = allMessages(qc.getQueryData<MessagesData>(keys.messages(message.conversationId))).find((m) => m.id === message.id)
    updateQuotes(qc, held ?? message)
  }
}

/** The conversation with `message` as its last message, if it is the newest. */
function withPreview(c: Conversation, message: Message, meId: string | undefined): Conversation {
  if (message.seq < c.lastSeq) return c
  if (message.seq === c.lastSeq && c.lastMessage && c.lastMessage.id === message.id) {
    return { ...c, lastMessage: newer(c.lastMessage, message) }
  }
  if (message.seq === c.lastSeq && c.lastMessage) return c
  const mine = message.senderId === meId
  const readSeq = mine ? Math.max(c.readSeq, message.seq) : c.readSeq
  return {
    ...c,
    lastSeq: message.seq,
    lastMessage: message,
    updatedAt: message.createdAt,
    readSeq,
    unreadCount: Math.max(message.seq - readSeq, 0),
    memberReadSeqs: mine && meId ? { ...c.memberReadSeqs, [meId]: readSeq } : c.memberReadSeqs,
  }
}

/** A read marker moved (ours from any device, or another member's). */
export function applyRead(qc: QueryClient, conversationId: string, userId: string, seq: number, meId: string | undefined): void {
  updateConversation(qc, conversationId, (c) => {
    const prev = c.memberReadSeqs?.[userId] ?? 0
    const memberReadSeqs = { ...c.memberReadSeqs, [userId]: Math.max(prev, seq) }
    if (userId !== meId) return { ...c, memberReadSeqs }
    const readSeq = Math.max(c.readSeq, seq)
    return { ...c, memberReadSeqs, readSeq, unreadCount: Math.max(c.lastSeq - readSeq, 0) }
  })
}

/** Our mute of a conversation changed (`conversation.muted`, or our own PUT/DELETE's answer):
 * the socket's map of mutes and the views' fields, which stand in until the socket speaks. */
export function applyMute(qc: QueryClient, conversationId: string, muted: boolean, mutedUntil: string | null): void {
  putMute(qc, conversationId, muted, mutedUntil)
  updateConversation(qc, conversationId, (c) => ({ ...c, muted, mutedUntil: muted ? mutedUntil : null }))
}

export function applyTyping(qc: QueryClient, conversationId: string, userId: string, isTyping: boolean, now = Date.now()): void {
  qc.setQueryData<TypingState>(keys.typing(conversationId), (prev) => {
    const next: TypingState = {}
    for (const [uid, exp] of Object.entries(prev ?? {})) if (exp > now && uid !== userId) next[uid] = exp
    if (isTyping) next[userId] = now + TYPING_TTL_MS
    return next
  })
}

/** `presence`: whether the user is online now; going offline also says when they were last
 * seen, written into every view of them we hold. */
export function applyPresence(qc: QueryClient, userId: string, online: boolean, lastSeenAt?: string | null): void {
  qc.setQueryData<PresenceState>(keys.presence, (prev) => ({ ...prev, [userId]: online }))
  if (!online && lastSeenAt) {
    updatePerson(qc, userId, (u) => {
      const later = laterSeen(u.lastSeenAt, lastSeenAt)
      return later === u.lastSeenAt ? u : { ...u, lastSeenAt: later }
    })
  }
}

/** Apply `fn` to every view of the person we hold: as a member of any conversation (the list
 * and each conversation's own query: chat titles, headers, senders, member lists), and their
 * own profile (`keys.user`: the authors who are no longer members). */
function updatePerson(qc: QueryClient, userId: string, fn: (u: User) => User): void {
  const inConversation = (c: Conversation): Conversation => {
    if (!c.members.some((m) => m.id === userId)) return c
    return { ...c, members: c.members.map((m) => (m.id === userId ? fn(m) : m)) }
  }
  updateQuery<Conversation[]>(qc, keys.conversations, (list) => (list.some((c) => c.members.some((m) => m.id === userId)) ? list.map(inConversation) : list))
  for (const query of qc.getQueryCache().findAll({ queryKey: keys.every.conversation })) {
    updateQuery<Conversation | null>(qc, query.queryKey, (c) => (c ? inConversation(c) : c))
  }
  updateQuery<User>(qc, keys.user(userId), fn)
}

/**
 * `user.updated`: someone's public profile changed (a contact's, or ours from another device).
 * Every view of them takes the new profile, and so does our own `me` when it is us. A fetch of
 * conversations already in flight may have been answered before the change: it is started
 * again (`invalidateQueries` cancels the one in flight), so no answer older than the change
 * lands after it; a first fetch with no data yet gets the change applied as it lands.
 */
export function applyUserUpdated(qc: QueryClient, user: User, meId: string | undefined): void {
  updatePerson(qc, user.id, (held) => newerProfile(held, user))
  if (user.id === meId) {
    const { lastSeenAt: _, ...profile } = user
    qc.setQueryData<User | null>(keys.me, (me) => (me ? { ...me, ...profile, email: me.email } : me))
  }
  for (const queryKey of [keys.conversations, keys.every.conversation, keys.user(user.id)]) {
    if (qc.isFetching({ queryKey }) > 0) void qc.invalidateQueries({ queryKey })
  }
}

export function setOnline(qc: QueryClient, online: string[]): void {
  const next: PresenceState = {}
  for (const id of online) next[id] = true
  qc.setQueryData<PresenceState>(keys.presence, next)
}

/** A whole conversation stands for everything up to its `lastEventSeq`: a catch-up sends one
 * for a conversation that joined (or re-joined) after the resume cursor, in place of the
 * messages sent since. So messages already held for it are fetched again, or the open chat
 * would miss those folded into the view. */
function refetchMessagesHeld(qc: QueryClient, conversationId: string): void {
  if (qc.getQueryData(keys.messages(conversationId)) !== undefined) {
    void qc.invalidateQueries({ queryKey: keys.messages(conversationId) })
  }
}

/** A whole view carried by event `eventSeq`: as of that event when it does not say. */
function atEventSeq(conv: Conversation, eventSeq: number | undefined): Conversation {
  return conv.lastEventSeq === undefined && eventSeq !== undefined ? { ...conv, lastEventSeq: eventSeq } : conv
}

/** Apply one server event. Durable events must already be deduped by cursor upstream;
 * this stays idempotent regardless. */
export function applyEvent(qc: QueryClient, event: ServerEvent | DurableEvent, meId: string | undefined): void {
  switch (event.type) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted': {
      applyMessage(qc, event.message, meId, event.eventSeq)
      // A message from someone else means they stopped typing.
      if (event.type === 'message.created' && event.message.senderId !== meId) {
        applyTyping(qc, event.message.conversationId, event.message.senderId, false)
      }
      if (event.type === 'message.created' && !qc.getQueryData<Conversation[]>(keys.conversations)?.some((c) => c.id === event.message.conversationId)) {
        // A conversation we have not loaded yet: fetch the list again.
        void qc.invalidateQueries({ queryKey: keys.conversations })
      }
      return
    }
    case 'read':
      applyRead(qc, event.conversationId, event.userId, event.seq, meId)
      return
    case 'conversation.created':
      upsertConversation(qc, atEventSeq(event.conversation, event.eventSeq), meId)
      refetchMessagesHeld(qc, event.conversation.id)
      return
    case 'conversation.updated':
      if (event.conversation) upsertConversation(qc, atEventSeq(event.conversation, event.eventSeq), meId)
      else if (event.conversationId && event.changes) applyConversationChanges(qc, event.conversationId, event.changes, event.eventSeq)
      return
    case 'member.added':
      if (event.conversation) {
        upsertConversation(qc, atEventSeq(event.conversation, event.eventSeq), meId)
        refetchMessagesHeld(qc, event.conversation.id)
      } else if (event.conversationId && event.member) {
        applyMemberAdded(qc, event.conversationId, event.member, event.readSeq ?? 0, event.updatedAt, event.eventSeq)
      }
      return
    case 'conversation.deleted':
      removeConversation(qc, event.conversationId)
      return
    case 'member.removed':
      if (event.userId === meId) removeConversation(qc, event.conversationId)
      else applyMemberRemoved(qc, event.conversationId, event.userId, event.ownerId, event.updatedAt, event.eventSeq)
      return
    case 'reaction.added':
    case 'reaction.removed':
      applyReactions(qc, event.conversationId, event.messageId, event.reactions, event.eventSeq)
      return
    case 'typing':
      if (event.userId !== meId) applyTyping(qc, event.conversationId, event.userId, event.isTyping)
      return
    case 'presence':
      applyPresence(qc, event.userId, event.online, event.lastSeenAt)
      return
    case 'user.updated':
      applyUserUpdated(qc, event.user, meId)
      return
    case 'conversation.muted':
      applyMute(qc, event.conversationId, event.muted, event.mutedUntil)
      return
  }
}

/**
 * `structuralSharing` for the conversation list: a refetch that started before a live update
 * must not undo it, so the view further along in the event sequence keeps its shared fields
 * (title, members, owner), and read markers and last messages only move forward. Membership of
 * the list follows the fresh data (deleted or left conversations disappear).
 */
export function mergeConversationLists(old: unknown, fresh: unknown): unknown {
  if (!Array.isArray(old) || !Array.isArray(fresh)) return fresh
  const before = new Map((old as Conversation[]).map((c) => [c.id, c]))
  return sortConversations(
    (fresh as Conversation[]).map((incoming) => {
      const prev = before.get(incoming.id)
      if (!prev) return incoming
      const further = furtherView(prev, incoming)
      const c = further === prev ? { ...prev, members: profilesFrom(prev, incoming) } : further
      const memberReadSeqs = laterReadSeqs(c, further === prev ? incoming : prev)
      const lastEventSeq = maxEventSeq(prev.lastEventSeq, incoming.lastEventSeq)
      const readSeq = Math.max(incoming.readSeq, prev.readSeq)
      let { lastSeq, lastMessage } = incoming
      if (prev.lastSeq > lastSeq) {
        lastSeq = prev.lastSeq
        lastMessage = prev.lastMessage
      } else if (prev.lastSeq === lastSeq && prev.lastMessage && lastMessage && prev.lastMessage.id === lastMessage.id) {
        lastMessage = newer(prev.lastMessage, lastMessage)
      }
      return { ...c, memberReadSeqs, readSeq, lastSeq, lastMessage, lastEventSeq, unreadCount: Math.max(lastSeq - readSeq, 0) }
    }),
  )
}

/** Whether `a` is a later state of the same message than `b`: deleted, or edited after it. */
function strictlyNewer(a: Message, b: Message): boolean {
  if (a.deleted !== b.deleted) return a.deleted
  return !!a.editedAt && (!b.editedAt || a.editedAt > b.editedAt)
}

/** `structuralSharing` for message pages: keep live messages newer than what a refetch saw.
 * A message both hold is taken from `fresh` unless the held one is strictly newer (deleted or
 * edited later): quotes and reactions carry no version, and `fresh` is the later write (a
 * cache update, or a refetch that answered after the events the held copy has). */
export function mergeMessagePages(old: unknown, fresh: unknown): unknown {
  const prev = old as MessagesData | undefined
  let next = fresh as MessagesData | undefined
  if (!prev?.pages || !next?.pages || next.pages.length === 0) return fresh
  const inFresh = new Map(allMessages(next).map((m) => [m.id, m]))
  for (const m of allMessages(prev)) {
    const there = inFresh.get(m.id)
    if (there && !strictlyNewer(m, there)) continue
    next = mergeMessage(next, m)
  }
  return next
}
