import { describe, expect, it } from 'vitest'

// The source of every module, as text (Vite's raw glob import).
const sources = import.meta.glob<string>(['./**/*.{ts,tsx}', '!./**/*.test.{ts,tsx}', '!./lib/api-types.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
})

// Every module specifier: `import … from`, `export … from`, `import 'x'` and `import('x')`,
// in any quotes (a comment that looks like an import counts too: better strict than blind).
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"`])([^'"`\n]+)\1/g

function specifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((m) => m[2])
}

/** A relative specifier as the `@/` path it names, seen from `path` (`./lib/x.ts`). */
function resolve(path: string, spec: string): string {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return spec
  const parts = path.replace(/^\.\//, '').split('/').slice(0, -1)
  for (const segment of spec.split('/')) {
    if (segment === '..') parts.pop()
    else if (segment !== '.') parts.push(segment)
  }
  return '@/' + parts.join('/')
}

function imports(path: string, source: string): string[] {
  return specifiers(source).map((spec) => resolve(path, spec))
}

describe('module boundaries (bulletproof-react)', () => {
  it('features never import another feature or app/', () => {
    const bad: string[] = []
    for (const [path, source] of Object.entries(sources)) {
      const feature = path.match(/^\.\/features\/([^/]+)\//)?.[1]
      if (!feature) continue
      for (const spec of imports(path, source)) {
        const other = spec.match(/^@\/features\/([^/]+)/)?.[1]
        if ((other && other !== feature) || spec.startsWith('@/app')) bad.push(`${path} -> ${spec}`)
      }
    }
    expect(bad).toEqual([])
  })

  it('lib/ and components/ depend on neither features nor app', () => {
    const bad: string[] = []
    for (const [path, source] of Object.entries(sources)) {
      if (!path.startsWith('./lib/') && !path.startsWith('./components/')) continue
      for (const spec of imports(path, source)) if (spec.startsWith('@/features') || spec.startsWith('@/app')) bad.push(`${path} -> ${spec}`)
    }
    expect(bad).toEqual([])
  })

  it('sees every form of import, relative ones resolved', () => {
    const source = [
      `import { a } from "@/features/one/a"`,
      "import type { B } from `../two/b`",
      `export * from './c'`,
      `export { d } from "../../../app/d"`,
      `import './side-effect.css'`,
      `const e = await import("@/features/three/e")`,
      `const f = import(\n  '../four/f'\n)`,
      `import {\n  g,\n} from 'react'`,
    ].join('\n')
    expect(imports('./features/one/x/y.ts', source)).toEqual([
      '@/features/one/a',
      '@/features/one/two/b',
      '@/features/one/x/c',
      '@/app/d',
      '@/features/one/x/side-effect.css',
      '@/features/three/e',
      '@/features/one/four/f',
      'react',
    ])
    expect(imports('./lib/x.ts', `import { h } from "../features/auth/h"`)).toEqual(['@/features/auth/h'])
  })

  it('query keys come from lib/query-keys.ts, never written out by hand', () => {
    const literal = /queryKey\s*:\s*\[|(?:Query|Queries|QueryData|QueriesData)(?:<[^>]*>)?\(\s*\[/
    const bad = Object.entries(sources)
      .filter(([path, source]) => path !== './lib/query-keys.ts' && literal.test(source))
      .map(([path]) => path)
    expect(bad).toEqual([])
  })

  it('found the sources', () => {
    expect(Object.keys(sources).some((p) => p.startsWith('./features/messages/'))).toBe(true)
  })
})
