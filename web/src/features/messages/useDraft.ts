import { useCallback, useState } from 'react'
import { loadDraft, saveDraft } from '@/lib/drafts'

/**
 * The composer's text for one conversation, kept as that conversation's draft: switching to
 * another chat shows that chat's draft, and coming back (or reloading) brings this one back.
 */
export function useDraft(userId: string, conversationId: string): [string, (text: string) => void] {
  const key = `${userId}\n${conversationId}`
  const [state, setState] = useState(() => ({ key, text: loadDraft(userId, conversationId) }))
  let text = state.text
  if (state.key !== key) {
    // Another chat: show its draft now (React re-renders at once with this state).
    text = loadDraft(userId, conversationId)
    setState({ key, text })
  }
  const setText = useCallback(
    (next: string) => {
      setState({ key, text: next })
      saveDraft(userId, conversationId, next)
    },
    [key, userId, conversationId],
  )
  return [text, setText]
}
