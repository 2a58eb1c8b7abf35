/** Runtime configuration, fetched from /config.json at start-up and validated. */
export interface RuntimeConfig {
  /** Base URL of the REST API without the /api suffix; "" means same origin. */
  apiBaseUrl: string
  /** WebSocket endpoint (ws:// or wss://, ending in /ws); "" means derived from the API base. */
  wsUrl: string
}

let current: RuntimeConfig = { apiBaseUrl: '', wsUrl: '' }

export class ConfigError extends Error {}

export function parseConfig(raw: unknown): RuntimeConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('config.json must be a JSON object')
  }
  const obj = raw as Record<string, unknown>
  const out: RuntimeConfig = { apiBaseUrl: '', wsUrl: '' }
  for (const key of ['apiBaseUrl', 'wsUrl'] as const) {
    const value = obj[key]
    if (value === undefined || value === null) continue
    if (typeof value !== 'string') throw new ConfigError(`config.json: "${key}" must be a string`)
    const trimmed = value.trim().replace(/\/+$/, '')
    if (trimmed !== '') {
      let url: URL
      try {
        url = new URL(trimmed)
      } catch {
        throw new ConfigError(`config.json: "${key}" is not an absolute URL: ${value}`)
      }
      const ok = key === 'apiBaseUrl' ? ['http:', 'https:'] : ['ws:', 'wss:']
      if (!ok.includes(url.protocol)) {
        throw new ConfigError(`config.json: "${key}" must use ${ok.join(' or ')}`)
      }
    }
    out[key] = trimmed
  }
  return out
}

export async function loadConfig(): Promise<RuntimeConfig> {
  const res = await fetch(`${import.meta.env.BASE_URL}config.json`, { cache: 'no-store' })
  if (!res.ok) throw new ConfigError(`could not load config.json (HTTP ${res.status})`)
  let raw: unknown
  try {
    raw = await res.json()
  } catch {
    throw new ConfigError('config.json is not valid JSON')
  }
  current = parseConfig(raw)
  return current
}

export function setConfig(config: RuntimeConfig): void {
  current = config
}

export function apiUrl(path: string): string {
  return `${current.apiBaseUrl}${path}`
}

export function wsEndpoint(): string {
  if (current.wsUrl) return current.wsUrl
  const base = current.apiBaseUrl ? new URL(current.apiBaseUrl) : new URL(window.location.href)
  const proto = base.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${base.host}/ws`
}
