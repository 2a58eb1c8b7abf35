/// <reference types="vitest/config" />
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, URL } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import tailwindcss from '@tailwindcss/vite'
import react from '@vitejs/plugin-react'
import { defineConfig, type Plugin } from 'vite'

const outDir = fileURLToPath(new URL('../src/hubbub/static', import.meta.url))

/** Ships Swagger UI's two files with the app, so /api/docs works without a CDN. */
function apiDocsAssets(): Plugin {
  return {
    name: 'hubbub-api-docs-assets',
    apply: 'build',
    // writeBundle, not closeBundle: the files must be there before `precompress` runs.
    writeBundle() {
      const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
      mkdirSync(join(outDir, 'api-docs'), { recursive: true })
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
        copyFileSync(join(dist, file), join(outDir, 'api-docs', file))
      }
    },
  }
}

const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|map)$/

/**
 * Writes a brotli (.br) and a gzip (.gz) copy beside every text file of the build, for the
 * server to send to browsers that accept them (src/hubbub/server/web.py). Done once here, at
 * the highest settings, rather than on every request; Node's zlib has both, so no plugin.
 */
function precompress(): Plugin {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]))
  return {
    name: 'hubbub-precompress',
    apply: 'build',
    closeBundle: {
      order: 'post',
      sequential: true,
      handler() {
        for (const file of walk(outDir)) {
          if (!COMPRESSIBLE.test(file) || statSync(file).size < 1024) continue
          const data = readFileSync(file)
          const variants: [string, Buffer][] = [
            ['.br', brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } })],
            ['.gz', gzipSync(data, { level: 9 })],
          ]
          // Not worth a second request path when it barely shrinks.
          for (const [suffix, packed] of variants) if (packed.length < data.length * 0.9) writeFileSync(file + suffix, packed)
        }
      },
    },
  }
}

const backend = process.env.HUBBUB_BACKEND ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [react(), tailwindcss(), apiDocsAssets(), precompress()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  build: {
    // The Python server serves this folder at / with an SPA fallback to index.html.
    outDir,
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/api': { target: backend, changeOrigin: true },
      '/ws': { target: backend, ws: true, changeOrigin: true },
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
})
