import { useRef, useState } from 'react'
import { Avatar } from '@/components/Avatar'
import { Button, ErrorNote, Field, TextInput } from '@/components/ui'
import { errorMessage } from '@/lib/http'
import type { User } from '@/lib/types'
import { AVATAR_MAX_BYTES, AVATAR_TYPES, useSetAvatar, useUpdateMe } from './api'

/** My display name and profile picture. The picture is saved as soon as it is picked (or
 * removed): it needs no "Save", and the dialog shows the squared result the server made. */
export function ProfileForm({ me, onDone }: { me: User; onDone(): void }) {
  const [name, setName] = useState(me.displayName)
  const [tooLarge, setTooLarge] = useState(false)
  const update = useUpdateMe()
  const photo = useSetAvatar()
  const picker = useRef<HTMLInputElement>(null)
  const photoError = tooLarge ? 'Photos are limited to 5 MB.' : photo.error ? errorMessage(photo.error) : null
  return (
    <form
      aria-label="Profile"
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault()
        update.mutate(name.trim(), { onSuccess: onDone })
      }}
    >
      <ErrorNote message={update.error ? errorMessage(update.error) : photoError} />
      <div className="flex items-center gap-4">
        <Avatar size="lg" name={me.displayName} seed={me.id} src={me.avatarUrl} testId="profile-photo" />
        <div className="flex flex-wrap gap-2">
          <Button type="button" variant="secondary" disabled={photo.isPending} onClick={() => picker.current?.click()}>
            {photo.isPending ? 'Saving photo…' : 'Change photo'}
          </Button>
          {me.avatarUrl && (
            <Button type="button" variant="ghost" disabled={photo.isPending} onClick={() => photo.mutate(null)}>
              Remove photo
            </Button>
          )}
        </div>
        <input
          ref={picker}
          type="file"
          accept={AVATAR_TYPES}
          aria-label="Choose a photo"
          className="hidden"
          onChange={(e) => {
            const file = e.target.files?.[0]
            e.target.value = '' // picking the same file again still counts
            if (!file) return
            setTooLarge(file.size > AVATAR_MAX_BYTES)
            if (file.size <= AVATAR_MAX_BYTES) photo.mutate(file)
          }}
        />
      </div>
      <Field label="Display name" hint={`Your username is @${me.username}.`}>
        <TextInput value={name} onChange={(e) => setName(e.target.value)} required maxLength={64} autoFocus />
      </Field>
      <Button type="submit" className="w-full" disabled={!name.trim() || name.trim() === me.displayName || update.isPending}>
        Save
      </Button>
    </form>
  )
}
