const CLIENT_MESSAGE_ID = /^[A-Za-z0-9_.:-]{1,64}$/

/** A fresh clientMessageId; the server dedupes retries that reuse it. */
export function newClientMessageId(): string {
  const uuid =
    typeof crypto !== 'undefined' && 'randomUUID' in crypto
      ? crypto.randomUUID()
      : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  const id = `web:${uuid}`
  if (!CLIENT_MESSAGE_ID.test(id)) throw new Error(`bad clientMessageId ${id}`)
  return id
}

export function isClientMessageId(value: string): boolean {
  return CLIENT_MESSAGE_ID.test(value)
}
