import { clsx } from 'clsx'
import { useState } from 'react'
import { useNavigate } from 'react-router'
import { Dialog } from '@/components/Dialog'
import { ErrorNote, focusRing } from '@/components/ui'
import { useConversationMutations, useConversations } from '@/features/conversations/api'
import { conversationTitle } from '@/features/conversations/display'
import { MessageSearch } from '@/features/search/MessageSearch'
import { UserSearch } from '@/features/users/UserSearch'
import { errorMessage } from '@/lib/http'
import type { MessageSearchResult, User } from '@/lib/types'

type Tab = 'messages' | 'people'

/** One place to find things: messages in the user's chats (a result opens the chat at that
 * message) and people (a result opens the direct chat with them). */
export function SearchDialog({ open, onOpenChange, me }: { open: boolean; onOpenChange(open: boolean): void; me: User }) {
  const [tab, setTab] = useState<Tab>('messages')
  const navigate = useNavigate()
  const conversations = useConversations().data
  const m = useConversationMutations(me.id)

  const close = (next: boolean) => {
    onOpenChange(next)
    if (!next) m.startDirect.reset()
  }
  const titleOf = (r: MessageSearchResult) => {
    const known = conversations?.find((c) => c.id === r.conversation.id)
    if (known) return conversationTitle(known, me.id)
    return r.conversation.title || (r.sender && r.sender.id !== me.id ? r.sender.displayName : 'Direct chat')
  }
  const openResult = (r: MessageSearchResult) => {
    close(false)
    navigate(`/c/${encodeURIComponent(r.conversation.id)}?seq=${r.message.seq}`)
  }

  return (
    <Dialog open={open} onOpenChange={close} title="Search" description="Find messages in your chats, or people to talk to.">
      <div className="mb-4 grid grid-cols-2 gap-1 rounded-xl bg-zinc-100 p-1 text-sm dark:bg-zinc-800" role="tablist" aria-label="Search for">
        {(['messages', 'people'] as const).map((k) => (
          <button key={k} type="button" role="tab" aria-selected={tab === k} onClick={() => setTab(k)} className={clsx('rounded-lg py-1.5 font-medium', focusRing, tab === k ? 'bg-white shadow-sm dark:bg-zinc-900' : 'text-zinc-500')}>
            {k === 'messages' ? 'Messages' : 'People'}
          </button>
        ))}
      </div>
      {tab === 'messages' ? (
        <MessageSearch autoFocus meId={me.id} titleOf={titleOf} onOpen={openResult} />
      ) : (
        <>
          <ErrorNote message={m.startDirect.error ? errorMessage(m.startDirect.error) : null} />
          <UserSearch
            autoFocus
            onPick={(u) =>
              m.startDirect.mutate(u.id, {
                onSuccess: (c) => {
                  close(false)
                  navigate(`/c/${c.id}`)
                },
              })
            }
          />
        </>
      )}
    </Dialog>
  )
}
