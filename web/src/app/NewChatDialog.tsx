import { clsx } from 'clsx'
import { useState } from 'react'
import { useNavigate } from 'react-router'
import { Dialog } from '@/components/Dialog'
import { CloseIcon, UsersIcon } from '@/components/icons'
import { Button, ErrorNote, Field, TextInput, focusRing } from '@/components/ui'
import { useConversationMutations } from '@/features/conversations/api'
import { UserSearch } from '@/features/users/UserSearch'
import { errorMessage } from '@/lib/http'
import type { User } from '@/lib/types'

export function NewChatDialog({ open, onOpenChange, me }: { open: boolean; onOpenChange(open: boolean): void; me: User }) {
  const [mode, setMode] = useState<'direct' | 'group'>('direct')
  const [title, setTitle] = useState('')
  const [members, setMembers] = useState<User[]>([])
  const navigate = useNavigate()
  const m = useConversationMutations(me.id)

  const close = (next: boolean) => {
    onOpenChange(next)
    if (!next) {
      setMode('direct')
      setTitle('')
      setMembers([])
      m.startDirect.reset()
      m.createGroup.reset()
    }
  }
  const error = m.startDirect.error ?? m.createGroup.error

  return (
    <Dialog open={open} onOpenChange={close} title={mode === 'direct' ? 'New chat' : 'New group'} description={mode === 'direct' ? 'Find someone to talk to.' : 'Name the group and add people.'}>
      <div className="mb-4 grid grid-cols-2 gap-1 rounded-xl bg-zinc-100 p-1 text-sm dark:bg-zinc-800" role="tablist">
        {(['direct', 'group'] as const).map((k) => (
          <button key={k} role="tab" aria-selected={mode === k} onClick={() => setMode(k)} className={clsx('rounded-lg py-1.5 font-medium', focusRing, mode === k ? 'bg-white shadow-sm dark:bg-zinc-900' : 'text-zinc-500')}>
            {k === 'direct' ? 'Direct message' : 'Group'}
          </button>
        ))}
      </div>
      <ErrorNote message={error ? errorMessage(error) : null} />
      {mode === 'direct' ? (
        <UserSearch
          autoFocus
          onPick={(u) =>
            m.startDirect.mutate(u.id, {
              onSuccess: (c) => {
                close(false)
                navigate(`/c/${c.id}`)
              },
            })
          }
        />
      ) : (
        <form
          className="space-y-4"
          onSubmit={(e) => {
            e.preventDefault()
            m.createGroup.mutate(
              { title: title.trim(), memberIds: members.map((u) => u.id) },
              {
                onSuccess: (c) => {
                  close(false)
                  navigate(`/c/${c.id}`)
                },
              },
            )
          }}
        >
          <Field label="Group name">
            <TextInput value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={100} placeholder="Weekend plans" />
          </Field>
          {members.length > 0 && (
            <ul className="flex flex-wrap gap-1.5" aria-label="Members to add">
              {members.map((u) => (
                <li key={u.id} className="inline-flex items-center gap-1 rounded-full bg-brand-100 py-1 pr-1 pl-3 text-sm text-brand-800 dark:bg-brand-500/20 dark:text-brand-200">
                  {u.displayName}
                  <button type="button" aria-label={`Remove ${u.displayName}`} onClick={() => setMembers(members.filter((x) => x.id !== u.id))} className={clsx('rounded-full p-0.5 hover:bg-brand-200 dark:hover:bg-brand-500/30', focusRing)}>
                    <CloseIcon className="size-3.5" />
                  </button>
                </li>
              ))}
            </ul>
          )}
          <UserSearch
            label="Add members"
            selected={members.map((u) => u.id)}
            onPick={(u) => setMembers(members.some((x) => x.id === u.id) ? members.filter((x) => x.id !== u.id) : [...members, u])}
          />
          <Button type="submit" className="w-full" disabled={!title.trim() || members.length === 0 || m.createGroup.isPending}>
            <UsersIcon className="size-4" /> Create group
          </Button>
        </form>
      )}
    </Dialog>
  )
}
