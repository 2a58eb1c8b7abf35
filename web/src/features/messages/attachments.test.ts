import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'
import { type MessagesData } from '@/lib/cache'
import { NetworkError } from '@/lib/http'
import { keys } from '@/lib/query-keys'
import { RequestError } from '@/lib/realtime'
import { ana, msg } from '@/test/fixtures'
import type { Attachment, ClientFrame } from '@/lib/types'
import { MAX_ATTACHMENT_BYTES, formatSize, refusal } from './attachments'
import { type SendContext, retryMessage, sendMessage } from './send'

const photo: Attachment = {
  id: 'att-1',
  conversationId: 'c1',
  uploaderId: ana.id,
  fileName: 'beach.png',
  contentType: 'image/png',
  size: 2048,
  width: 640,
  height: 480,
  hasThumbnail: true,
  createdAt: '2026-01-01T00:00:00.000Z',
}

describe('what the server would refuse is said before uploading', () => {
  it('names the file and the reason', () => {
    expect(refusal({ name: 'setup.exe', size: 10 })).toBe('setup.exe: this type of file cannot be attached.')
    expect(refusal({ name: 'noextension', size: 10 })).toMatch(/cannot be attached/)
    expect(refusal({ name: 'empty.txt', size: 0 })).toBe('empty.txt is empty.')
    expect(refusal({ name: 'huge.pdf', size: MAX_ATTACHMENT_BYTES + 1 })).toBe('huge.pdf is too big (25.0 MB; the limit is 25.0 MB).')
    expect(refusal({ name: 'Photo.JPG', size: MAX_ATTACHMENT_BYTES })).toBeNull()
    expect(refusal({ name: 'report.pdf', size: 1 })).toBeNull()
  })

  it('formats sizes for people', () => {
    expect(formatSize(512)).toBe('512 B')
    expect(formatSize(2048)).toBe('2 KB')
    expect(formatSize(3 * 1024 * 1024 + 100)).toBe('3.0 MB')
  })
})

describe('a message with attachments', () => {
  function harness(wsOpen: boolean) {
    const qc = new QueryClient()
    qc.setQueryData<MessagesData>(keys.messages('c1'), { pages: [{ messages: [], hasMore: false }], pageParams: [null] })
    const frames: ClientFrame[] = []
    const rest: { body: string; ids?: string[] }[] = []
    let restDown = false
    const ctx: SendContext = {
      qc,
      meId: ana.id,
      transport: {
        ws: {
          isOpen: wsOpen,
          async request(frame) {
            frames.push(frame)
            throw new RequestError('disconnected', 'Connection lost')
          },
        },
        async rest(_c, cmid, body, ids) {
          rest.push({ body, ids })
          if (restDown) throw new NetworkError('down')
          return msg(1, { clientMessageId: cmid, body, senderId: ana.id, attachments: [photo] })
        },
      },
    }
    return { ctx, frames, rest, setRestDown: (down: boolean) => (restDown = down) }
  }

  it('sends their ids over the socket and again over REST, with an empty body', async () => {
    const { ctx, frames, rest } = harness(true)
    const sent = await sendMessage(ctx, 'c1', '', 'cm-1', [photo])
    expect(frames).toEqual([{ action: 'sendMessage', conversationId: 'c1', clientMessageId: 'cm-1', body: '', attachmentIds: ['att-1'] }])
    expect(rest).toEqual([{ body: '', ids: ['att-1'] }])
    expect(sent?.attachments?.map((a) => a.fileName)).toEqual(['beach.png'])
  })

  it('keeps them for a retry after a failure', async () => {
    const { ctx, rest, setRestDown } = harness(false)
    setRestDown(true)
    expect(await sendMessage(ctx, 'c1', 'look', 'cm-2', [photo])).toBeNull()
    setRestDown(false)
    await retryMessage(ctx, 'c1', 'cm-2')
    expect(rest.map((r) => r.ids)).toEqual([['att-1'], ['att-1']])
  })

  it('leaves a message without files exactly as before', async () => {
    const { ctx, frames } = harness(true)
    await sendMessage(ctx, 'c1', 'hi', 'cm-3')
    expect(frames[0]).not.toHaveProperty('attachmentIds')
  })
})
