/**
 * Uploading an attachment, in the three steps every deployment offers: start (the API says
 * where the bytes go), send the bytes there, complete (the API checks them and answers with
 * the attachment). The bytes never pass through the API's own request body, so no gateway
 * payload limit caps them; they go with XMLHttpRequest, for its upload progress events.
 */
import { apiUrl } from '@/lib/config'
import { ApiError, NetworkError, api } from '@/lib/http'
import type { Attachment, UploadTarget } from '@/lib/types'
import { MAX_ATTACHMENT_BYTES, attachmentsPath } from './attachments'

type NamedFile = Blob & { name: string }

/** Waits before each further try of a complete that met a network failure. */
export const COMPLETE_RETRY_DELAYS_MS = [500, 1000, 2000, 4000]

function aborted(): DOMException {
  return new DOMException('Upload cancelled', 'AbortError')
}

async function start(conversationId: string, file: NamedFile, signal?: AbortSignal): Promise<UploadTarget> {
  const reply = await api<{ upload: UploadTarget }>(`${attachmentsPath(conversationId)}/uploads`, {
    method: 'POST',
    body: { fileName: file.name, size: file.size },
    signal,
  })
  return reply.upload
}

/** One element's text in an S3 XML error (`<Code>`, `<Message>`, `<MaxSizeAllowed>`). */
function xmlText(xml: string, tag: string): string | undefined {
  return xml.match(new RegExp(`<${tag}>([^<]*)</${tag}>`))?.[1]
}

/** The refusal of step 2 as the API would have said it, whether the API or a bucket refused. */
function sendFailure(status: number, text: string): ApiError {
  let data: { error?: { code?: string; message?: string } } | null = null
  try {
    data = JSON.parse(text)
  } catch {
    data = null
  }
  if (data?.error) return new ApiError(status, data.error.code ?? 'http_error', data.error.message ?? `Upload failed (HTTP ${status})`)
  // A bucket answers in XML. Too large is said as the API says it; the rest means start over.
  const code = xmlText(text, 'Code')
  if (status === 413 || code === 'EntityTooLarge') {
    const limit = Number(xmlText(text, 'MaxSizeAllowed')) || MAX_ATTACHMENT_BYTES
    return new ApiError(413, 'payload_too_large', `Attachments are limited to ${limit} bytes.`)
  }
  return new ApiError(status, code ?? 'http_error', `The upload failed (HTTP ${status}). Try again.`)
}

/** Step 2: the bytes to the signed URL, without the access token (the URL is the permission). */
function send(target: UploadTarget, file: NamedFile, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted())
    const xhr = new XMLHttpRequest()
    let body: Blob | FormData
    if (target.method === 'PUT') {
      xhr.open('PUT', target.url.startsWith('/') ? apiUrl(target.url) : target.url)
      xhr.setRequestHeader('Accept', 'application/json')
      xhr.setRequestHeader('Content-Type', 'application/octet-stream')
      body = file
    } else {
      // A presigned POST: its policy fields first, the file last (S3 ignores fields after it).
      // No headers of our own: the browser sets the multipart boundary. The progress listener
      // makes the browser ask first (a CORS preflight): the bucket's CORS must allow POST.
      xhr.open('POST', target.url)
      const form = new FormData()
      for (const [name, value] of Object.entries(target.fields)) form.append(name, value)
      form.append('file', file, file.name)
      body = form
    }
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total)
    }
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(sendFailure(xhr.status, xhr.responseText)))
    xhr.onerror = () => reject(new NetworkError('The upload failed. Check your connection.'))
    xhr.onabort = () => reject(aborted())
    signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(body)
  })
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted())
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(aborted())), { once: true })
  })
}

const transient = (err: unknown) => err instanceof NetworkError || (err instanceof ApiError && [502, 503, 504].includes(err.status))

/** Step 3. Completing twice answers the same attachment, so a try lost to the network is
 * made again; a refusal is final (the upload must start over). */
async function complete(conversationId: string, uploadId: string, fileName: string, signal?: AbortSignal): Promise<Attachment> {
  const path = `${attachmentsPath(conversationId)}/uploads/${encodeURIComponent(uploadId)}`
  for (let attempt = 0; ; attempt++) {
    try {
      const reply = await api<{ attachment: Attachment }>(path, { method: 'POST', body: { fileName }, signal })
      return reply.attachment
    } catch (err) {
      if (!transient(err) || attempt >= COMPLETE_RETRY_DELAYS_MS.length) throw err
      await wait(COMPLETE_RETRY_DELAYS_MS[attempt], signal)
    }
  }
}

/**
 * Uploads one file; `onProgress` gets 0..1 as its bytes leave. Rejects with the API's error
 * (413 too large, 415 type, 404 not a member, ...), a NetworkError, or an AbortError
 * DOMException once `signal` aborts. An expired access token is refreshed once per API call.
 */
export async function uploadAttachment(conversationId: string, file: NamedFile, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<Attachment> {
  const target = await start(conversationId, file, signal)
  await send(target, file, onProgress, signal)
  return complete(conversationId, target.id, file.name, signal)
}
