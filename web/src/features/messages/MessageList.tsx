import * as DM from '@radix-ui/react-dropdown-menu'
import { clsx } from 'clsx'
import { Fragment, type KeyboardEvent, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react'
import { Avatar } from '@/components/Avatar'
import { ConfirmDialog } from '@/components/ConfirmDialog'
import { personLabel } from '@/components/PersonName'
import { AlertIcon, CheckIcon, ChevronDownIcon, ClockIcon, DotsIcon, DoubleCheckIcon, ReplyIcon, SmileIcon } from '@/components/icons'
import { Spinner, focusRing } from '@/components/ui'
import { formatClock } from '@/lib/time'
import { type Message, REACTION_EMOJI, type ReactionEmoji, type ReplyTo, type User } from '@/lib/types'
import { BodyCounter } from './BodyCounter'
import { MessageAttachments, PendingAttachments } from './Attachments'
import { MessageText } from './MessageText'
import { countBody, normalizeBody } from './body'
import { type Item, type Notice, groupItems, withNotices } from './grouping'
import { NoticeLine } from './NoticeLine'
import { useMessages, useOutbox } from './hooks'
import { NewMessageAnnouncer } from './NewMessageAnnouncer'
import { SenderLabel, useSenders } from './senders'

export interface MessageListProps {
  conversationId: string
  meId: string
  members: User[]
  memberReadSeqs: Record<string, number>
  isGroup: boolean
  onRetry(clientMessageId: string): void
  onDiscard(clientMessageId: string): void
  onEdit(message: Message, body: string): Promise<void>
  onDelete(message: Message): Promise<void>
  /** Start a reply to `message` (the composer shows its quote). */
  onReply?(message: Message): void
  /** Our `emoji` on `message`, on or off. */
  onReact?(message: Message, emoji: ReactionEmoji, on: boolean): Promise<void>
  /** Called with the newest seq on screen, for read receipts. */
  onLatestSeq?(seq: number): void
  /** Messages after this seq were unread on opening: a "New messages" line goes before them. */
  unreadAfter?: number
  footer?: React.ReactNode
  /** Group changes shown among the messages, in their place by time. */
  notices?: Notice[]
  /** A message to open the history at (a search result): older pages load until it and one
   * before it are in, then it is scrolled to the middle, highlighted and focused. */
  focusSeq?: number
}

export function MessageList(props: MessageListProps) {
  const { conversationId, meId, members, memberReadSeqs, isGroup } = props
  const { messages, isPending, error, hasNextPage, fetchNextPage, isFetchingNextPage, refetch } = useMessages(conversationId)
  const outbox = useOutbox(conversationId)
  const scroller = useRef<HTMLDivElement>(null)
  const sentinel = useRef<HTMLDivElement>(null)

  const { notices } = props
  const items = useMemo<Item[]>(() => {
    const confirmed = new Set(messages.filter((m) => m.senderId === meId && m.clientMessageId).map((m) => m.clientMessageId))
    const sent = messages.map((m) => ({ kind: 'message' as const, message: m, key: m.id }))
    return [
      ...(notices?.length && !isPending ? withNotices(sent, notices, !hasNextPage) : sent),
      ...outbox.filter((e) => !confirmed.has(e.clientMessageId)).map((e) => ({ kind: 'pending' as const, entry: e, key: `local:${e.clientMessageId}` })),
    ]
  }, [messages, outbox, meId, notices, isPending, hasNextPage])
  const days = useMemo(() => groupItems(items, props.unreadAfter, meId), [items, props.unreadAfter, meId])
  const senders = useSenders(messages, members)
  const names = senders.names

  const latestSeq = messages.length ? messages[messages.length - 1].seq : 0
  const { onLatestSeq } = props
  useEffect(() => {
    if (latestSeq) onLatestSeq?.(latestSeq)
  }, [latestSeq, onLatestSeq])

  // Our own new message scrolls to the bottom.
  const pendingCount = outbox.length
  useLayoutEffect(() => {
    if (pendingCount > 0 && scroller.current) scroller.current.scrollTop = 0
  }, [pendingCount])

  useEffect(() => {
    const el = sentinel.current
    if (!el || !hasNextPage) return
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !isFetchingNextPage) void fetchNextPage()
    }, { root: scroller.current, rootMargin: '300px 0px 0px 0px' })
    io.observe(el)
    return () => io.disconnect()
  }, [hasNextPage, isFetchingNextPage, fetchNextPage])

  // Jump to `focusSeq`: load older pages until it is in with at least one message above it
  // (or the beginning), then show it. The pages stay the one history the live events update,
  // so scrolling down reaches the newest messages and scrolling up loads older ones as usual.
  const { focusSeq } = props
  const [shownSeq, setShownSeq] = useState<number | null>(null)
  const oldestSeq = messages.length ? messages[0].seq : undefined
  useEffect(() => {
    if (focusSeq === undefined || isPending || isFetchingNextPage || shownSeq === focusSeq) return
    if (hasNextPage && (oldestSeq === undefined || oldestSeq >= focusSeq)) {
      void fetchNextPage()
      return
    }
    scroller.current?.querySelector(`[data-seq="${focusSeq}"]`)?.scrollIntoView({ block: 'center' })
    setShownSeq(focusSeq)
  }, [focusSeq, isPending, isFetchingNextPage, hasNextPage, oldestSeq, fetchNextPage, shownSeq])
  const highlightSeq = focusSeq !== undefined && shownSeq === focusSeq ? focusSeq : undefined
  // Focus follows, once the highlighted message is focusable, so a screen reader reads it.
  useEffect(() => {
    if (highlightSeq !== undefined) scroller.current?.querySelector<HTMLElement>(`[data-seq="${highlightSeq}"]`)?.focus({ preventScroll: true })
  }, [highlightSeq])

  // Scrolled away from the newest messages: offer a way back, counting what arrived since.
  const [awayFromSeq, setAwayFromSeq] = useState<number | null>(null)
  const onScroll = () => {
    const el = scroller.current
    if (!el) return
    const away = el.scrollTop < -240 // column-reverse: 0 is the bottom
    if (away && awayFromSeq === null) setAwayFromSeq(latestSeq)
    else if (!away && awayFromSeq !== null) setAwayFromSeq(null)
  }
  const newSince = awayFromSeq === null ? 0 : messages.filter((m) => m.seq > awayFromSeq && m.senderId !== meId).length

  const others = members.filter((m) => m.id !== meId)
  const readBy = (seq: number) => others.filter((m) => (memberReadSeqs[m.id] ?? 0) >= seq)

  return (
    <div className="relative flex min-h-0 flex-1 flex-col">
    <NewMessageAnnouncer conversationId={conversationId} meId={meId} messages={messages} loaded={!isPending} names={names} />
    <div ref={scroller} onScroll={onScroll} data-testid="message-scroller" className="chat-wallpaper flex min-h-0 flex-1 flex-col-reverse overflow-y-auto scroll-thin">
      <div className="mx-auto w-full max-w-3xl px-3 pt-2 pb-3 sm:px-6">
        <div ref={sentinel} aria-hidden className="h-1" />
        {isFetchingNextPage && (
          <div className="flex justify-center py-3 text-zinc-400">
            <Spinner />
          </div>
        )}
        {!hasNextPage && !isPending && messages.length > 0 && (
          <p className="py-4 text-center text-xs text-zinc-500 dark:text-zinc-400">This is the beginning of the conversation.</p>
        )}
        {isPending && (
          <div className="flex justify-center py-10 text-zinc-400">
            <Spinner className="size-6" />
          </div>
        )}
        {error && (
          <p className="py-6 text-center text-sm text-red-600">
            Could not load messages.{' '}
            <button className="underline" onClick={() => void refetch()}>
              Try again
            </button>
          </p>
        )}
        {!isPending && items.length === 0 && !error && (
          <div className="flex flex-col items-center gap-2 py-16 text-center text-sm text-zinc-500 dark:text-zinc-400">
            <span className="text-4xl">👋</span>
            No messages yet. Say hello!
          </div>
        )}
        <ol aria-label="Messages" className="space-y-1">
          {days.map((d) => (
            <li key={d.day}>
              <div className="sticky top-1 z-10 my-3 flex justify-center">
                <span className="rounded-full bg-white/90 px-3 py-1 text-xs font-medium text-zinc-600 shadow-sm backdrop-blur dark:bg-zinc-800/90 dark:text-zinc-300">{d.label}</span>
              </div>
              <ol className="space-y-2">
                {d.groups.map((g, gi) => {
                  if (g.items[0].kind === 'notice') return g.items.map((item) => item.kind === 'notice' && <NoticeLine key={item.key} text={item.notice.text} />)
                  const mine = g.senderId === meId
                  const sender = names.get(g.senderId)
                  return (
                    <Fragment key={`${g.items[0].key}-${gi}`}>
                    {g.firstUnread && (
                      <li data-testid="unread-divider" className="flex items-center gap-3 py-1 text-xs font-semibold text-brand-700 dark:text-brand-300">
                        <span className="h-px flex-1 bg-brand-300/60 dark:bg-brand-500/40" />
                        New messages
                        <span className="h-px flex-1 bg-brand-300/60 dark:bg-brand-500/40" />
                      </li>
                    )}
                    <li className={clsx('flex items-end gap-2', mine ? 'justify-end' : 'justify-start')}>
                      {!mine && isGroup && <Avatar size="sm" name={sender?.displayName ?? '?'} seed={g.senderId} src={sender?.avatarUrl} testId="sender-avatar" />}
                      <ol className={clsx('flex max-w-[85%] min-w-0 flex-col gap-0.5 sm:max-w-[75%]', mine ? 'items-end' : 'items-start')}>
                        {!mine && isGroup && (
                          <li className="px-3 text-xs font-semibold text-brand-700 dark:text-brand-300" data-testid="sender-name">
                            <SenderLabel senderId={g.senderId} senders={senders} />
                          </li>
                        )}
                        {g.items.map((item, i) => (
                          <Bubble
                            key={item.key}
                            item={item}
                            mine={mine}
                            first={i === 0}
                            last={i === g.items.length - 1}
                            readers={item.kind === 'message' && mine ? readBy(item.message.seq) : []}
                            othersCount={others.length}
                            names={names}
                            {...props}
                            highlighted={item.kind === 'message' && item.message.seq === highlightSeq}
                          />
                        ))}
                      </ol>
                    </li>
                    </Fragment>
                  )
                })}
              </ol>
            </li>
          ))}
        </ol>
        {props.footer}
      </div>
    </div>
    {awayFromSeq !== null && (
      <button
        type="button"
        onClick={() => scroller.current?.scrollTo({ top: 0, behavior: 'smooth' })}
        aria-label={newSince ? `Jump to latest, ${newSince} new` : 'Jump to latest'}
        className={clsx('absolute right-4 bottom-4 inline-flex size-11 items-center justify-center rounded-full border border-zinc-200 bg-white text-zinc-600 shadow-lg hover:text-zinc-900 dark:border-zinc-700 dark:bg-zinc-800 dark:text-zinc-300', focusRing)}
      >
        <ChevronDownIcon />
        {newSince > 0 && (
          <span className="absolute -top-1.5 -right-1 inline-flex h-5 min-w-5 items-center justify-center rounded-full bg-brand-600 px-1 text-[11px] font-semibold text-white">{newSince}</span>
        )}
      </button>
    )}
    </div>
  )
}

