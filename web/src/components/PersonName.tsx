import { clsx } from 'clsx'
import type { User } from '@/lib/types'

/**
 * A person as others see them: the display name, isolated (`<bdi>`) so a right-to-left
 * name cannot reorder the text around it, followed by the @username. Two people may share
 * a display name but never a username, so this is what tells them apart.
 */
export function PersonName({ user, className, handleClassName }: { user: Pick<User, 'displayName' | 'username'>; className?: string; handleClassName?: string }) {
  return (
    <span className={className} data-testid="person-name">
      <bdi>{user.displayName}</bdi> <span className={clsx('font-normal', handleClassName ?? 'opacity-70')}>@{user.username}</span>
    </span>
  )
}

/** Plain-text form (titles, labels, "… is typing"): "Name (@username)". */
export function personLabel(user: Pick<User, 'displayName' | 'username'>): string {
  return `${user.displayName} (@${user.username})`
}
