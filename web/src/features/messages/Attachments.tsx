import { useQuery, useQueryClient } from '@tanstack/react-query'
import { clsx } from 'clsx'
import { useState } from 'react'
import { Dialog } from '@/components/Dialog'
import { FileIcon } from '@/components/icons'
import { focusRing } from '@/components/ui'
import { errorMessage } from '@/lib/http'
import { keys } from '@/lib/query-keys'
import type { Attachment } from '@/lib/types'
import { fetchLinks, formatSize, isImage, linkUrl } from './attachments'
import type { Upload } from './useUploads'

// Links last about a minute: used well inside that, and fetched afresh when needed again.
const LINK_FRESH_MS = 30_000

function useLinks(attachment: Attachment, enabled = true) {
  return useQuery({
    queryKey: keys.attachmentLinks(attachment.conversationId, attachment.id),
    queryFn: () => fetchLinks(attachment.conversationId, attachment.id),
    staleTime: LINK_FRESH_MS,
    gcTime: LINK_FRESH_MS,
    enabled,
    retry: 1,
  })
}

/** The files sent with a message: images as thumbnails that open full size, other files as
 * chips that download them. */
export function MessageAttachments({ attachments, mine }: { attachments: readonly Attachment[]; mine: boolean }) {
  if (attachments.length === 0) return null
  const images = attachments.filter(isImage)
  const files = attachments.filter((a) => !isImage(a))
  return (
    <div className="mb-1 flex flex-col gap-1.5" data-testid="message-attachments">
      {images.length > 0 && (
        <div className="flex flex-wrap gap-1.5">
          {images.map((a) => (
            <ImageThumb key={a.id} attachment={a} />
          ))}
        </div>
      )}
      {files.map((a) => (
        <FileChip key={a.id} attachment={a} mine={mine} />
      ))}
    </div>
  )
}

function fit(attachment: Attachment, edge: number): { width: number; height: number } {
  const w = attachment.width ?? edge
  const h = attachment.height ?? edge
  const scale = Math.min(1, edge / Math.max(w, h))
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) }
}

function ImageThumb({ attachment }: { attachment: Attachment }) {
  const [open, setOpen] = useState(false)
  const links = useLinks(attachment)
  const size = fit(attachment, 240)
  const src = links.data?.thumbnailUrl ?? links.data?.url
  return (
    <>
      <button
        type="button"
        aria-label={`Open image ${attachment.fileName}`}
        onClick={() => setOpen(true)}
        className={clsx('block max-w-full overflow-hidden rounded-xl bg-zinc-200/60 dark:bg-zinc-700/60', focusRing)}
        style={{ width: size.width, aspectRatio: `${size.width} / ${size.height}` }}
      >
        {src ? (
          <img src={linkUrl(src)} alt={attachment.fileName} width={size.width} height={size.height} className="size-full object-cover" />
        ) : links.isError ? (
          <span className="p-2 text-xs">Image unavailable</span>
        ) : null}
      </button>
      {open && <ImageViewer attachment={attachment} onClose={() => setOpen(false)} />}
    </>
  )
}

function ImageViewer({ attachment, onClose }: { attachment: Attachment; onClose(): void }) {
  const qc = useQueryClient()
  // A fresh link on every opening: the one the thumbnail used may have expired.
  const links = useQuery({
    queryKey: keys.attachmentLinks(attachment.conversationId, attachment.id, 'full'),
    queryFn: () => fetchLinks(attachment.conversationId, attachment.id),
    staleTime: 0,
    gcTime: 0,
  })
  const size = fit(attachment, 1600)
  return (
    <Dialog
      open
      onOpenChange={(next) => {
        if (!next) {
          qc.removeQueries({ queryKey: keys.attachmentLinks(attachment.conversationId, attachment.id, 'full') })
          onClose()
        }
      }}
      title={attachment.fileName}
      description={`${formatSize(attachment.size)}${attachment.width ? ` · ${attachment.width}×${attachment.height}` : ''}`}
    >
      {links.data ? (
        <div className="flex flex-col items-center gap-3">
          <img src={linkUrl(links.data.url)} alt={`${attachment.fileName}, full size`} width={size.width} height={size.height} className="h-auto max-h-[60dvh] w-auto max-w-full rounded-lg" />
          <a href={linkUrl(links.data.url)} download={attachment.fileName} className={clsx('text-sm font-medium text-brand-600 underline dark:text-brand-400', focusRing)}>
            Download
          </a>
        </div>
      ) : links.isError ? (
        <p role="alert" className="text-sm text-red-600">
          {errorMessage(links.error)}
        </p>
      ) : (
        <p className="text-sm text-zinc-500">Loading…</p>
      )}
    </Dialog>
  )
}