function Bubble({ item, mine, first, last, readers, othersCount, highlighted, names, meId, onRetry, onDiscard, onEdit, onDelete, onReply, onReact }: MessageListProps & { item: Item; mine: boolean; first: boolean; last: boolean; readers: User[]; othersCount: number; highlighted: boolean; names: ReadonlyMap<string, User> }) {
  const [editing, setEditing] = useState(false)
  const [confirmDelete, setConfirmDelete] = useState(false)
  const [busyError, setBusyError] = useState<string | null>(null)
  const message = item.kind === 'message' ? item.message : null
  const pending = item.kind === 'pending' ? item.entry : null
  const body = message ? message.body : pending!.body
  const deleted = message?.deleted ?? false
  const canAct = mine && message && !deleted
  const replyChosen = useRef(false)
  // A long press on the bubble (touch screens have no hover) opens the message's menu.
  const [menuOpen, setMenuOpen] = useState(false)
  const longPress = useRef<number | undefined>(undefined)
  const endPress = () => window.clearTimeout(longPress.current)
  useEffect(() => endPress, [])
  const live = message && !deleted ? message : null
  const quote = message ? message.replyTo : (pending?.replyTo ?? null)
  const react = (emoji: ReactionEmoji, on: boolean) => {
    if (live && onReact) onReact(live, emoji, on).catch((err: unknown) => setBusyError(err instanceof Error ? err.message : 'Could not react'))
  }

  const shape = clsx(
    'rounded-2xl px-3.5 py-2 text-[15px] leading-snug shadow-sm',
    mine ? 'bg-brand-600 text-white dark:bg-brand-600' : 'bg-white text-zinc-900 dark:bg-zinc-800 dark:text-zinc-100',
    mine ? (first ? 'rounded-tr-2xl' : 'rounded-tr-md') : first ? 'rounded-tl-2xl' : 'rounded-tl-md',
    mine ? (last ? 'rounded-br-md' : 'rounded-br-md') : last ? 'rounded-bl-md' : 'rounded-bl-md',
    deleted && 'bg-transparent! text-zinc-500! shadow-none! ring-1 ring-zinc-300 dark:text-zinc-400! dark:ring-zinc-700',
    pending?.status === 'failed' && 'opacity-80 ring-2 ring-red-400',
    highlighted && 'ring-4 ring-amber-400 dark:ring-amber-500',
  )

  let status: React.ReactNode = null
  if (mine) {
    if (pending?.status === 'sending') status = <span data-testid="message-status" data-status="sending" aria-label="Sending"><ClockIcon className="size-3.5" /></span>
    else if (pending?.status === 'failed') status = <span data-testid="message-status" data-status="failed" aria-label="Not sent"><AlertIcon className="size-3.5" /></span>
    else if (message && !deleted) {
      const read = othersCount > 0 && readers.length === othersCount
      status = read ? (
        <span data-testid="message-status" data-status="read" aria-label="Read" title={othersCount > 1 ? 'Read by everyone' : 'Read'} className="text-sky-200">
          <DoubleCheckIcon className="size-4" />
        </span>
      ) : (
        <span data-testid="message-status" data-status="delivered" aria-label={readers.length ? `Read by ${readers.length}` : 'Delivered'} title={readers.length ? `Read by ${readers.map(personLabel).join(', ')}` : 'Delivered'}>
          {readers.length ? <DoubleCheckIcon className="size-4" /> : <CheckIcon className="size-3.5" />}
        </span>
      )
    }
  }

  return (
    <li className="group/msg flex max-w-full items-center gap-1 rounded-2xl transition-colors data-[highlight=true]:bg-brand-200/60 dark:data-[highlight=true]:bg-brand-800/50" data-testid="message" data-mine={mine ? 'true' : 'false'} data-message-id={message?.id} data-client-id={message?.clientMessageId ?? pending?.clientMessageId} data-seq={message?.seq}
      data-highlighted={highlighted ? 'true' : undefined}
      aria-current={highlighted ? 'true' : undefined}
      tabIndex={highlighted ? -1 : undefined}
    >
      {live && !editing && (
        <div className={clsx('flex shrink-0 items-center', mine ? 'order-first' : 'order-last')}>
          <DM.Root open={menuOpen} onOpenChange={setMenuOpen}>
            <DM.Trigger asChild>
              <button aria-label="Message actions" className={hoverButton}>
                <DotsIcon className="size-4" />
              </button>
            </DM.Trigger>
            <DM.Portal>
              <DM.Content
                align={mine ? 'end' : 'start'}
                sideOffset={4}
                // After Reply the composer takes the focus: the menu must not take it back.
                onCloseAutoFocus={(e) => {
                  if (replyChosen.current) e.preventDefault()
                  replyChosen.current = false
                }}
                className="z-50 min-w-36 rounded-xl border border-zinc-200 bg-white p-1 text-sm shadow-lg dark:border-zinc-700 dark:bg-zinc-900">
                {onReply && (
                  <DM.Item
                    className={menuItem}
                    onSelect={() => {
                      replyChosen.current = true
                      onReply(live)
                    }}
                  >
                    <ReplyIcon className="size-4" /> Reply
                  </DM.Item>
                )}
                {canAct && (
                  <>
                    <DM.Item className={menuItem} onSelect={() => setEditing(true)}>
                      Edit
                    </DM.Item>
                    <DM.Item className="cursor-pointer rounded-lg px-3 py-2 text-red-600 outline-none data-highlighted:bg-red-50 dark:text-red-400 dark:data-highlighted:bg-red-950/50" onSelect={() => setConfirmDelete(true)}>
                      Delete
                    </DM.Item>
                  </>
                )}
              </DM.Content>
            </DM.Portal>
          </DM.Root>
          {onReact && (
            <DM.Root>
              <DM.Trigger asChild>
                <button aria-label="Add reaction" className={hoverButton}>
                  <SmileIcon className="size-4" />
                </button>
              </DM.Trigger>
              <DM.Portal>
                <DM.Content align={mine ? 'end' : 'start'} sideOffset={4} aria-label="Reactions" className="z-50 flex gap-0.5 rounded-full border border-zinc-200 bg-white p-1 shadow-lg dark:border-zinc-700 dark:bg-zinc-900">
                  {REACTION_EMOJI.map((emoji) => {
                    const on = live.reactions.some((r) => r.emoji === emoji && r.userIds.includes(meId))
                    return (
                      <DM.Item
                        key={emoji}
                        aria-label={on ? `Remove ${emoji}` : `React with ${emoji}`}
                        className={clsx('cursor-pointer rounded-full px-1.5 py-1 text-xl leading-none outline-none data-highlighted:bg-zinc-100 dark:data-highlighted:bg-zinc-800', on && 'bg-brand-100 dark:bg-brand-900/50')}
                        onSelect={() => react(emoji, !on)}
                      >
                        {emoji}
                      </DM.Item>
                    )
                  })}
                </DM.Content>
              </DM.Portal>
            </DM.Root>
          )}
        </div>
      )}
      <div className={clsx('flex min-w-0 flex-col', mine ? 'items-end' : 'items-start')}>
      <div
        className={clsx('min-w-0', shape)}
        onTouchStart={() => {
          endPress()
          if (live && !editing) longPress.current = window.setTimeout(() => setMenuOpen(true), 500)
        }}
        onTouchEnd={endPress}
        onTouchMove={endPress}
        onTouchCancel={endPress}
      >
        {quote && !deleted && <Quote quote={quote} mine={mine} names={names} />}
        {editing && message ? (
          <EditBox
            initial={message.body}
            onCancel={() => setEditing(false)}
            onSave={async (text) => {
              setBusyError(null)
              try {
                if (text !== message.body) await onEdit(message, text)
                setEditing(false)
              } catch (err) {
                setBusyError(err instanceof Error ? err.message : 'Could not save')
              }
            }}
          />
        ) : (
          <>
            {message && !deleted && <MessageAttachments attachments={message.attachments ?? []} mine={mine} />}
            {pending?.attachments && <PendingAttachments attachments={pending.attachments} />}
            <p className={clsx('break-words whitespace-pre-wrap', deleted && 'italic')} data-testid="message-body">
              {deleted ? <span data-testid="message-text">This message was deleted</span> : <MessageText text={body} mine={mine} />}
              <span className={clsx('float-right mt-1.5 ml-2 inline-flex translate-y-0.5 items-center gap-1 text-[11px] leading-none select-none', mine && !deleted ? 'text-white/90' : 'text-zinc-500 dark:text-zinc-400')}>
                {message?.editedAt && !deleted && <span data-testid="edited-marker">edited</span>}
                <time dateTime={message?.createdAt ?? pending!.createdAt} title={new Date(message?.createdAt ?? pending!.createdAt).toLocaleString()}>{formatClock(message?.createdAt ?? pending!.createdAt)}</time>
                {status}
              </span>
            </p>
          </>
        )}
        {busyError && <p className="mt-1 text-xs text-red-200">{busyError}</p>}
        {pending?.status === 'failed' && (
          <div className="mt-1.5 flex items-center gap-2 text-xs">
            <span className="text-white/90">Not sent{pending.error ? `: ${pending.error}` : ''}</span>
            <button className={clsx('rounded-full bg-white/20 px-2 py-0.5 font-semibold hover:bg-white/30', focusRing)} onClick={() => onRetry(pending.clientMessageId)}>
              Retry
            </button>
            <button className={clsx('rounded-full px-2 py-0.5 hover:bg-white/20', focusRing)} onClick={() => onDiscard(pending.clientMessageId)}>
              Discard
            </button>
          </div>
        )}
      </div>
      {live && live.reactions.length > 0 && (
        <ul aria-label="Reactions" className={clsx('-mt-1.5 flex flex-wrap gap-1 px-1', mine ? 'justify-end' : 'justify-start')}>
          {live.reactions.map((r) => {
            const on = r.userIds.includes(meId)
            const who = r.userIds.map((id) => (id === meId ? 'You' : (names.get(id)?.displayName ?? 'Former member'))).join(', ')
            return (
              <li key={r.emoji}>
                <button
                  type="button"
                  aria-pressed={on}
                  aria-label={`${r.emoji} ${r.count}: ${who}`}
                  title={who}
                  disabled={!onReact}
                  onClick={() => react(r.emoji, !on)}
                  className={clsx(
                    'inline-flex items-center gap-1 rounded-full border px-1.5 py-0.5 text-xs shadow-sm',
                    on ? 'border-brand-400 bg-brand-50 text-brand-800 dark:border-brand-500 dark:bg-brand-900/60 dark:text-brand-100' : 'border-zinc-200 bg-white text-zinc-700 dark:border-zinc-700 dark:bg-zinc-800 dark:text-zinc-200',
                    focusRing,
                  )}
                >
                  <span className="text-sm leading-none">{r.emoji}</span>
                  <span data-testid="reaction-count">{r.count}</span>
                </button>
              </li>
            )
          })}
        </ul>
      )}
      </div>
      {message && (
        <ConfirmDialog
          open={confirmDelete}
          onOpenChange={setConfirmDelete}
          title="Delete message?"
          description="It will be deleted for everyone in this chat."
          confirmLabel="Delete"
          onConfirm={() => void onDelete(message).catch(() => undefined)}
        />
      )}
    </li>
  )
}

