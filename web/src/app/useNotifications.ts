import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef } from 'react'
import { matchPath, useLocation, useNavigate } from 'react-router'
import { conversationTitle } from '@/features/conversations/display'
import { Coalescer, notifiable, notificationText } from '@/features/notifications/decide'
import { currentPermission } from '@/features/notifications/permission'
import { isMuted, type Mutes } from '@/lib/mutes'
import { keys } from '@/lib/query-keys'
import type { Conversation, Message, ServerEvent } from '@/lib/types'

/** Whether the user can see the page (the same test read receipts wait for). */
function pageSeen(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus()
}

/**
 * Browser notifications for live messages in chats that are not on screen (rules in
 * features/notifications/decide.ts). Returns the handler for live events, stable for the
 * life of the component; a burst in one chat is gathered into one notification per chat
 * (`Coalescer`), checked again when it shows (the chat may have been opened or muted since).
 * Clicking a notification brings the tab forward and opens its chat.
 */
export function useNotifications(meId: string): (event: ServerEvent) => void {
  const qc = useQueryClient()
  const navigate = useNavigate()
  const location = useLocation()
  const openId = useRef<string | undefined>(undefined)
  openId.current = matchPath('/c/:conversationId', location.pathname)?.params.conversationId
  const navigateRef = useRef(navigate)
  navigateRef.current = navigate

  const handler = useRef<((event: ServerEvent) => void) | null>(null)
  const coalescer = useRef<Coalescer | null>(null)

  if (handler.current === null) {
    const conversationOf = (id: string): Conversation | undefined =>
      qc.getQueryData<Conversation[]>(keys.conversations)?.find((c) => c.id === id) ?? qc.getQueryData<Conversation | null>(keys.conversation(id)) ?? undefined
    const context = () => ({
      meId,
      openConversationId: openId.current,
      pageSeen: pageSeen(),
      permission: currentPermission(),
      isMuted: (id: string) => {
        const conversation = conversationOf(id)
        return conversation ? isMuted(conversation, qc.getQueryData<Mutes>(keys.mutes), Date.now()) : false
      },
    })
    const show = (conversationId: string, messages: Message[]) => {
      // Gathered messages show later: only those that would still notify now.
      const still = messages.filter((message) => notifiable({ type: 'message.created', message, cursor: '' }, context()))
      if (still.length === 0) return
      const conversation = conversationOf(conversationId)
      const sender = conversation?.members.find((m) => m.id === still[still.length - 1].senderId)
      const { title, body } = notificationText(
        conversation ? conversationTitle(conversation, meId) : 'New message',
        sender?.displayName,
        still,
        conversation?.kind === 'group',
      )
      try {
        const note = new Notification(title, { body, tag: `hubbub:${conversationId}` })
        note.onclick = () => {
          window.focus()
          navigateRef.current(`/c/${conversationId}`)
          note.close()
        }
      } catch {
        /* some browsers (Android Chrome) allow notifications only from a service worker */
      }
    }
    coalescer.current = new Coalescer(show)
    handler.current = (event) => {
      const message = notifiable(event, context())
      if (message) coalescer.current?.add(message)
    }
  }

  useEffect(() => () => coalescer.current?.dispose(), [])
  return handler.current
}
