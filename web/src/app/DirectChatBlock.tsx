import * as DM from '@radix-ui/react-dropdown-menu'
import clsx from 'clsx'
import { useState } from 'react'
import { ConfirmDialog } from '@/components/ConfirmDialog'
import { DotsIcon } from '@/components/icons'
import { ErrorNote, focusRing } from '@/components/ui'
import { useSetBlocked } from '@/features/users/api'
import { errorMessage } from '@/lib/http'
import type { User } from '@/lib/types'

type Pending = 'block' | 'unblock' | null

/** Blocking from a direct chat: the header's menu, the confirmation, and the notice that takes
 * the composer's place while nobody can send (docs/openapi.json says what each side sees). */
export function useBlockControls(conversationId: string, other: User | undefined) {
  const [pending, setPending] = useState<Pending>(null)
  const setBlocked = useSetBlocked()
  const name = other?.displayName ?? 'this user'
  const confirm = () => {
    if (!other || !pending) return
    setBlocked.mutate({ userId: other.id, blocked: pending === 'block', conversationId })
  }
  const dialog = (
    <ConfirmDialog
      open={pending !== null}
      onOpenChange={(open) => !open && setPending(null)}
      title={pending === 'unblock' ? `Unblock ${name}?` : `Block ${name}?`}
      description={
        pending === 'unblock'
          ? `You and ${name} will be able to message each other in this chat again.`
          : `Neither of you will be able to send messages in this chat, or see each other online, until you unblock them. You both keep the history. Groups you share are not affected.`
      }
      confirmLabel={pending === 'unblock' ? 'Unblock' : 'Block'}
      onConfirm={confirm}
    />
  )
  return { pending, ask: setPending, dialog, error: setBlocked.error ? errorMessage(setBlocked.error) : null, name }
}

export function DirectChatMenu({ blocked, onAsk }: { blocked: boolean; onAsk(what: Pending): void }) {
  return (
    <DM.Root>
      <DM.Trigger asChild>
        <button aria-label="Chat options" className={clsx('inline-flex size-10 items-center justify-center rounded-full text-zinc-600 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800', focusRing)}>
          <DotsIcon />
        </button>
      </DM.Trigger>
      <DM.Portal>
        <DM.Content align="end" sideOffset={6} className="z-50 min-w-40 rounded-xl border border-zinc-200 bg-white p-1 text-sm shadow-lg dark:border-zinc-700 dark:bg-zinc-900">
          <DM.Item
            onSelect={() => onAsk(blocked ? 'unblock' : 'block')}
            className={clsx('cursor-pointer rounded-lg px-3 py-2 outline-none data-highlighted:bg-zinc-100 dark:data-highlighted:bg-zinc-800', !blocked && 'text-red-600 dark:text-red-400')}
          >
            {blocked ? 'Unblock' : 'Block'}
          </DM.Item>
        </DM.Content>
      </DM.Portal>
    </DM.Root>
  )
}

/** In the composer's place while the chat takes no messages: the blocker can unblock from here;
 * the blocked side is told only that it cannot send, not who did what. */
export function BlockedNotice({ blocked, name, error, onUnblock }: { blocked: boolean; name: string; error: string | null; onUnblock(): void }) {
  return (
    <div role="status" className="flex flex-col items-center gap-2 border-t border-zinc-200 bg-zinc-50 px-4 py-3 pb-[max(0.75rem,env(safe-area-inset-bottom))] text-center text-sm text-zinc-600 dark:border-zinc-800 dark:bg-zinc-900 dark:text-zinc-300">
      {blocked ? (
        <p>
          You blocked <bdi>{name}</bdi>.{' '}
          <button type="button" onClick={onUnblock} className={clsx('font-medium text-brand-700 underline dark:text-brand-400', focusRing)}>
            Unblock
          </button>
        </p>
      ) : (
        <p>You can't send messages to this chat.</p>
      )}
      <ErrorNote message={error} />
    </div>
  )
}
