/** A group change in the timeline ("Ana added Bob"): small, centred, not a message. */
export function NoticeLine({ text }: { text: string }) {
  return (
    <li className="flex justify-center py-1">
      <span data-testid="group-notice" className="rounded-full bg-zinc-100/90 px-3 py-1 text-center text-xs text-zinc-600 dark:bg-zinc-800/90 dark:text-zinc-300">
        {text}
      </span>
    </li>
  )
}
