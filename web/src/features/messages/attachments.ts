/**
 * Attachments: the checks the server makes said up front, and the short-lived links an
 * `<img>` or a download needs (the access token lives in memory, so the browser cannot send
 * it by itself). Uploading is upload.ts.
 */
import { apiUrl } from '@/lib/config'
import { api } from '@/lib/http'
import type { Attachment, AttachmentLinks } from '@/lib/types'

/** The server's default HUBBUB_ATTACHMENT_MAX_BYTES; a server set lower answers 413, shown too. */
export const MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
export const MAX_ATTACHMENTS = 10
const IMAGES = ['png', 'jpg', 'jpeg', 'gif', 'webp']
const FILES = ['pdf', 'txt', 'md', 'csv', 'log', 'zip', 'docx', 'xlsx', 'pptx', 'odt', 'ods', 'odp', 'doc', 'xls', 'ppt']
export const ALLOWED_EXTENSIONS = [...IMAGES, ...FILES]
/** For the file picker's `accept`. */
export const ACCEPT = ALLOWED_EXTENSIONS.map((e) => `.${e}`).join(',')

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`
}

/** Why the server would refuse this file, or null: said before any byte is sent. */
export function refusal(file: { name: string; size: number }): string | null {
  const ext = file.name.includes('.') ? file.name.split('.').pop()!.toLowerCase() : ''
  if (!ALLOWED_EXTENSIONS.includes(ext)) return `${file.name}: this type of file cannot be attached.`
  if (file.size === 0) return `${file.name} is empty.`
  if (file.size > MAX_ATTACHMENT_BYTES) return `${file.name} is too big (${formatSize(file.size)}; the limit is ${formatSize(MAX_ATTACHMENT_BYTES)}).`
  return null
}

export function isImage(attachment: Pick<Attachment, 'contentType'>): boolean {
  return attachment.contentType.startsWith('image/')
}

export const attachmentsPath = (conversationId: string) => `/api/conversations/${encodeURIComponent(conversationId)}/attachments`

/** URLs of the file and its thumbnail that work without a token for about a minute. */
export function fetchLinks(conversationId: string, attachmentId: string): Promise<AttachmentLinks> {
  return api<AttachmentLinks>(`${attachmentsPath(conversationId)}/${encodeURIComponent(attachmentId)}/link`)
}

/** The absolute URL of a link (the server's own are paths on the API's origin). */
export function linkUrl(url: string): string {
  return url.startsWith('/') ? apiUrl(url) : url
}
