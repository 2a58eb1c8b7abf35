import { type FormEvent, useState } from 'react'
import { Link } from 'react-router'
import { Button, ErrorNote, Field, Spinner, TextInput } from '@/components/ui'
import { ApiError, errorMessage } from '@/lib/http'
import { useConfirmSignUp, useForgotPassword, useResendCode, useResetPassword, useSignIn, useSignUp } from './api'
import { PASSWORD_HINT, USERNAME_RULE, passwordLengthProblem } from './rules'

function friendly(err: unknown): string {
  if (err instanceof ApiError && err.status === 401) return 'Wrong username or password.'
  return errorMessage(err)
}

/**
 * Where a failed request's message goes: beside the field the server named
 * (`details.field`), or, with no field, once above the form. Never both.
 */
function placeError(err: unknown, fields: readonly string[]): { field?: string; message: string } | null {
  if (!err) return null
  const field = err instanceof ApiError ? err.field : undefined
  return field && fields.includes(field) ? { field, message: errorMessage(err) } : { message: errorMessage(err) }
}

export function SignInForm({ initialUsername = '', notice }: { initialUsername?: string; notice?: string }) {
  const [username, setUsername] = useState(initialUsername)
  const [password, setPassword] = useState('')
  const signIn = useSignIn()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    signIn.mutate({ username: username.trim(), password })
  }
  return (
    <form onSubmit={submit} className="space-y-4" aria-label="Sign in">
      {notice && <p className="rounded-xl bg-emerald-50 px-3.5 py-2.5 text-sm text-emerald-800 dark:bg-emerald-950/50 dark:text-emerald-300">{notice}</p>}
      <ErrorNote message={signIn.error ? friendly(signIn.error) : null} />
      <Field label="Username or email">
        <TextInput autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
      </Field>
      <Field label="Password">
        <TextInput type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
      </Field>
      <div className="-mt-2 text-right text-sm">
        <Link to="/forgot-password" state={{ username: username.trim() }} className="font-medium text-brand-700 hover:underline dark:text-brand-400">
          Forgot password?
        </Link>
      </div>
      <Button type="submit" className="w-full" disabled={signIn.isPending}>
        {signIn.isPending && <Spinner />} Sign in
      </Button>
    </form>
  )
}

/**
 * Two steps: ask for a code for a username or email, then enter the code with a new
 * password. `onDone` gets the login to prefill on the sign-in form.
 */
export function ResetPasswordForm({ initialUsername = '', onDone }: { initialUsername?: string; onDone(username: string): void }) {
  const [username, setUsername] = useState(initialUsername)
  const [codeSent, setCodeSent] = useState(false)
  const [code, setCode] = useState('')
  const [newPassword, setNewPassword] = useState('')
  const [resent, setResent] = useState(false)
  const [tooShort, setTooShort] = useState<string | null>(null)
  const forgot = useForgotPassword()
  const reset = useResetPassword()
  const resetError = placeError(reset.error, ['newPassword'])
  const passwordError = tooShort ?? (resetError?.field === 'newPassword' ? resetError.message : undefined)

  if (!codeSent) {
    return (
      <form
        aria-label="Reset your password"
        className="space-y-4"
        onSubmit={(e) => {
          e.preventDefault()
          forgot.mutate(username.trim(), { onSuccess: () => setCodeSent(true) })
        }}
      >
        <p className="text-sm text-zinc-600 dark:text-zinc-400">Enter your username or email and we will send a code to the email on the account.</p>
        <ErrorNote message={forgot.error ? errorMessage(forgot.error) : null} />
        <Field label="Username or email">
          <TextInput autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </Field>
        <Button type="submit" className="w-full" disabled={forgot.isPending}>
          {forgot.isPending && <Spinner />} Send code
        </Button>
      </form>
    )
  }

  return (
    <form
      aria-label="Choose a new password"
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault()
        const problem = passwordLengthProblem(newPassword)
        setTooShort(problem)
        if (problem) {
          reset.reset()
          return
        }
        reset.mutate({ username: username.trim(), code: code.trim(), newPassword }, { onSuccess: () => onDone(username.trim()) })
      }}
    >
      <p className="text-sm text-zinc-600 dark:text-zinc-400">
        If <strong className="text-zinc-900 dark:text-zinc-100">{username.trim()}</strong> has an account, we sent it a code, valid for one hour.
      </p>
      <ErrorNote message={resetError && !resetError.field ? resetError.message : null} />
      <Field label="Reset code">
        <TextInput inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required autoFocus />
      </Field>
      <Field label="New password" hint={`${PASSWORD_HINT} You will be signed out everywhere.`} error={passwordError ?? undefined}>
        <TextInput
          type="password"
          autoComplete="new-password"
          value={newPassword}
          onChange={(e) => {
            setNewPassword(e.target.value)
            setTooShort(null)
            if (resetError?.field) reset.reset()
          }}
          required
        />
      </Field>
      <Button type="submit" className="w-full" disabled={reset.isPending}>
        {reset.isPending && <Spinner />} Set new password
      </Button>
      <Button variant="ghost" className="w-full" disabled={forgot.isPending} onClick={() => forgot.mutate(username.trim(), { onSuccess: () => setResent(true) })}>
        {resent ? 'Code sent again' : 'Send the code again'}
      </Button>
    </form>
  )
}

