import { clsx } from 'clsx'
import { type ClipboardEvent, type DragEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react'
import { CloseIcon, PaperclipIcon, ReplyIcon, SendIcon } from '@/components/icons'
import { focusRing } from '@/components/ui'
import type { Attachment } from '@/lib/types'
import { AttachmentTray } from './Attachments'
import { BodyCounter } from './BodyCounter'
import { ACCEPT } from './attachments'
import { countBody, normalizeBody } from './body'
import { useTypingSender } from './hooks'
import { useDraft } from './useDraft'
import { useUploads } from './useUploads'

export { MAX_BODY } from './body'

function hasFiles(e: DragEvent): boolean {
  return Array.from(e.dataTransfer?.types ?? []).includes('Files')
}

/** The message being replied to, as the composer shows it above the text. */
export interface ReplyDraft {
  id: string
  author: string
  excerpt: string
}

export function Composer({
  conversationId,
  meId,
  onSend,
  replyingTo,
  onCancelReply,
}: {
  conversationId: string
  meId: string
  onSend(body: string, attachments: Attachment[]): void
  replyingTo?: ReplyDraft | null
  onCancelReply?(): void
}) {
  const [text, setText] = useDraft(meId, conversationId)
  const ref = useRef<HTMLTextAreaElement>(null)
  const picker = useRef<HTMLInputElement>(null)
  const typing = useTypingSender(conversationId)
  const uploads = useUploads(conversationId)
  const [dragging, setDragging] = useState(false)

  useEffect(() => {
    ref.current?.focus()
  }, [conversationId])

  // Starting a reply puts the cursor here. After the task: the menu it was chosen from is
  // still closing, and its focus trap would take the focus back.
  const replyId = replyingTo?.id
  useEffect(() => {
    if (!replyId) return
    const timer = window.setTimeout(() => ref.current?.focus(), 0)
    return () => window.clearTimeout(timer)
  }, [replyId])

  useEffect(() => {
    const el = ref.current
    if (!el) return
    el.style.height = 'auto'
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`
  }, [text])

  const body = normalizeBody(text)
  const count = countBody(text)
  const tooLong = count.tooLong
  // Files alone make a message; one still uploading holds the send back.
  const canSend = (!!body || uploads.ready.length > 0) && !tooLong && !uploads.busy
  const submit = () => {
    if (!canSend) return
    onSend(body, uploads.ready)
    setText('')
    uploads.clear()
    typing.stop()
  }
  const onPaste = (e: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = Array.from(e.clipboardData?.files ?? [])
    if (files.length === 0) return // plain text pastes as usual
    e.preventDefault()
    uploads.add(files)
  }
  const onDrop = (e: DragEvent<HTMLFormElement>) => {
    setDragging(false)
    if (!hasFiles(e)) return
    e.preventDefault()
    uploads.add(Array.from(e.dataTransfer.files))
  }
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape' && replyingTo && onCancelReply) {
      e.preventDefault()
      onCancelReply()
    } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      submit()
    }
  }

  return (
    <form
      aria-label="Compose"
      className={clsx('border-t border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-950', dragging && 'ring-2 ring-brand-500 ring-inset')}
      onSubmit={(e) => {
        e.preventDefault()
        submit()
      }}
      onDragOver={(e) => {
        if (!hasFiles(e)) return
        e.preventDefault()
        e.dataTransfer.dropEffect = 'copy'
        setDragging(true)
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false)
      }}
      onDrop={onDrop}
    >
      {replyingTo && (
        <div role="group" aria-label="Replying to" className="mx-3 mt-3 flex items-start gap-2 rounded-xl border-l-4 border-brand-500 bg-zinc-100 px-3 py-1.5 text-sm dark:bg-zinc-900">
          <ReplyIcon className="mt-0.5 size-4 shrink-0 text-brand-600 dark:text-brand-400" />
          <div className="min-w-0 flex-1">
            <p className="font-semibold text-brand-700 dark:text-brand-300">Replying to {replyingTo.author}</p>
            <p className="truncate text-zinc-600 dark:text-zinc-300" data-testid="reply-draft-text">{replyingTo.excerpt}</p>
          </div>
          <button type="button" aria-label="Cancel reply" onClick={onCancelReply} className={`rounded-full p-1 text-zinc-500 hover:bg-zinc-200 hover:text-zinc-800 dark:hover:bg-zinc-800 dark:hover:text-zinc-100 ${focusRing}`}>
            <CloseIcon className="size-4" />
          </button>
        </div>
      )}
      <AttachmentTray uploads={uploads.uploads} onRemove={uploads.remove} />
      <div className="flex items-end gap-2 px-3 py-3 pb-[max(0.75rem,env(safe-area-inset-bottom))]">
        <input
          ref={picker}
          type="file"
          multiple
          accept={ACCEPT}
          className="sr-only"
          tabIndex={-1}
          aria-label="Choose files to attach"
          onChange={(e) => {
            uploads.add(Array.from(e.target.files ?? []))
            e.target.value = ''
          }}
        />
        <button
          type="button"
          aria-label="Attach files"
          onClick={() => picker.current?.click()}
          className={`inline-flex size-11 shrink-0 items-center justify-center rounded-full text-zinc-500 hover:bg-zinc-100 hover:text-zinc-800 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-100 ${focusRing}`}
        >
          <PaperclipIcon className="size-5" />
        </button>
        <div className="relative min-w-0 flex-1">
          <textarea
            ref={ref}
            rows={1}
            value={text}
            aria-label="Message"
            placeholder="Write a message…"
            onChange={(e) => {
              setText(e.target.value)
              typing.onInput(e.target.value)
            }}
            onBlur={typing.stop}
            onKeyDown={onKeyDown}
            onPaste={onPaste}
            className="block max-h-40 w-full resize-none rounded-3xl border border-zinc-200 bg-zinc-50 px-4 py-2.5 text-[15px] leading-6 placeholder:text-zinc-400 focus:border-brand-500 focus:bg-white focus:ring-2 focus:ring-brand-500/25 focus:outline-none dark:border-zinc-800 dark:bg-zinc-900 dark:focus:bg-zinc-900"
          />
          <BodyCounter count={count} className="absolute right-4 -top-5" />
        </div>
        <button
          type="submit"
          aria-label="Send"
          disabled={!canSend}
          className={`inline-flex size-11 shrink-0 items-center justify-center rounded-full bg-brand-600 text-white shadow-sm transition hover:bg-brand-700 disabled:bg-zinc-200 disabled:text-zinc-400 dark:disabled:bg-zinc-800 dark:disabled:text-zinc-600 ${focusRing}`}
        >
          <SendIcon className="size-5" />
        </button>
      </div>
    </form>
  )
}