function EditBox({ initial, onCancel, onSave }: { initial: string; onCancel(): void; onSave(text: string): void }) {
  const [text, setText] = useState(initial)
  const ref = useRef<HTMLTextAreaElement>(null)
  useEffect(() => {
    const el = ref.current
    if (el) {
      el.focus()
      el.setSelectionRange(el.value.length, el.value.length)
    }
  }, [])
  const count = countBody(text)
  const canSave = normalizeBody(text) !== '' && !count.tooLong
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault()
      onCancel()
    } else if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault()
      if (canSave) onSave(normalizeBody(text))
    }
  }
  return (
    <div className="w-64 max-w-full sm:w-80">
      <textarea
        ref={ref}
        aria-label="Edit message"
        value={text}
        rows={Math.min(6, Math.max(1, text.split('\n').length))}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        className="block w-full resize-none rounded-lg bg-white/15 px-2 py-1 text-[15px] text-inherit outline-none focus:ring-2 focus:ring-white/60"
      />
      <div className="mt-1.5 flex items-center justify-end gap-1.5 text-xs">
        <BodyCounter count={count} onBrand className="mr-auto" />
        <button className="rounded-full px-2.5 py-1 hover:bg-white/15" onClick={onCancel}>
          Cancel
        </button>
        <button className="rounded-full bg-white px-2.5 py-1 font-semibold text-brand-700 hover:bg-white/90 disabled:opacity-50" disabled={!canSave} onClick={() => onSave(normalizeBody(text))}>
          Save
        </button>
      </div>
    </div>
  )
}

