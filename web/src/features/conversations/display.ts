import type { Conversation, User } from '@/lib/types'

export function otherMember(c: Conversation, meId: string | undefined): User | undefined {
  return c.members.find((m) => m.id !== meId) ?? c.members[0]
}

export function conversationTitle(c: Conversation, meId: string | undefined): string {
  if (c.kind === 'group') return c.title?.trim() || c.members.map((m) => m.displayName).join(', ') || 'Group'
  return otherMember(c, meId)?.displayName ?? 'Direct chat'
}

export function preview(c: Conversation, meId: string | undefined): string {
  const m = c.lastMessage
  if (!m) return c.kind === 'group' ? 'Group created' : 'Say hello 👋'
  const body = m.deleted ? 'Message deleted' : m.body.replace(/\s+/g, ' ') || filesPreview(m.attachments ?? [])
  if (m.senderId === meId) return `You: ${body}`
  if (c.kind === 'group') {
    const sender = c.members.find((u) => u.id === m.senderId)
    return sender ? `${sender.displayName.split(' ')[0]}: ${body}` : body
  }
  return body
}

/** A message of files only, in the list: their names (the first, and how many more). */
function filesPreview(attachments: readonly { fileName: string }[]): string {
  if (attachments.length === 0) return ''
  const more = attachments.length > 1 ? ` +${attachments.length - 1}` : ''
  return `📎 ${attachments[0].fileName}${more}`
}
