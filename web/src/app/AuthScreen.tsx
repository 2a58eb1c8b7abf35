import { Link, useLocation, useNavigate } from 'react-router'
import { useState } from 'react'
import { ThemeToggle } from '@/components/ThemeToggle'
import { ErrorNote } from '@/components/ui'
import { useSignIn } from '@/features/auth/api'
import { ResetPasswordForm, SignInForm, SignUpForm } from '@/features/auth/forms'
import { errorMessage } from '@/lib/http'
import { Logo } from './Logo'

const HEADINGS = {
  signin: ['Welcome back', 'Sign in to pick up your conversations.'],
  signup: ['Join Hubbub', 'Fast, private chat you can host yourself.'],
  reset: ['Forgot your password?', 'We will email you a code to set a new one.'],
} as const

export function AuthScreen({ mode }: { mode: 'signin' | 'signup' | 'reset' }) {
  const navigate = useNavigate()
  const location = useLocation()
  const carried = (location.state as { username?: string; notice?: string } | null) ?? {}
  const signIn = useSignIn()
  const [notice, setNotice] = useState<{ username: string; text: string } | null>(null)
  return (
    <div className="relative flex min-h-full items-center justify-center bg-gradient-to-br from-brand-50 via-white to-sky-50 px-4 py-10 dark:from-zinc-950 dark:via-zinc-950 dark:to-brand-900/30">
      <ThemeToggle className="absolute top-4 right-4" />
      <main className="w-full max-w-sm">
        <div className="mb-8 flex flex-col items-center text-center">
          <Logo className="size-14" />
          <h1 className="mt-4 text-2xl font-bold tracking-tight">{HEADINGS[mode][0]}</h1>
          <p className="mt-1 text-sm text-zinc-500 dark:text-zinc-400">{HEADINGS[mode][1]}</p>
        </div>
        <div className="rounded-3xl border border-zinc-200/80 bg-white/90 p-6 shadow-xl shadow-brand-900/5 backdrop-blur dark:border-zinc-800 dark:bg-zinc-900/80">
          {mode === 'signin' ? (
            <SignInForm initialUsername={notice?.username ?? carried.username} notice={notice?.text ?? carried.notice} />
          ) : mode === 'reset' ? (
            <ResetPasswordForm
              initialUsername={carried.username}
              onDone={(username) => navigate('/signin', { state: { username, notice: 'Your password was changed. Sign in with the new one.' } })}
            />
          ) : (
            <>
              <ErrorNote message={signIn.error ? errorMessage(signIn.error) : null} />
              <SignUpForm
                onDone={(username, password) =>
                  signIn.mutate(
                    { username, password },
                    {
                      onError: () => {
                        setNotice({ username, text: 'Your account is ready. Sign in to continue.' })
                        navigate('/signin')
                      },
                      onSuccess: () => navigate('/'),
                    },
                  )
                }
              />
            </>
          )}
        </div>
        <p className="mt-6 text-center text-sm text-zinc-600 dark:text-zinc-400">
          {mode === 'reset' ? (
            <>
              Remembered it?{' '}
              <Link to="/signin" className="font-semibold text-brand-700 hover:underline dark:text-brand-400">
                Sign in
              </Link>
            </>
          ) : mode === 'signin' ? (
            <>
              New here?{' '}
              <Link to="/signup" className="font-semibold text-brand-700 hover:underline dark:text-brand-400">
                Create an account
              </Link>
            </>
          ) : (
            <>
              Already have an account?{' '}
              <Link to="/signin" className="font-semibold text-brand-700 hover:underline dark:text-brand-400">
                Sign in
              </Link>
            </>
          )}
        </p>
      </main>
    </div>
  )
}
