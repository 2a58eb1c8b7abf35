import { act, renderHook, waitFor } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setConfig } from '@/lib/config'
import { ApiError, NetworkError } from '@/lib/http'
import { clearSession, setTokens } from '@/lib/session'
import { ana } from '@/test/fixtures'
import type { Attachment, UploadTarget } from '@/lib/types'
import { COMPLETE_RETRY_DELAYS_MS, uploadAttachment } from './upload'
import { useUploads } from './useUploads'

const attachment: Attachment = {
  id: 'att-1',
  conversationId: 'c1',
  uploaderId: ana.id,
  fileName: 'report.pdf',
  contentType: 'application/pdf',
  size: 9,
  width: null,
  height: null,
  hasThumbnail: false,
  createdAt: '2026-01-01T00:00:00.000Z',
}

const putTarget: UploadTarget = {
  id: 'up-1',
  url: '/api/attachment-uploads/up-1?expires=1&signature=abc',
  method: 'PUT',
  fields: {},
  expiresAt: '2026-01-01T00:15:00.000Z',
}

const postTarget: UploadTarget = {
  id: 'up-2',
  url: 'https://bucket.s3.amazonaws.com/',
  method: 'POST',
  fields: { key: 'uploads/up-2', 'Content-Type': 'application/pdf', policy: 'eyJ9', 'x-amz-signature': 'f00d' },
  expiresAt: '2026-01-01T00:15:00.000Z',
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

const apiError = (status: number, code: string, message: string) => json(status, { error: { code, message } })

/** A call to the API (fetch): steps 1 and 3. */
interface ApiCall {
  method: string
  url: string
  auth?: string
  body: unknown
}

/** A request XMLHttpRequest sent: step 2. */
interface SentBytes {
  method: string
  url: string
  headers: Record<string, string>
  body: unknown
}

type Reply = { status: number; text?: string } | 'network-error' | 'hang'

let apiCalls: ApiCall[]
let sent: SentBytes[]

/** Answers the API: start with `target` (or `startReply`), complete with `completeReplies` in turn. */
function stubApi(opts: { target?: UploadTarget; start?: () => Response; complete?: (() => Response)[] }) {
  const completes = [...(opts.complete ?? [() => json(201, { attachment })])]
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    const headers = (init.headers ?? {}) as Record<string, string>
    apiCalls.push({ method: init.method ?? 'GET', url, auth: headers.Authorization, body: init.body ? JSON.parse(init.body as string) : undefined })
    if (url.endsWith('/attachments/uploads')) return opts.start ? opts.start() : json(201, { upload: opts.target ?? putTarget })
    if (url.includes('/attachments/uploads/')) {
      const next = completes.length > 1 ? completes.shift()! : completes[0]
      return next()
    }
    throw new Error(`unexpected fetch ${url}`)
  })
}

/** Stands in for XMLHttpRequest: records what step 2 sent and answers with `reply`. */
function stubXhr(reply: Reply = { status: 204 }) {
  class FakeXhr {
    status = 0
    responseText = ''
    upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null }
    onload: (() => void) | null = null
    onerror: (() => void) | null = null
    onabort: (() => void) | null = null
    private request: SentBytes = { method: '', url: '', headers: {}, body: null }
    private done = false

    open(method: string, url: string) {
      this.request = { method, url, headers: {}, body: null }
    }
    setRequestHeader(name: string, value: string) {
      this.request.headers[name] = value
    }
    send(body: unknown) {
      this.request.body = body
      sent.push(this.request)
      if (reply === 'hang') return
      queueMicrotask(() => {
        if (this.done) return
        this.done = true
        if (reply === 'network-error') return this.onerror?.()
        this.upload.onprogress?.({ lengthComputable: true, loaded: 4, total: 8 })
        this.upload.onprogress?.({ lengthComputable: true, loaded: 8, total: 8 })
        this.status = reply.status
        this.responseText = reply.text ?? ''
        this.onload?.()
      })
    }
    abort() {
      if (this.done) return
      this.done = true
      this.onabort?.()
    }
  }
  vi.stubGlobal('XMLHttpRequest', FakeXhr)
}

const pdf = () => new File(['%PDF-1.4\n'], 'report.pdf', { type: 'application/pdf' })

