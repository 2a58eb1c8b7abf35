/**
 * Unsent drafts, one per signed-in user and conversation, in localStorage so they outlive a
 * chat switch and a reload. Bounded: each draft is cut at MAX_DRAFT_CHARS and a user keeps at
 * most MAX_DRAFTS (the least recently written go first). Sign-out forgets them all, so the
 * next person at this browser does not find them. Storage that is full or unavailable loses
 * the draft, never the typing.
 */
const PREFIX = 'hubbub.draft:'
export const MAX_DRAFTS = 50
export const MAX_DRAFT_CHARS = 10_000

interface Stored {
  text: string
  at: number
}

function keyOf(userId: string, conversationId: string): string {
  return `${PREFIX}${userId}:${conversationId}`
}

function storage(): Storage | null {
  try {
    return window.localStorage
  } catch {
    return null
  }
}

function read(store: Storage, key: string): Stored | null {
  try {
    const value: unknown = JSON.parse(store.getItem(key) ?? 'null')
    if (value && typeof value === 'object' && typeof (value as Stored).text === 'string') return value as Stored
  } catch {
    /* not ours or damaged: as good as none */
  }
  return null
}

/** Keys of this user's drafts (or everyone's), oldest first. */
function draftKeys(store: Storage, userId?: string): string[] {
  const prefix = userId === undefined ? PREFIX : `${PREFIX}${userId}:`
  const keys: string[] = []
  for (let i = 0; i < store.length; i++) {
    const key = store.key(i)
    if (key?.startsWith(prefix)) keys.push(key)
  }
  return keys.sort((a, b) => (read(store, a)?.at ?? 0) - (read(store, b)?.at ?? 0))
}

export function loadDraft(userId: string, conversationId: string): string {
  const store = storage()
  return (store && read(store, keyOf(userId, conversationId))?.text) ?? ''
}

/** Keeps `text` as the draft; an empty (or all-blank) text removes it. */
export function saveDraft(userId: string, conversationId: string, text: string, now = Date.now()): void {
  const store = storage()
  if (!store) return
  const key = keyOf(userId, conversationId)
  try {
    if (!text.trim()) {
      store.removeItem(key)
      return
    }
    const isNew = store.getItem(key) === null
    store.setItem(key, JSON.stringify({ text: text.slice(0, MAX_DRAFT_CHARS), at: now } satisfies Stored))
    if (isNew) {
      const keys = draftKeys(store, userId)
      for (const old of keys.slice(0, Math.max(0, keys.length - MAX_DRAFTS))) store.removeItem(old)
    }
  } catch {
    /* quota exceeded or storage blocked: the text stays in the box, only not kept */
  }
}

/** Forgets every draft in this browser (sign-out). */
export function clearDrafts(): void {
  const store = storage()
  if (!store) return
  for (const key of draftKeys(store)) store.removeItem(key)
}
