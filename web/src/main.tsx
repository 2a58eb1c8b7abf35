import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './app/App'
import { loadConfig } from './lib/config'
import './index.css'

const root = createRoot(document.getElementById('root')!)

loadConfig().then(
  () =>
    root.render(
      <StrictMode>
        <App />
      </StrictMode>,
    ),
  (err: unknown) =>
    root.render(
      <div role="alert" style={{ padding: 24, fontFamily: 'system-ui' }}>
        <h1 style={{ fontSize: 20, fontWeight: 600 }}>Hubbub could not start</h1>
        <p>{err instanceof Error ? err.message : String(err)}</p>
      </div>,
    ),
)
