/// <reference types="vitest/config" />
import { copyFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, URL } from 'node:url'
import tailwindcss from '@tailwindcss/vite'
import react from '@vitejs/plugin-react'
import { defineConfig, type Plugin } from 'vite'

const outDir = fileURLToPath(new URL('../src/hubbub/static', import.meta.url))

/** Ships Swagger UI's two files with the app, so /api/docs works without a CDN. */
function apiDocsAssets(): Plugin {
  return {
    name: 'hubbub-api-docs-assets',
    apply: 'build',
    closeBundle() {
      const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
      mkdirSync(join(outDir, 'api-docs'), { recursive: true })
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
        copyFileSync(join(dist, file), join(outDir, 'api-docs', file))
      }
    },
  }
}

const backend = process.env.HUBBUB_BACKEND ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [react(), tailwindcss(), apiDocsAssets()],
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
