/**
 * Attachments: uploads (XMLHttpRequest, for its upload progress events), the checks the
 * server makes said up front, and the short-lived links an `<img>` or a download needs
 * (the access token lives in memory, so the browser cannot send it by itself).
 */
import { apiUrl } from '@/lib/config'
import { ApiError, NetworkError, api, refreshSession } from '@/lib/http'
import { getAccessToken } from '@/lib/session'
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

const base = (conversationId: string) => `/api/conversations/${encodeURIComponent(conversationId)}/attachments`

function post(conversationId: string, file: Blob & { name: string }, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<Attachment> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', apiUrl(`${base(conversationId)}?fileName=${encodeURIComponent(file.name)}`))
    const token = getAccessToken()
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.setRequestHeader('Content-Type', 'application/octet-stream')
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total)
    }
    xhr.onload = () => {
      let data: { attachment?: Attachment; error?: { code?: string; message?: string } } | null = null
      try {
        data = JSON.parse(xhr.responseText)
      } catch {
        data = null
      }
      if (xhr.status === 201 && data?.attachment) resolve(data.attachment)
      else reject(new ApiError(xhr.status, data?.error?.code ?? 'http_error', data?.error?.message ?? `Upload failed (HTTP ${xhr.status})`))
    }
    xhr.onerror = () => reject(new NetworkError('The upload failed. Check your connection.'))
    xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'))
    signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(file)
  })
}

/** Uploads one file; `onProgress` gets 0..1 as its bytes leave. An expired token is refreshed once. */
export async function uploadAttachment(conversationId: string, file: Blob & { name: string }, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<Attachment> {
  try {
    return await post(conversationId, file, onProgress, signal)
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && (await refreshSession())) return post(conversationId, file, onProgress, signal)
    throw err
  }
}

/** URLs of the file and its thumbnail that work without a token for about a minute. */
export function fetchLinks(conversationId: string, attachmentId: string): Promise<AttachmentLinks> {
  return api<AttachmentLinks>(`${base(conversationId)}/${encodeURIComponent(attachmentId)}/link`)
}

/** The absolute URL of a link (the server's own are paths on the API's origin). */
export function linkUrl(url: string): string {
  return url.startsWith('/') ? apiUrl(url) : url
}
