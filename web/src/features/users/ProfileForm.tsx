import { useState } from 'react'
import { Button, ErrorNote, Field, TextInput } from '@/components/ui'
import { errorMessage } from '@/lib/http'
import type { User } from '@/lib/types'
import { useUpdateMe } from './api'

export function ProfileForm({ me, onDone }: { me: User; onDone(): void }) {
  const [name, setName] = useState(me.displayName)
  const update = useUpdateMe()
  return (
    <form
      aria-label="Profile"
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault()
        update.mutate(name.trim(), { onSuccess: onDone })
      }}
    >
      <ErrorNote message={update.error ? errorMessage(update.error) : null} />
      <Field label="Display name" hint={`Your username is @${me.username}.`}>
        <TextInput value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} autoFocus />
      </Field>
      <Button type="submit" className="w-full" disabled={!name.trim() || name.trim() === me.displayName || update.isPending}>
        Save
      </Button>
    </form>
  )
}
