/**
 * Asking for permission to notify, at a sensible moment: never on first load (a prompt before
 * the user has done anything is one most people refuse, and a refusal is for good). The offer
 * appears once the user has sent a message in this tab, as a banner they may dismiss for good,
 * and stays in the account menu. "denied" is the browser's answer and is respected: we never
 * ask again (the browser would not show the prompt anyway); the menu says where to change it.
 */
import { useSyncExternalStore } from 'react'

export type Permission = NotificationPermission | 'unsupported'

const DISMISSED_KEY = 'hubbub.notifications.offer-dismissed'

const listeners = new Set<() => void>()
let engaged = false

function changed(): void {
  listeners.forEach((fn) => fn())
}

function subscribe(fn: () => void): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

export function currentPermission(): Permission {
  return typeof window !== 'undefined' && 'Notification' in window ? Notification.permission : 'unsupported'
}

function dismissed(): boolean {
  try {
    return localStorage.getItem(DISMISSED_KEY) === '1'
  } catch {
    return false
  }
}

/** The user sent a message: the moment to offer notifications (once per tab). */
export function noteMessageSent(): void {
  if (engaged) return
  engaged = true
  changed()
}

export function dismissOffer(): void {
  try {
    localStorage.setItem(DISMISSED_KEY, '1')
  } catch {
    /* private mode: dismissed for this tab only */
  }
  changed()
}

/** Shows the browser's prompt (it must come from a click); whatever the answer, the offer goes. */
export async function askPermission(): Promise<Permission> {
  if (currentPermission() !== 'default') return currentPermission()
  try {
    await Notification.requestPermission()
  } finally {
    changed()
  }
  return currentPermission()
}

/** What the browser allows now, re-read whenever we asked. */
export function usePermission(): Permission {
  return useSyncExternalStore(subscribe, currentPermission)
}

/** Whether to show the banner offering notifications now. */
export function useOfferVisible(): boolean {
  return useSyncExternalStore(subscribe, () => engaged && currentPermission() === 'default' && !dismissed())
}
