// Loaded into serverless-offline by scripts/aws_local.py (NODE_OPTIONS=--import): at most
// HUBBUB_OFFLINE_CONCURRENCY invocations of one function run at once; the rest wait their turn,
// in arrival order, for a warm instance.
//
// Why: serverless-offline starts a new Python process for every invocation that finds all of
// its function's processes busy, with no upper bound. On Lambda each of those cold starts has a
// machine of its own; here they share the host's cores, so a burst (64 sign-ups at once, 64
// sockets closing together) became 64 cold starts of ~1 s of CPU each, fighting for two cores
// until every one passed its timeout. Queued on a few warm processes, the same burst is served
// at a warm function's latency, which is what Lambda's scale-out gives a client. A function's
// timeout still counts from the moment its handler starts, as on Lambda.
//
// serverless-offline 14.8.2's `LambdaFunctionPool.get` returns an instance on which its callers
// call only `setClientContext`, `setEvent` and `runHandler` (HTTP API, WebSocket routes, the
// Lambda invoke API); this stands in for that instance until a slot is free.
const limit = Number.parseInt(process.env.HUBBUB_OFFLINE_CONCURRENCY ?? "", 10)
const poolUrl = new URL(
  "../node_modules/serverless-offline/src/lambda/LambdaFunctionPool.js",
  import.meta.url,
)

if (Number.isInteger(limit) && limit > 0) {
  const { default: LambdaFunctionPool } = await import(poolUrl.href)
  const get = LambdaFunctionPool.prototype.get
  const slots = new Map() // function key -> { running, waiting: [resolve] }

  const acquire = async (key) => {
    const slot = slots.get(key) ?? { running: 0, waiting: [] }
    slots.set(key, slot)
    if (slot.running >= limit) {
      await new Promise((resolve) => slot.waiting.push(resolve))
    } else {
      slot.running += 1
    }
    return slot
  }

  const release = (slot) => {
    const next = slot.waiting.shift()
    if (next) {
      next() // the slot passes straight to the next in line
    } else {
      slot.running -= 1
    }
  }

  LambdaFunctionPool.prototype.get = function cappedGet(functionKey, functionDefinition) {
    const pool = this
    let event
    let clientContext
    let hasClientContext = false
    return {
      setEvent(value) {
        event = value
      },
      setClientContext(value) {
        clientContext = value
        hasClientContext = true
      },
      async runHandler() {
        const slot = await acquire(functionKey)
        try {
          // An IDLE instance if there is one (none is while `running` < limit is false).
          const instance = get.call(pool, functionKey, functionDefinition)
          if (hasClientContext) {
            instance.setClientContext(clientContext)
          }
          instance.setEvent(event)
          return await instance.runHandler()
        } finally {
          release(slot)
        }
      },
    }
  }
}
