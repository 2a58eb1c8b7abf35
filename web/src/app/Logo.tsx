export function Logo({ className = 'size-9' }: { className?: string }) {
  return (
    <svg viewBox="0 0 64 64" className={className} aria-hidden>
      <defs>
        <linearGradient id="hb-g" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor="#8b5cf6" />
          <stop offset="1" stopColor="#6d28d9" />
        </linearGradient>
      </defs>
      <rect width="64" height="64" rx="18" fill="url(#hb-g)" />
      <path d="M18 20h28a6 6 0 0 1 6 6v12a6 6 0 0 1-6 6H30l-9 7v-7h-3a6 6 0 0 1-6-6V26a6 6 0 0 1 6-6z" fill="#fff" />
      <circle cx="25" cy="32" r="3" fill="#7c3aed" />
      <circle cx="32" cy="32" r="3" fill="#7c3aed" />
      <circle cx="39" cy="32" r="3" fill="#7c3aed" />
    </svg>
  )
}
