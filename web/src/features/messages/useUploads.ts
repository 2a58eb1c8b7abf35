import { useCallback, useEffect, useRef, useState } from 'react'
import { errorMessage } from '@/lib/http'
import type { Attachment } from '@/lib/types'
import { MAX_ATTACHMENTS, refusal } from './attachments'
import { uploadAttachment } from './upload'

export interface Upload {
  key: string
  name: string
  size: number
  /** 0..1 while uploading. */
  progress: number
  status: 'uploading' | 'done' | 'failed'
  attachment?: Attachment
  error?: string
}

let counter = 0

/** The composer's uploads for one conversation: started as soon as files are picked, dropped
 * or pasted, so sending waits for nothing but the message. */
export function useUploads(conversationId: string) {
  const [uploads, setUploads] = useState<Upload[]>([])
  const controllers = useRef(new Map<string, AbortController>())

  const update = useCallback((key: string, change: Partial<Upload>) => {
    setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...change } : u)))
  }, [])

  const cancelAll = useCallback(() => {
    for (const c of controllers.current.values()) c.abort()
    controllers.current.clear()
  }, [])

  // Another conversation: what was being attached here is not carried over.
  useEffect(() => {
    setUploads([])
    return cancelAll
  }, [conversationId, cancelAll])

  const add = useCallback(
    (files: readonly File[]) => {
      const room = MAX_ATTACHMENTS - uploads.filter((u) => u.status !== 'failed').length
      const fresh: Upload[] = files.map((file, i) => {
        const key = `u${++counter}`
        const refused = i >= room ? `${file.name}: at most ${MAX_ATTACHMENTS} files per message.` : refusal(file)
        if (refused) return { key, name: file.name, size: file.size, progress: 0, status: 'failed', error: refused }
        const controller = new AbortController()
        controllers.current.set(key, controller)
        uploadAttachment(conversationId, file, (progress) => update(key, { progress }), controller.signal)
          .then((attachment) => update(key, { status: 'done', progress: 1, attachment }))
          .catch((err: unknown) => {
            if (err instanceof DOMException && err.name === 'AbortError') return
            update(key, { status: 'failed', error: `${file.name}: ${errorMessage(err)}` })
          })
          .finally(() => controllers.current.delete(key))
        return { key, name: file.name, size: file.size, progress: 0, status: 'uploading' }
      })
      setUploads((all) => [...all, ...fresh])
    },
    [conversationId, update, uploads],
  )

  const remove = useCallback((key: string) => {
    controllers.current.get(key)?.abort()
    controllers.current.delete(key)
    setUploads((all) => all.filter((u) => u.key !== key))
  }, [])

  const clear = useCallback(() => setUploads([]), [])

  const ready = uploads.filter((u) => u.status === 'done' && u.attachment).map((u) => u.attachment!)
  const busy = uploads.some((u) => u.status === 'uploading')
  return { uploads, add, remove, clear, ready, busy }
}