/** Sign up, then (if the server asks) confirm with the emailed code; `onDone` gets the username. */
export function SignUpForm({ onDone }: { onDone(username: string, password: string): void }) {
  const [form, setForm] = useState({ username: '', displayName: '', email: '', password: '' })
  const [confirming, setConfirming] = useState(false)
  const [code, setCode] = useState('')
  const [tooShort, setTooShort] = useState<string | null>(null)
  const signUp = useSignUp()
  const confirm = useConfirmSignUp()
  const resend = useResendCode()
  const placed = placeError(signUp.error, Object.keys(form))
  const set = (k: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement>) => {
    setForm({ ...form, [k]: e.target.value })
    // An error about this field is answered by editing it: take it away.
    if (placed?.field === k) signUp.reset()
    if (k === 'password') setTooShort(null)
  }
  const fieldErr = (field: keyof typeof form) =>
    field === 'password' && tooShort ? tooShort : placed?.field === field ? placed.message : undefined

  if (confirming) {
    return (
      <form
        aria-label="Confirm your account"
        className="space-y-4"
        onSubmit={(e) => {
          e.preventDefault()
          confirm.mutate({ username: form.username.trim(), code: code.trim() }, { onSuccess: () => onDone(form.username.trim(), form.password) })
        }}
      >
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          We sent a confirmation code to <strong className="text-zinc-900 dark:text-zinc-100">{form.email}</strong>. Enter it to finish.
        </p>
        <ErrorNote message={confirm.error ? errorMessage(confirm.error) : null} />
        <Field label="Confirmation code">
          <TextInput inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required autoFocus />
        </Field>
        <Button type="submit" className="w-full" disabled={confirm.isPending}>
          {confirm.isPending && <Spinner />} Confirm
        </Button>
        <Button variant="ghost" className="w-full" disabled={resend.isPending} onClick={() => resend.mutate(form.username.trim())}>
          {resend.isSuccess ? 'Code sent again' : 'Send the code again'}
        </Button>
      </form>
    )
  }

  return (
    <form
      aria-label="Create account"
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault()
        const problem = passwordLengthProblem(form.password)
        setTooShort(problem)
        if (problem) {
          signUp.reset()
          return
        }
        const input = { ...form, username: form.username.trim(), email: form.email.trim(), displayName: form.displayName.trim() || form.username.trim() }
        signUp.mutate(input, {
          onSuccess: (res) => (res.confirmationRequired ? setConfirming(true) : onDone(input.username, input.password)),
        })
      }}
    >
      <ErrorNote message={placed && !placed.field ? placed.message : null} />
      <Field label="Username" hint={USERNAME_RULE} error={fieldErr('username')}>
        <TextInput autoComplete="username" value={form.username} onChange={set('username')} required autoFocus />
      </Field>
      <Field label="Display name" error={fieldErr('displayName')}>
        <TextInput autoComplete="name" value={form.displayName} onChange={set('displayName')} placeholder="How others see you" />
      </Field>
      <Field label="Email" error={fieldErr('email')}>
        <TextInput type="email" autoComplete="email" value={form.email} onChange={set('email')} required />
      </Field>
      <Field label="Password" hint={PASSWORD_HINT} error={fieldErr('password')}>
        <TextInput type="password" autoComplete="new-password" value={form.password} onChange={set('password')} required />
      </Field>
      <Button type="submit" className="w-full" disabled={signUp.isPending}>
        {signUp.isPending && <Spinner />} Create account
      </Button>
    </form>
  )
}
