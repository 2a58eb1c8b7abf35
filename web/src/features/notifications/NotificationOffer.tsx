import { clsx } from 'clsx'
import { focusRing } from '@/components/ui'
import { askPermission, dismissOffer, useOfferVisible } from './permission'

/** The dismissible offer to turn notifications on, shown after the user's first message. */
export function NotificationOffer() {
  const visible = useOfferVisible()
  if (!visible) return null
  return (
    <section
      aria-label="Notifications"
      className="flex flex-wrap items-center justify-center gap-x-3 gap-y-1 border-b border-brand-100 bg-brand-50 px-4 py-2 text-sm text-brand-900 dark:border-brand-500/20 dark:bg-brand-500/10 dark:text-brand-100"
    >
      <span>Get notified of new messages in other chats?</span>
      <span className="flex gap-2">
        <button type="button" onClick={() => void askPermission()} className={clsx('rounded-full bg-brand-600 px-3 py-1 text-xs font-medium text-white hover:bg-brand-700', focusRing)}>
          Turn on notifications
        </button>
        <button type="button" onClick={dismissOffer} className={clsx('rounded-full px-3 py-1 text-xs font-medium hover:bg-brand-100 dark:hover:bg-brand-500/20', focusRing)}>
          Not now
        </button>
      </span>
    </section>
  )
}