const hoverButton = clsx(
  'rounded-full p-1 text-zinc-400 opacity-0 transition group-hover/msg:opacity-100 group-focus-within/msg:opacity-100 hover:bg-zinc-200 hover:text-zinc-700 focus:opacity-100 data-[state=open]:opacity-100 dark:hover:bg-zinc-800 dark:hover:text-zinc-200 [@media(hover:none)]:opacity-60',
  focusRing,
)
const menuItem = 'flex cursor-pointer items-center gap-2 rounded-lg px-3 py-2 outline-none data-highlighted:bg-zinc-100 dark:data-highlighted:bg-zinc-800'

/** The quoted message at the top of a reply: who wrote it and its start as it is now, or that
 * it was deleted. A click brings the original into view when it is loaded. */
function Quote({ quote, mine, names }: { quote: ReplyTo; mine: boolean; names: ReadonlyMap<string, User> }) {
  const author = quote.senderId ? (names.get(quote.senderId)?.displayName ?? 'Former member') : 'Someone'
  const jump = () => {
    const original = document.querySelector<HTMLElement>(`[data-testid="message"][data-message-id="${CSS.escape(quote.id)}"]`)
    if (!original) return
    original.scrollIntoView({ block: 'center', behavior: 'smooth' })
    original.dataset.highlight = 'true'
    window.setTimeout(() => delete original.dataset.highlight, 1500)
  }
  return (
    <button
      type="button"
      onClick={jump}
      data-testid="reply-quote"
      aria-label={quote.deleted ? `Reply to a deleted message from ${author}` : `Reply to ${author}: ${quote.excerpt}`}
      className={clsx(
        'mb-1 block w-full max-w-72 rounded-lg border-l-4 px-2 py-1 text-left text-[13px] leading-snug',
        mine ? 'border-white/70 bg-white/15 text-white/90' : 'border-brand-500 bg-zinc-100 text-zinc-600 dark:bg-zinc-900/60 dark:text-zinc-300',
        focusRing,
      )}
    >
      <span className="block font-semibold">{author}</span>
      <span className={clsx('line-clamp-2 break-words', quote.deleted && 'italic')} data-testid="reply-quote-text">
        {quote.deleted ? 'Deleted message' : quote.excerpt}
      </span>
    </button>
  )
}