beforeEach(() => {
  apiCalls = []
  sent = []
  clearSession()
  localStorage.clear()
  setConfig({ apiBaseUrl: 'http://api.test', wsUrl: '' })
  setTokens({ accessToken: 'tok' })
})

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('an upload in three steps', () => {
  it('starts, PUTs the raw file to the signed path without the token, then completes', async () => {
    stubApi({ target: putTarget })
    stubXhr({ status: 204 })
    const progress: number[] = []
    const file = pdf()

    await expect(uploadAttachment('c1', file, (f) => progress.push(f))).resolves.toEqual(attachment)

    expect(apiCalls).toEqual([
      { method: 'POST', url: 'http://api.test/api/conversations/c1/attachments/uploads', auth: 'Bearer tok', body: { fileName: 'report.pdf', size: 9 } },
      { method: 'POST', url: 'http://api.test/api/conversations/c1/attachments/uploads/up-1', auth: 'Bearer tok', body: { fileName: 'report.pdf' } },
    ])
    expect(sent).toHaveLength(1)
    expect(sent[0].method).toBe('PUT')
    // A path on the API's origin, resolved as the API's own paths are.
    expect(sent[0].url).toBe('http://api.test/api/attachment-uploads/up-1?expires=1&signature=abc')
    expect(sent[0].headers['Content-Type']).toBe('application/octet-stream')
    expect(Object.keys(sent[0].headers).map((h) => h.toLowerCase())).not.toContain('authorization')
    expect(sent[0].body).toBe(file)
    expect(progress).toEqual([0.5, 1])
  })

  it('POSTs a form to the bucket: the fields in order, then the file last, without the token', async () => {
    stubApi({ target: postTarget })
    stubXhr({ status: 204 })
    const file = pdf()

    await expect(uploadAttachment('c1', file, () => undefined)).resolves.toEqual(attachment)

    expect(sent).toHaveLength(1)
    expect(sent[0].method).toBe('POST')
    expect(sent[0].url).toBe('https://bucket.s3.amazonaws.com/')
    // No headers at all: the browser writes the multipart boundary itself.
    expect(sent[0].headers).toEqual({})
    const form = sent[0].body as FormData
    expect(form).toBeInstanceOf(FormData)
    const entries = [...form.entries()]
    expect(entries.map(([name]) => name)).toEqual(['key', 'Content-Type', 'policy', 'x-amz-signature', 'file'])
    expect(entries.slice(0, 4).map(([, value]) => value)).toEqual(['uploads/up-2', 'application/pdf', 'eyJ9', 'f00d'])
    const sentFile = entries[4][1] as File
    expect(sentFile.name).toBe('report.pdf')
    expect(await sentFile.text()).toBe('%PDF-1.4\n')
    expect(apiCalls.map((c) => c.url)).toEqual([
      'http://api.test/api/conversations/c1/attachments/uploads',
      'http://api.test/api/conversations/c1/attachments/uploads/up-2',
    ])
  })

  it('retries a complete lost to the network, and gets the attachment', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const down = () => {
      throw new TypeError('Failed to fetch')
    }
    stubApi({ target: putTarget, complete: [down, down, () => json(200, { attachment })] })
    stubXhr({ status: 204 })

    const result = uploadAttachment('c1', pdf(), () => undefined)
    await vi.advanceTimersByTimeAsync(COMPLETE_RETRY_DELAYS_MS[0] + COMPLETE_RETRY_DELAYS_MS[1])

    await expect(result).resolves.toEqual(attachment)
    expect(apiCalls.filter((c) => c.url.endsWith('/uploads/up-1'))).toHaveLength(3)
    expect(sent).toHaveLength(1) // the bytes went once
  })

  it('gives up on a complete after its retries, saying the connection failed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    stubApi({
      target: putTarget,
      complete: [
        () => {
          throw new TypeError('Failed to fetch')
        },
      ],
    })
    stubXhr({ status: 204 })

    const result = uploadAttachment('c1', pdf(), () => undefined)
    const settled = expect(result).rejects.toBeInstanceOf(NetworkError)
    await vi.advanceTimersByTimeAsync(COMPLETE_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0))
    await settled
    expect(apiCalls.filter((c) => c.url.endsWith('/uploads/up-1'))).toHaveLength(COMPLETE_RETRY_DELAYS_MS.length + 1)
  })

  it('cancels while the bytes are on their way: nothing is completed', async () => {
    stubApi({ target: putTarget })
    stubXhr('hang')
    const controller = new AbortController()

    const result = uploadAttachment('c1', pdf(), () => undefined, controller.signal)
    await vi.waitFor(() => expect(sent).toHaveLength(1))
    controller.abort()

    await expect(result).rejects.toMatchObject({ name: 'AbortError' })
    expect(apiCalls.map((c) => c.url)).toEqual(['http://api.test/api/conversations/c1/attachments/uploads'])
  })
})

