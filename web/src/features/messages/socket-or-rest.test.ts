import { describe, expect, it } from 'vitest'
import { RequestError } from '@/lib/realtime'
import type { AckFrame, ClientFrame } from '@/lib/types'
import { type SocketPath, socketOrRest } from './send'

const frame: ClientFrame = { action: 'markRead', conversationId: 'c1', seq: 3 }

function socket(open: boolean, answer: () => Promise<AckFrame>): SocketPath & { sent: ClientFrame[] } {
  const sent: ClientFrame[] = []
  return {
    sent,
    isOpen: open,
    request(f: ClientFrame) {
      sent.push(f)
      return answer()
    },
  }
}

function rest() {
  const calls: string[] = []
  return { calls, fn: async () => (calls.push('rest'), 'from rest') }
}

describe('socketOrRest', () => {
  it('takes the ack when the socket is open and answers', async () => {
    const ws = socket(true, async () => ({ type: 'ack', readSeq: 3 }))
    const r = rest()
    await expect(socketOrRest(ws, frame, (ack) => `ack ${ack.readSeq}`, r.fn)).resolves.toBe('ack 3')
    expect(ws.sent).toEqual([frame])
    expect(r.calls).toEqual([])
  })

  it('uses REST when the socket is closed, failed on the way, or acked without the answer', async () => {
    const answers: (() => Promise<AckFrame>)[] = [
      async () => ({ type: 'ack' }),
      async () => Promise.reject(new RequestError('disconnected', 'Connection lost')),
      async () => Promise.reject(new RequestError('timeout', 'No answer')),
    ]
    for (const [open, answer] of [[false, answers[0]], ...answers.map((a) => [true, a] as const)] as const) {
      const r = rest()
      await expect(socketOrRest(socket(open, answer), frame, (ack) => ack.message?.body, r.fn)).resolves.toBe('from rest')
      expect(r.calls).toEqual(['rest'])
    }
  })

  it('throws a refusal without trying REST', async () => {
    const refusal = new RequestError('not_found', 'No such conversation')
    const r = rest()
    const ws = socket(true, async () => Promise.reject(refusal))
    await expect(socketOrRest(ws, frame, () => 'never', r.fn)).rejects.toBe(refusal)
    expect(r.calls).toEqual([])
  })

  it('lets a REST failure through', async () => {
    const down = new Error('offline')
    const ws = socket(false, async () => ({ type: 'ack' }))
    await expect(socketOrRest(ws, frame, () => 'never', async () => Promise.reject(down))).rejects.toBe(down)
  })
})
