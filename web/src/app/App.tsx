import { QueryClient, QueryClientProvider, useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { BrowserRouter, Navigate, Route, Routes } from 'react-router'
import { Button, Spinner } from '@/components/ui'
import { forgetSession, useMe } from '@/features/auth/api'
import { createRealtime } from '@/features/realtime/client'
import { errorMessage } from '@/lib/http'
import { RealtimeContext, type RealtimeHandle } from '@/lib/realtime-context'
import { onSessionEnded } from '@/lib/session'
import { AuthScreen } from './AuthScreen'
import { ChatScreen } from './ChatScreen'
import { useNotifications } from './useNotifications'

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { refetchOnWindowFocus: false, retry: 1, staleTime: 30_000 },
    },
  })
}

export function App() {
  const [qc] = useState(makeQueryClient)
  return (
    <QueryClientProvider client={qc}>
      <BrowserRouter>
        <SessionGate />
      </BrowserRouter>
    </QueryClientProvider>
  )
}

function SessionGate() {
  const qc = useQueryClient()
  const me = useMe()
  useEffect(
    () =>
      onSessionEnded(() => forgetSession(qc)),
    [qc],
  )

  if (me.isPending) return <Splash />
  if (me.isError)
    return (
      <div className="flex h-full flex-col items-center justify-center gap-4 p-6 text-center">
        <p className="text-zinc-600 dark:text-zinc-400">{errorMessage(me.error)}</p>
        <Button onClick={() => void me.refetch()}>Try again</Button>
      </div>
    )
  if (!me.data)
    return (
      <Routes>
        <Route path="/signin" element={<AuthScreen mode="signin" />} />
        <Route path="/signup" element={<AuthScreen mode="signup" />} />
        <Route path="/forgot-password" element={<AuthScreen mode="reset" />} />
        <Route path="*" element={<Navigate to="/signin" replace />} />
      </Routes>
    )
  return (
    <RealtimeProvider meId={me.data.id}>
      <Routes>
        <Route path="/" element={<ChatScreen me={me.data} />} />
        <Route path="/c/:conversationId" element={<ChatScreen me={me.data} />} />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Routes>
    </RealtimeProvider>
  )
}

function RealtimeProvider({ meId, children }: { meId: string; children: React.ReactNode }) {
  const qc = useQueryClient()
  const [handle, setHandle] = useState<RealtimeHandle | null>(null)
  const notify = useNotifications(meId)
  useEffect(() => {
    const h = createRealtime(qc, meId, notify)
    setHandle(h)
    h.client.start()
    const nudge = () => h.client.nudge()
    const offline = () => h.client.goOffline()
    const onVisible = () => document.visibilityState === 'visible' && nudge()
    window.addEventListener('online', nudge)
    window.addEventListener('offline', offline)
    document.addEventListener('visibilitychange', onVisible)
    return () => {
      window.removeEventListener('online', nudge)
      window.removeEventListener('offline', offline)
      document.removeEventListener('visibilitychange', onVisible)
      h.client.stop()
    }
  }, [qc, meId, notify])
  return <RealtimeContext.Provider value={handle}>{children}</RealtimeContext.Provider>
}

function Splash() {
  return (
    <div className="flex h-full items-center justify-center text-brand-600">
      <Spinner className="size-6" />
    </div>
  )
}
