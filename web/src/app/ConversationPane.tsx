import { useCallback, useEffect, useRef, useState } from 'react'
import { Link, useSearchParams } from 'react-router'
import { Avatar } from '@/components/Avatar'
import { personLabel } from '@/components/PersonName'
import { BackIcon, SettingsIcon } from '@/components/icons'
import { IconButton, Spinner, focusRing } from '@/components/ui'
import { useConversation } from '@/features/conversations/api'
import { MuteMenu } from '@/features/conversations/MuteMenu'
import { conversationTitle, otherMember } from '@/features/conversations/display'
import { departureText, useDeparture, useGroupNotices } from '@/features/groups/api'
import { memberCount } from '@/features/groups/notices'
import { Composer } from '@/features/messages/Composer'
import { MessageList } from '@/features/messages/MessageList'
import { useMessageActions } from '@/features/messages/hooks'
import { noteMessageSent } from '@/features/notifications/permission'
import { TypingIndicator } from '@/features/realtime/components'
import { useTypingUsers } from '@/features/realtime/hooks'
import type { PresenceState } from '@/lib/cache'
import { useIsMuted, useMutes } from '@/lib/mutes'
import { useConnectionStatus } from '@/lib/realtime-context'
import { lastSeenText } from '@/lib/time'
import type { Attachment, Message, User } from '@/lib/types'
import { BlockedNotice, DirectChatMenu, useBlockControls } from './DirectChatBlock'
import { GroupSettingsDialog } from './GroupSettingsDialog'

/** Whether the user can see the page right now (read receipts wait for this). */
function usePageAttention(): boolean {
  const get = () => document.visibilityState === 'visible' && document.hasFocus()
  const [attentive, setAttentive] = useState(get)
  useEffect(() => {
    const update = () => setAttentive(get())
    window.addEventListener('focus', update)
    window.addEventListener('blur', update)
    document.addEventListener('visibilitychange', update)
    return () => {
      window.removeEventListener('focus', update)
      window.removeEventListener('blur', update)
      document.removeEventListener('visibilitychange', update)
    }
  }, [])
  return attentive
}

/** "last seen …", kept current: it re-renders itself (not the chat) every half minute, so
 * "5 minutes ago" ages while the chat stays open. */
function LastSeen({ iso }: { iso: string }) {
  const [now, setNow] = useState(() => new Date())
  useEffect(() => {
    setNow(new Date())
    const timer = setInterval(() => setNow(new Date()), 30_000)
    return () => clearInterval(timer)
  }, [iso])
  return <>{lastSeenText(iso, now)}</>
}

