import * as DM from '@radix-ui/react-dropdown-menu'
import { clsx } from 'clsx'
import { useEffect, useState } from 'react'
import { useParams } from 'react-router'
import { Avatar } from '@/components/Avatar'
import { ThemeToggle } from '@/components/ThemeToggle'
import { Dialog } from '@/components/Dialog'
import { BellIcon, BellOffIcon, ChatIcon, LogoutIcon, PlusIcon, SearchIcon, UserIcon } from '@/components/icons'
import { focusRing } from '@/components/ui'
import { useSignOut } from '@/features/auth/api'
import { ConversationList } from '@/features/conversations/ConversationList'
import { useConversations } from '@/features/conversations/api'
import { useMessageActions } from '@/features/messages/hooks'
import { unreadTitle, unreadTotal } from '@/features/notifications/decide'
import { NotificationOffer } from '@/features/notifications/NotificationOffer'
import { askPermission, usePermission } from '@/features/notifications/permission'
import { ProfileForm } from '@/features/users/ProfileForm'
import { ConnectionBanner, ConnectionStatusBadge } from '@/features/realtime/components'
import { useLivePresence, useTypingConversations } from '@/features/realtime/hooks'
import { useIsMuted } from '@/lib/mutes'
import { useConnectionStatus } from '@/lib/realtime-context'
import type { User } from '@/lib/types'
import { ConversationPane } from './ConversationPane'
import { Logo } from './Logo'
import { NewChatDialog } from './NewChatDialog'
import { SearchDialog } from './SearchDialog'

export function ChatScreen({ me }: { me: User }) {
  const { conversationId } = useParams()
  const presence = useLivePresence()
  const typing = useTypingConversations()
  const [newChat, setNewChat] = useState(false)
  const [search, setSearch] = useState(false)
  const status = useConnectionStatus()
  const { retryFailed } = useMessageActions(me.id)

  // Unread messages in the chats we have not muted, live (events) and as we read.
  const conversations = useConversations().data
  const isMuted = useIsMuted(conversations)
  const unread = unreadTotal(conversations ?? [], isMuted)
  useEffect(() => {
    document.title = unreadTitle(unread)
  }, [unread])

  // Ctrl+K (⌘K on a Mac) opens search from anywhere, as in most chat apps.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === 'k') {
        e.preventDefault()
        setSearch(true)
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])

  // Messages that failed because the connection dropped go out again once it is back.
  useEffect(() => {
    if (status === 'online') retryFailed()
  }, [status, retryFailed])

  return (
    <div className="flex h-full overflow-hidden bg-white dark:bg-zinc-950">
      <aside
        aria-label="Chats"
        className={clsx(
          'flex w-full flex-col border-zinc-200 md:w-[340px] md:shrink-0 md:border-r lg:w-[380px] dark:border-zinc-800',
          conversationId ? 'hidden md:flex' : 'flex',
        )}
      >
        <header className="flex items-center gap-2 px-4 pt-4 pb-3">
          <Logo className="size-8" />
          <div className="min-w-0 flex-1">
            <h1 className="text-lg leading-tight font-bold tracking-tight">Chats</h1>
            <ConnectionStatusBadge />
          </div>
          <ThemeToggle />
          <button
            type="button"
            aria-label="Search"
            title="Search (Ctrl+K)"
            aria-keyshortcuts="Control+K Meta+K"
            onClick={() => setSearch(true)}
            className={clsx('inline-flex size-10 shrink-0 items-center justify-center rounded-full text-zinc-600 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800', focusRing)}
          >
            <SearchIcon />
          </button>
          <button
            type="button"
            aria-label="New chat"
            title="New chat"
            onClick={() => setNewChat(true)}
            className={clsx('inline-flex size-10 shrink-0 items-center justify-center rounded-full bg-brand-600 text-white shadow-sm shadow-brand-900/20 transition-colors hover:bg-brand-700', focusRing)}
          >
            <PlusIcon />
          </button>
          <AccountMenu me={me} />
        </header>
        <ConversationList meId={me.id} selectedId={conversationId} presence={presence} typingIn={(c) => typing.has(c.id)} />
      </aside>
      <main className={clsx('min-w-0 flex-1 flex-col', conversationId ? 'flex' : 'hidden md:flex')}>
        <ConnectionBanner />
        <NotificationOffer />
        {conversationId ? (
          <ConversationPane key={conversationId} conversationId={conversationId} me={me} presence={presence} />
        ) : (
          <div className="chat-wallpaper flex flex-1 flex-col items-center justify-center gap-3 p-8 text-center">
            <span className="flex size-16 items-center justify-center rounded-3xl bg-brand-100 text-brand-700 dark:bg-brand-500/15 dark:text-brand-300">
              <ChatIcon className="size-8" />
            </span>
            <h2 className="text-xl font-semibold">Your messages</h2>
            <p className="max-w-xs text-sm text-zinc-500 dark:text-zinc-400">Pick a chat on the left, or start a new one with a friend or a group.</p>
            <button onClick={() => setNewChat(true)} className={clsx('mt-2 rounded-full bg-brand-600 px-5 py-2.5 text-sm font-medium text-white shadow-sm hover:bg-brand-700', focusRing)}>
              Start a chat
            </button>
          </div>
        )}
      </main>
      <NewChatDialog open={newChat} onOpenChange={setNewChat} me={me} />
      <SearchDialog open={search} onOpenChange={setSearch} me={me} />
    </div>
  )
}

