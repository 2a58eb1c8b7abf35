import { useEffect, useRef, useState } from 'react'
import type { Message, User } from '@/lib/types'
import { newArrivals } from './announcements'

/** How many announcements stay in the region (older ones were read out already). */
const KEEP = 5

export interface NewMessageAnnouncerProps {
  conversationId: string
  meId: string
  messages: readonly Message[]
  /** False until the conversation's history has loaded: what it holds is not news. */
  loaded: boolean
  names: ReadonlyMap<string, User>
}

/**
 * A visually hidden polite live region: screen readers read out each new message from
 * someone else in the open conversation ("Bob Stone: hi") when they are idle, without
 * moving focus. See `newArrivals` for what counts as new.
 */
export function NewMessageAnnouncer({ conversationId, meId, messages, loaded, names }: NewMessageAnnouncerProps) {
  const seen = useRef<{ conversationId: string; highestSeen: number | null }>({ conversationId, highestSeen: null })
  const [lines, setLines] = useState<{ key: string; text: string }[]>([])

  useEffect(() => {
    if (seen.current.conversationId !== conversationId) {
      seen.current = { conversationId, highestSeen: null }
      setLines([])
    }
    if (!loaded) return
    const { arrivals, highestSeen } = newArrivals(messages, meId, seen.current.highestSeen)
    seen.current.highestSeen = highestSeen
    if (arrivals.length === 0) return
    const heard = arrivals.map((m) => ({ key: m.id, text: `${names.get(m.senderId)?.displayName ?? 'Someone'}: ${m.body}` }))
    setLines((previous) => [...previous, ...heard].slice(-KEEP))
  }, [conversationId, meId, messages, loaded, names])

  return (
    <div aria-live="polite" data-testid="message-announcer" className="sr-only">
      {lines.map((line) => (
        <p key={line.key}>{line.text}</p>
      ))}
    </div>
  )
}