export function ConversationPane({ conversationId, me, presence }: { conversationId: string; me: User; presence: PresenceState }) {
  const { conversation, isLoading } = useConversation(conversationId)
  const actions = useMessageActions(me.id)
  const typingIds = useTypingUsers(conversationId)
  const attentive = usePageAttention()
  const [latestSeq, setLatestSeq] = useState(0)
  const [settings, setSettings] = useState(false)
  const notices = useGroupNotices(conversation, me.id)
  const departure = useDeparture(conversationId)
  const status = useConnectionStatus()
  // `?seq=` names a message to open the history at (a search result): shown and highlighted.
  const [params] = useSearchParams()
  const focusSeq = Number.parseInt(params.get('seq') ?? '', 10) || undefined
  const other = conversation?.kind === 'direct' ? otherMember(conversation, me.id) : undefined
  const block = useBlockControls(conversationId, other)

  const readSeq = conversation?.readSeq ?? 0
  // Where the unread messages started when the chat was opened (fixed while it stays open).
  const unreadAfter = useRef<number | undefined | null>(null)
  if (conversation && unreadAfter.current === null) unreadAfter.current = conversation.unreadCount > 0 ? conversation.readSeq : undefined
  const { markRead } = actions
  useEffect(() => {
    if (attentive && latestSeq > readSeq) void markRead(conversationId, latestSeq)
  }, [attentive, latestSeq, readSeq, conversationId, markRead])

  // The message being replied to; a reply belongs to its conversation, so it ends with it.
  const [replying, setReplying] = useState<{ conversationId: string; message: Message } | null>(null)
  const replyingTo = replying?.conversationId === conversationId ? replying.message : null
  const send = useCallback(
    (body: string, attachments: Attachment[]) => {
      void actions.send(conversationId, body, attachments, replyingTo ?? undefined)
      setReplying(null)
      noteMessageSent() // the moment to offer notifications, never on first load
    },
    [actions, conversationId, replyingTo],
  )
  const startReply = useCallback((message: Message) => setReplying({ conversationId: message.conversationId, message }), [])
  const mutes = useMutes()
  const isMuted = useIsMuted(conversation ? [conversation] : undefined)

  if (!conversation) {
    return (
      <div className="flex flex-1 flex-col items-center justify-center gap-3 p-6 text-center text-zinc-500">
        {isLoading ? (
          <Spinner className="size-6" />
        ) : (
          <>
            <p>{departure ? departureText(departure) : 'This chat is not available.'}</p>
            <Link to="/" className="text-sm font-medium text-brand-700 underline dark:text-brand-400">
              Back to chats
            </Link>
          </>
        )}
      </div>
    )
  }

  const title = conversationTitle(conversation, me.id)
  const online = other ? !!presence[other.id] : undefined
  // While we are not connected we cannot tell whether they are online now: say neither.
  const connected = status === 'online' || status === 'syncing'
  const lastSeenAt = other && !online && connected ? other.lastSeenAt : undefined
  const subtitle =
    typingIds.length > 0 ? (
      'typing…'
    ) : conversation.kind === 'group' ? (
      memberCount(conversation.members.length)
    ) : (
      // The @username always shows: a direct chat's title is a display name anyone may copy.
      <>
        @{other?.username ?? ''}
        {online ? ' · online' : lastSeenAt ? <> · <LastSeen iso={lastSeenAt} /></> : null}
      </>
    )
  const typingNames = typingIds.map((id) => {
    const member = conversation.members.find((m) => m.id === id)
    if (!member) return 'Someone'
    // A shared display name gets the @username, so it is clear who is typing.
    const shared = conversation.members.some((m) => m.id !== id && m.displayName === member.displayName)
    return shared ? personLabel(member) : member.displayName
  })

  return (
    <>
      <header className="flex items-center gap-2 border-b border-zinc-200 bg-white/95 px-2 py-2 backdrop-blur sm:px-4 dark:border-zinc-800 dark:bg-zinc-950/95">
        <Link to="/" aria-label="Back to chats" className={`inline-flex size-10 items-center justify-center rounded-full text-zinc-600 hover:bg-zinc-100 md:hidden dark:text-zinc-300 dark:hover:bg-zinc-800 ${focusRing}`}>
          <BackIcon />
        </Link>
        <Avatar name={title} seed={other?.id ?? conversation.id} src={other?.avatarUrl} group={conversation.kind === 'group'} online={online} />
        <div className="min-w-0 flex-1 px-1">
          <h2 className="truncate font-semibold" data-testid="conversation-title">
            <bdi>{title}</bdi>
          </h2>
          <p data-testid="conversation-status" className={`truncate text-xs ${typingIds.length || online ? 'text-brand-600 dark:text-brand-400' : 'text-zinc-500'}`}>
            {subtitle}
          </p>
        </div>
        <MuteMenu conversation={conversation} muted={isMuted(conversation)} mutedUntil={mutes ? mutes[conversation.id] : conversation.mutedUntil} />
        {conversation.kind === 'group' && (
          <IconButton label="Group settings" onClick={() => setSettings(true)}>
            <SettingsIcon />
          </IconButton>
        )}
        {other && <DirectChatMenu blocked={!!conversation.blocked} onAsk={block.ask} />}
      </header>
      <MessageList
        conversationId={conversationId}
        meId={me.id}
        members={conversation.members}
        memberReadSeqs={conversation.memberReadSeqs ?? {}}
        isGroup={conversation.kind === 'group'}
        onRetry={(cmid) => void actions.retry(conversationId, cmid)}
        onDiscard={(cmid) => actions.discard(conversationId, cmid)}
        onEdit={actions.edit}
        onDelete={actions.remove}
        onReply={startReply}
        onReact={actions.react}
        onLatestSeq={setLatestSeq}
        unreadAfter={unreadAfter.current ?? undefined}
        focusSeq={focusSeq}
        footer={<TypingIndicator names={typingNames} />}
        notices={notices}
      />
      {conversation.canSend === false ? (
        <BlockedNotice blocked={!!conversation.blocked} name={block.name} error={block.error} onUnblock={() => block.ask('unblock')} />
      ) : (
        <Composer
          conversationId={conversationId}
          meId={me.id}
          onSend={send}
          replyingTo={
            replyingTo && {
              id: replyingTo.id,
              author: replyingTo.senderId === me.id ? 'yourself' : (conversation.members.find((m) => m.id === replyingTo.senderId)?.displayName ?? 'a former member'),
              excerpt: replyingTo.body,
            }
          }
          onCancelReply={() => setReplying(null)}
        />
      )}
      {other && block.dialog}
      {conversation.kind === 'group' && <GroupSettingsDialog open={settings} onOpenChange={setSettings} conversation={conversation} me={me} />}
    </>
  )
}