function FileChip({ attachment, mine }: { attachment: Attachment; mine: boolean }) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const download = async () => {
    setError(null)
    setBusy(true)
    try {
      // Always a fresh link: the download starts at once, well inside its minute.
      const links = await fetchLinks(attachment.conversationId, attachment.id)
      const a = document.createElement('a')
      a.href = linkUrl(links.url)
      a.download = attachment.fileName
      a.rel = 'noopener'
      document.body.appendChild(a)
      a.click()
      a.remove()
    } catch (err) {
      setError(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <div>
      <button
        type="button"
        onClick={() => void download()}
        disabled={busy}
        aria-label={`Download ${attachment.fileName} (${formatSize(attachment.size)})`}
        className={clsx(
          'flex w-64 max-w-full items-center gap-2 rounded-xl px-3 py-2 text-left',
          mine ? 'bg-white/15 hover:bg-white/25' : 'bg-zinc-100 hover:bg-zinc-200 dark:bg-zinc-700 dark:hover:bg-zinc-600',
          focusRing,
        )}
      >
        <FileIcon className="size-5 shrink-0" />
        <span className="min-w-0 flex-1">
          <span className="block truncate text-sm font-medium">{attachment.fileName}</span>
          <span className={clsx('block text-xs', mine ? 'text-white/80' : 'text-zinc-500 dark:text-zinc-400')}>{formatSize(attachment.size)}</span>
        </span>
      </button>
      {error && (
        <p role="alert" className="mt-1 text-xs">
          {error}
        </p>
      )}
    </div>
  )
}

/** What an unsent message carries, named only (its links come once it is sent). */
export function PendingAttachments({ attachments }: { attachments: readonly Attachment[] }) {
  if (attachments.length === 0) return null
  return (
    <ul className="mb-1 flex flex-col gap-1 text-sm" aria-label="Attached files">
      {attachments.map((a) => (
        <li key={a.id} className="flex items-center gap-1.5">
          <FileIcon className="size-4 shrink-0" />
          <span className="truncate">{a.fileName}</span>
        </li>
      ))}
    </ul>
  )
}

export function AttachmentTray({ uploads, onRemove }: { uploads: readonly Upload[]; onRemove(key: string): void }) {
  if (uploads.length === 0) return null
  return (
    <ul className="flex flex-wrap gap-2 px-3 pt-2" aria-label="Files to send">
      {uploads.map((u) => (
        <li key={u.key} className={clsx('flex w-56 max-w-full flex-col gap-1 rounded-xl border px-3 py-2 text-sm', u.status === 'failed' ? 'border-red-300 bg-red-50 dark:border-red-800 dark:bg-red-950/40' : 'border-zinc-200 bg-zinc-50 dark:border-zinc-800 dark:bg-zinc-900')}>
          <div className="flex items-center gap-2">
            <FileIcon className="size-4 shrink-0" />
            <span className="min-w-0 flex-1 truncate">{u.name}</span>
            <button type="button" aria-label={`Remove ${u.name}`} onClick={() => onRemove(u.key)} className={clsx('rounded-full px-1.5 text-zinc-500 hover:bg-zinc-200 dark:hover:bg-zinc-800', focusRing)}>
              ×
            </button>
          </div>
          {u.status === 'uploading' && (
            <div role="progressbar" aria-label={`Uploading ${u.name}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(u.progress * 100)} className="h-1.5 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800">
              <div className="h-full bg-brand-600 transition-[width]" style={{ width: `${Math.round(u.progress * 100)}%` }} />
            </div>
          )}
          {u.status === 'done' && <span className="text-xs text-zinc-500 dark:text-zinc-400">{formatSize(u.size)} · ready</span>}
          {u.status === 'failed' && (
            <span role="alert" className="text-xs text-red-700 dark:text-red-300">
              {u.error}
            </span>
          )}
        </li>
      ))}
    </ul>
  )
}
