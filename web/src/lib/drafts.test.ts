import { beforeEach, describe, expect, it } from 'vitest'
import { MAX_DRAFTS, MAX_DRAFT_CHARS, clearDrafts, loadDraft, saveDraft } from './drafts'

describe('drafts', () => {
  beforeEach(() => localStorage.clear())

  it('keeps one draft per user and conversation', () => {
    saveDraft('u1', 'c1', '  hello\nthere')
    saveDraft('u1', 'c2', 'other chat')
    saveDraft('u2', 'c1', 'other user')
    expect(loadDraft('u1', 'c1')).toBe('  hello\nthere')
    expect(loadDraft('u1', 'c2')).toBe('other chat')
    expect(loadDraft('u2', 'c1')).toBe('other user')
    expect(loadDraft('u2', 'c2')).toBe('')
  })

  it('an emptied draft is removed', () => {
    saveDraft('u1', 'c1', 'x')
    saveDraft('u1', 'c1', '  ')
    expect(loadDraft('u1', 'c1')).toBe('')
    expect(localStorage.length).toBe(0)
  })

  it('is bounded: long drafts are cut, the oldest drafts go', () => {
    saveDraft('u1', 'big', 'x'.repeat(MAX_DRAFT_CHARS + 50), 1)
    expect(loadDraft('u1', 'big')).toHaveLength(MAX_DRAFT_CHARS)
    for (let i = 0; i < MAX_DRAFTS + 5; i++) saveDraft('u1', `c${i}`, `draft ${i}`, 1000 + i)
    expect(loadDraft('u1', 'big')).toBe('')
    expect(loadDraft('u1', 'c4')).toBe('')
    expect(loadDraft('u1', 'c5')).toBe('draft 5')
    expect(loadDraft('u1', `c${MAX_DRAFTS + 4}`)).toBe(`draft ${MAX_DRAFTS + 4}`)
  })

  it('sign-out forgets every draft and nothing else', () => {
    localStorage.setItem('hubbub.theme', 'dark')
    saveDraft('u1', 'c1', 'secret')
    saveDraft('u2', 'c1', 'secret too')
    clearDrafts()
    expect(loadDraft('u1', 'c1')).toBe('')
    expect(loadDraft('u2', 'c1')).toBe('')
    expect(localStorage.getItem('hubbub.theme')).toBe('dark')
  })

  it('ignores damaged entries', () => {
    localStorage.setItem('hubbub.draft:u1:c1', '{oops')
    expect(loadDraft('u1', 'c1')).toBe('')
  })
})