function AccountMenu({ me }: { me: User }) {
  const signOut = useSignOut()
  const [profile, setProfile] = useState(false)
  return (
    <>
    <Dialog open={profile} onOpenChange={setProfile} title="Your profile" description="This is how other people see you.">
      <ProfileForm me={me} onDone={() => setProfile(false)} />
    </Dialog>
    <DM.Root>
      <DM.Trigger asChild>
        <button aria-label="Account" className={clsx('rounded-full', focusRing)}>
          <Avatar size="sm" name={me.displayName} seed={me.id} src={me.avatarUrl} />
        </button>
      </DM.Trigger>
      <DM.Portal>
        <DM.Content align="end" sideOffset={6} className="z-50 min-w-52 rounded-2xl border border-zinc-200 bg-white p-1.5 text-sm shadow-xl dark:border-zinc-700 dark:bg-zinc-900">
          <div className="px-3 py-2">
            <div className="font-semibold" data-testid="me-name">{me.displayName}</div>
            <div className="text-xs text-zinc-500">@{me.username}</div>
          </div>
          <DM.Separator className="my-1 h-px bg-zinc-200 dark:bg-zinc-800" />
          <DM.Item onSelect={() => setProfile(true)} className="flex cursor-pointer items-center gap-2 rounded-lg px-3 py-2 outline-none data-highlighted:bg-zinc-100 dark:data-highlighted:bg-zinc-800">
            <UserIcon className="size-4" /> Edit profile
          </DM.Item>
          <NotificationsItem />
          <DM.Item onSelect={() => signOut.mutate()} className="flex cursor-pointer items-center gap-2 rounded-lg px-3 py-2 outline-none data-highlighted:bg-zinc-100 dark:data-highlighted:bg-zinc-800">
            <LogoutIcon className="size-4" /> Sign out
          </DM.Item>
        </DM.Content>
      </DM.Portal>
    </DM.Root>
    </>
  )
}

/** Notifications in the account menu: the way to turn them on at any time (the banner offers
 * it only after a first message), or where they stand. */
function NotificationsItem() {
  const permission = usePermission()
  if (permission === 'unsupported') return null
  const item = 'flex items-center gap-2 rounded-lg px-3 py-2 outline-none'
  if (permission === 'default')
    return (
      <DM.Item onSelect={() => void askPermission()} className={clsx(item, 'cursor-pointer data-highlighted:bg-zinc-100 dark:data-highlighted:bg-zinc-800')}>
        <BellIcon className="size-4" /> Turn on notifications
      </DM.Item>
    )
  return (
    <DM.Item disabled className={clsx(item, 'text-zinc-500 dark:text-zinc-400')}>
      {permission === 'granted' ? <BellIcon className="size-4" /> : <BellOffIcon className="size-4" />}
      {permission === 'granted' ? 'Notifications are on' : 'Notifications are blocked in the browser’s site settings'}
    </DM.Item>
  )
}
