import { useEffect, useState } from 'react'
import { useNavigate } from 'react-router'
import { Avatar } from '@/components/Avatar'
import { personLabel } from '@/components/PersonName'
import { ConfirmDialog } from '@/components/ConfirmDialog'
import { Dialog } from '@/components/Dialog'
import { Button, ErrorNote, TextInput } from '@/components/ui'
import { useConversationMutations } from '@/features/conversations/api'
import { memberCount } from '@/features/groups/notices'
import { UserSearch } from '@/features/users/UserSearch'
import { errorMessage } from '@/lib/http'
import type { Conversation, User } from '@/lib/types'

export function GroupSettingsDialog({ open, onOpenChange, conversation, me }: { open: boolean; onOpenChange(open: boolean): void; conversation: Conversation; me: User }) {
  const m = useConversationMutations(me.id)
  const navigate = useNavigate()
  const current = conversation.title ?? ''
  // What the user typed (null: untouched, so the field follows live renames), and the title
  // it was typed over: when that is no longer the title, someone renamed the group meanwhile.
  const [draft, setDraft] = useState<string | null>(null)
  const [typedOver, setTypedOver] = useState(current)
  const [confirm, setConfirm] = useState<'leave' | 'delete' | User | null>(null)
  const isOwner = (conversation.ownerId ?? conversation.createdBy) === me.id
  const error = m.rename.error ?? m.addMember.error ?? m.removeMember.error ?? m.remove.error
  useEffect(() => {
    if (open) setDraft(null)
  }, [open])
  const title = draft ?? current
  const changedMeanwhile = draft !== null && typedOver !== current && current !== title.trim() && !m.rename.isPending
  const canRename = !!title.trim() && title.trim() !== current && !m.rename.isPending
  const removing = confirm !== null && typeof confirm === 'object' ? confirm : null

  return (
    <Dialog open={open} onOpenChange={onOpenChange} title="Group settings" description={memberCount(conversation.members.length)}>
      <div className="space-y-5">
        <ErrorNote message={error ? errorMessage(error) : null} />
        {isOwner ? (
          <form
            onSubmit={(e) => {
              e.preventDefault()
              if (canRename) m.rename.mutate({ id: conversation.id, title: title.trim() }, { onSuccess: () => setDraft(null) })
            }}
          >
            <div className="flex gap-2">
              <label className="min-w-0 flex-1">
                <span className="sr-only">Group name</span>
                <TextInput
                  aria-label="Group name"
                  value={title}
                  onChange={(e) => {
                    if (draft === null) setTypedOver(current)
                    setDraft(e.target.value)
                  }}
                  maxLength={100}
                />
              </label>
              <Button type="submit" variant="secondary" disabled={!canRename}>
                {changedMeanwhile ? 'Rename anyway' : 'Rename'}
              </Button>
            </div>
            {changedMeanwhile && (
              <p className="mt-2 text-xs text-amber-700 dark:text-amber-400" data-testid="rename-conflict" role="status">
                The group was renamed to “<bdi>{current}</bdi>” meanwhile.{' '}
                <button type="button" className="font-medium underline" onClick={() => setDraft(null)}>
                  Keep that name
                </button>
              </p>
            )}
          </form>
        ) : (
          <p className="text-sm text-zinc-600 dark:text-zinc-400">Only the group's owner can rename it or change who is in it.</p>
        )}

        <section>
          <h3 className="mb-2 text-sm font-semibold text-zinc-700 dark:text-zinc-300">Members</h3>
          <ul className="space-y-1" aria-label="Members">
            {conversation.members.map((u) => (
              <li key={u.id} className="flex items-center gap-3 rounded-xl px-1 py-1.5">
                <Avatar size="sm" name={u.displayName} seed={u.id} src={u.avatarUrl} />
                <span className="min-w-0 flex-1">
                  <span className="block truncate text-sm font-medium">
                    <bdi>{u.displayName}</bdi> {u.id === me.id && <span className="text-zinc-500">(you)</span>}
                  </span>
                  <span className="block truncate text-xs text-zinc-500">
                    @{u.username}
                    {(conversation.ownerId ?? conversation.createdBy) === u.id && ' · Owner'}
                  </span>
                </span>
                {isOwner && u.id !== me.id && (
                  <Button variant="ghost" className="px-2.5 py-1 text-xs" aria-label={`Remove ${personLabel(u)}`} onClick={() => setConfirm(u)}>
                    Remove
                  </Button>
                )}
              </li>
            ))}
          </ul>
        </section>

        {isOwner && (
          <section>
            <h3 className="mb-2 text-sm font-semibold text-zinc-700 dark:text-zinc-300">Add people</h3>
            <UserSearch label="Add people" exclude={conversation.members.map((u) => u.id)} onPick={(u) => m.addMember.mutate({ id: conversation.id, user: u })} />
          </section>
        )}

        <div className="flex flex-wrap gap-2 border-t border-zinc-200 pt-4 dark:border-zinc-800">
          <Button variant="secondary" onClick={() => setConfirm('leave')}>
            Leave group
          </Button>
          {isOwner && (
            <Button variant="danger" onClick={() => setConfirm('delete')}>
              Delete group
            </Button>
          )}
        </div>
      </div>
      <ConfirmDialog
        open={confirm !== null}
        onOpenChange={(o) => !o && setConfirm(null)}
        title={removing ? `Remove ${removing.displayName}?` : confirm === 'delete' ? 'Delete this group?' : 'Leave this group?'}
        description={
          removing
            ? `${personLabel(removing)} will no longer see new messages in this group.`
            : confirm === 'delete'
              ? 'The group and its messages are deleted for everyone.'
              : 'You will stop receiving its messages.'
        }
        confirmLabel={removing ? 'Remove' : confirm === 'delete' ? 'Delete' : 'Leave'}
        onConfirm={() => {
          const done = { onSuccess: () => { onOpenChange(false); navigate('/') } }
          if (removing) m.removeMember.mutate({ id: conversation.id, userId: removing.id })
          else if (confirm === 'delete') m.remove.mutate(conversation.id, done)
          else m.removeMember.mutate({ id: conversation.id, userId: me.id }, done)
        }}
      />
    </Dialog>
  )
}
