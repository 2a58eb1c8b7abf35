import * as DM from '@radix-ui/react-dropdown-menu'
import { BellIcon, BellOffIcon } from '@/components/icons'
import { IconButton } from '@/components/ui'
import { errorMessage } from '@/lib/http'
import { formatClock, formatDay } from '@/lib/time'
import type { Conversation } from '@/lib/types'
import { useMuteConversation } from './api'

const item =
  'flex cursor-pointer items-center gap-2 rounded-lg px-3 py-2 outline-none data-highlighted:bg-zinc-100 dark:data-highlighted:bg-zinc-800'

/** "until 14:05", "until Tuesday 09:00", or "until you unmute". */
export function mutedUntilText(mutedUntil: string | null | undefined, now = new Date()): string {
  if (!mutedUntil) return 'until you unmute'
  const day = formatDay(mutedUntil, now)
  return day === 'Today' ? `until ${formatClock(mutedUntil)}` : `until ${day} ${formatClock(mutedUntil)}`
}

/** The chat header's menu: mute this chat for ourselves (1 hour, 8 hours, until unmuted), or
 * unmute it. A mute is kept on the server, so every device of ours follows it. */
export function MuteMenu({ conversation, muted, mutedUntil }: { conversation: Conversation; muted: boolean; mutedUntil: string | null | undefined }) {
  const mute = useMuteConversation(conversation.id)
  return (
    <DM.Root>
      <DM.Trigger asChild>
        <IconButton label="Chat menu">{muted ? <BellOffIcon /> : <BellIcon />}</IconButton>
      </DM.Trigger>
      <DM.Portal>
        <DM.Content align="end" sideOffset={6} className="z-50 min-w-56 rounded-2xl border border-zinc-200 bg-white p-1.5 text-sm shadow-xl dark:border-zinc-700 dark:bg-zinc-900">
          {muted ? (
            <>
              <DM.Label className="px-3 py-2 text-xs text-zinc-500 dark:text-zinc-400">Muted {mutedUntilText(mutedUntil)}</DM.Label>
              <DM.Item onSelect={() => mute.mutate(0)} className={item}>
                <BellIcon className="size-4" /> Unmute
              </DM.Item>
            </>
          ) : (
            <>
              <DM.Label className="px-3 py-2 text-xs text-zinc-500 dark:text-zinc-400">No notifications, not counted in the tab title</DM.Label>
              <DM.Item onSelect={() => mute.mutate(1)} className={item}>
                <BellOffIcon className="size-4" /> Mute for 1 hour
              </DM.Item>
              <DM.Item onSelect={() => mute.mutate(8)} className={item}>
                <BellOffIcon className="size-4" /> Mute for 8 hours
              </DM.Item>
              <DM.Item onSelect={() => mute.mutate(null)} className={item}>
                <BellOffIcon className="size-4" /> Mute until I unmute
              </DM.Item>
            </>
          )}
        </DM.Content>
      </DM.Portal>
      {mute.isError && (
        <button
          type="button"
          role="alert"
          onClick={() => mute.reset()}
          className="fixed bottom-4 left-1/2 z-50 -translate-x-1/2 rounded-full bg-red-700 px-4 py-2 text-sm text-white shadow-lg"
        >
          Could not change the mute: {errorMessage(mute.error)} (dismiss)
        </button>
      )}
    </DM.Root>
  )
}
