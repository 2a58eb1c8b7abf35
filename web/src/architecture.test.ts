import { describe, expect, it } from 'vitest'

// The source of every module, as text (Vite's raw glob import).
const sources = import.meta.glob<string>(['./**/*.{ts,tsx}', '!./**/*.test.{ts,tsx}', '!./lib/api-types.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
})

function imports(source: string): string[] {
  return [...source.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1])
}

describe('module boundaries (bulletproof-react)', () => {
  it('features never import another feature or app/', () => {
    const bad: string[] = []
    for (const [path, source] of Object.entries(sources)) {
      const feature = path.match(/^\.\/features\/([^/]+)\//)?.[1]
      if (!feature) continue
      for (const spec of imports(source)) {
        const other = spec.match(/^@\/features\/([^/]+)/)?.[1]
        if ((other && other !== feature) || spec.startsWith('@/app') || spec.startsWith('../')) bad.push(`${path} -> ${spec}`)
      }
    }
    expect(bad).toEqual([])
  })

  it('lib/ and components/ depend on neither features nor app', () => {
    const bad: string[] = []
    for (const [path, source] of Object.entries(sources)) {
      if (!path.startsWith('./lib/') && !path.startsWith('./components/')) continue
      for (const spec of imports(source)) if (spec.startsWith('@/features') || spec.startsWith('@/app')) bad.push(`${path} -> ${spec}`)
    }
    expect(bad).toEqual([])
  })

  it('found the sources', () => {
    expect(Object.keys(sources).some((p) => p.startsWith('./features/messages/'))).toBe(true)
  })
})