describe('what a failed upload says', () => {
  it.each([
    [413, 'payload_too_large', 'Attachments are limited to 1000 bytes.'],
    [415, 'unsupported_media_type', 'Files of that type cannot be attached.'],
    [404, 'not_found', 'Conversation not found.'],
  ])('start refused with %i: the server message, and no bytes sent', async (status, code, message) => {
    stubApi({ start: () => apiError(status, code, message) })
    stubXhr()
    await expect(uploadAttachment('c1', pdf(), () => undefined)).rejects.toMatchObject({ status, code, message })
    expect(sent).toHaveLength(0)
    expect(apiCalls).toHaveLength(1)
  })

  it('the signed PUT refused as too large: the server message, and no complete', async () => {
    stubApi({ target: putTarget })
    stubXhr({ status: 413, text: JSON.stringify({ error: { code: 'payload_too_large', message: 'Attachments are limited to 1000 bytes.' } }) })
    await expect(uploadAttachment('c1', pdf(), () => undefined)).rejects.toMatchObject({
      status: 413,
      code: 'payload_too_large',
      message: 'Attachments are limited to 1000 bytes.',
    })
    expect(apiCalls).toHaveLength(1)
  })

  it("the bucket's XML EntityTooLarge: said as the API says a 413, with the bucket's limit", async () => {
    stubApi({ target: postTarget })
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message>' +
      '<ProposedSize>26214401</ProposedSize><MaxSizeAllowed>26214400</MaxSizeAllowed><RequestId>R</RequestId><HostId>H</HostId></Error>'
    stubXhr({ status: 400, text: xml })
    const err = await uploadAttachment('c1', pdf(), () => undefined).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ status: 413, code: 'payload_too_large', message: 'Attachments are limited to 26214400 bytes.' })
    expect(apiCalls).toHaveLength(1)
  })

  it("the bucket's 403 (an expired policy): a failure to try again, and no complete", async () => {
    stubApi({ target: postTarget })
    stubXhr({ status: 403, text: '<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message></Error>' })
    await expect(uploadAttachment('c1', pdf(), () => undefined)).rejects.toMatchObject({
      status: 403,
      code: 'AccessDenied',
      message: 'The upload failed (HTTP 403). Try again.',
    })
    expect(apiCalls).toHaveLength(1)
  })

  it('the bytes lost to the network: the connection is blamed', async () => {
    stubApi({ target: putTarget })
    stubXhr('network-error')
    await expect(uploadAttachment('c1', pdf(), () => undefined)).rejects.toThrow('The upload failed. Check your connection.')
    expect(apiCalls).toHaveLength(1)
  })

  it.each([
    [415, 'unsupported_media_type', 'That file is not a PNG, JPEG, GIF or WebP image.'],
    [413, 'payload_too_large', 'Attachments are limited to 1000 bytes.'],
    [404, 'not_found', 'Upload not found.'],
  ])('complete refused with %i: the server message, not retried', async (status, code, message) => {
    stubApi({ target: putTarget, complete: [() => apiError(status, code, message)] })
    stubXhr({ status: 204 })
    await expect(uploadAttachment('c1', pdf(), () => undefined)).rejects.toMatchObject({ status, code, message })
    expect(apiCalls.filter((c) => c.url.endsWith('/uploads/up-1'))).toHaveLength(1)
  })
})

describe("the composer's uploads", () => {
  it('show progress, then the attachment ready to send', async () => {
    stubApi({ target: postTarget })
    stubXhr({ status: 204 })
    const { result } = renderHook(() => useUploads('c1'))
    act(() => result.current.add([pdf()]))
    expect(result.current.uploads[0]).toMatchObject({ name: 'report.pdf', status: 'uploading' })
    await waitFor(() => expect(result.current.uploads[0].status).toBe('done'))
    expect(result.current.ready).toEqual([attachment])
    expect(result.current.busy).toBe(false)
  })

  it("name the file before the server's reason", async () => {
    stubApi({ target: putTarget, complete: [() => apiError(415, 'unsupported_media_type', 'That file is not a PNG, JPEG, GIF or WebP image.')] })
    stubXhr({ status: 204 })
    const { result } = renderHook(() => useUploads('c1'))
    act(() => result.current.add([new File(['<html>'], 'fake.png', { type: 'image/png' })]))
    await waitFor(() => expect(result.current.uploads[0].status).toBe('failed'))
    expect(result.current.uploads[0].error).toBe('fake.png: That file is not a PNG, JPEG, GIF or WebP image.')
    expect(result.current.ready).toEqual([])
  })

  it('drop a removed upload without completing it', async () => {
    stubApi({ target: putTarget })
    stubXhr('hang')
    const { result } = renderHook(() => useUploads('c1'))
    act(() => result.current.add([pdf()]))
    await vi.waitFor(() => expect(sent).toHaveLength(1))
    act(() => result.current.remove(result.current.uploads[0].key))
    expect(result.current.uploads).toEqual([])
    await new Promise((r) => setTimeout(r, 0))
    expect(apiCalls.map((c) => c.url)).toEqual(['http://api.test/api/conversations/c1/attachments/uploads'])
  })
})
