import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { cleanup, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ana } from '@/test/fixtures'
import { ProfileForm } from './ProfileForm'

function renderForm(me = ana) {
  return render(
    <QueryClientProvider client={new QueryClient()}>
      <ProfileForm me={me} onDone={() => undefined} />
    </QueryClientProvider>,
  )
}

afterEach(() => {
  cleanup()
  vi.unstubAllGlobals()
})

describe('the profile photo', () => {
  it('refuses a file over 5 MB before sending anything', () => {
    const fetcher = vi.fn()
    vi.stubGlobal('fetch', fetcher)
    renderForm()
    const big = new File([new Uint8Array(5 * 1024 * 1024 + 1)], 'huge.png', { type: 'image/png' })
    fireEvent.change(screen.getByLabelText('Choose a photo'), { target: { files: [big] } })
    expect(screen.getByRole('alert').textContent).toBe('Photos are limited to 5 MB.')
    expect(fetcher).not.toHaveBeenCalled()
  })

  it('offers "Remove photo" only when there is a photo', () => {
    renderForm()
    expect(screen.getByRole('button', { name: 'Change photo' })).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Remove photo' })).toBeNull()
    cleanup()
    renderForm({ ...ana, avatarUrl: '/api/avatars/0123456789abcdef0123456789abcdef' })
    expect(screen.getByRole('button', { name: 'Remove photo' })).toBeTruthy()
  })
})
