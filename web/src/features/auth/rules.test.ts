import { describe, expect, it } from 'vitest'
import { passwordLength, passwordLengthProblem } from './rules'

describe('password length', () => {
  it('counts code points, not UTF-16 units', () => {
    expect('🙂🙃🙂🙃'.length).toBe(8)
    expect(passwordLength('🙂🙃🙂🙃')).toBe(4)
    expect(passwordLengthProblem('🙂🙃🙂🙃')).toMatch(/^Choose a longer password/)
    expect(passwordLengthProblem('🙂🙃🙂🙃🙂🙃🙂🙃')).toBeNull()
  })

  it('counts composed characters once (NFC)', () => {
    expect(passwordLength('e\u0301'.repeat(8))).toBe(8)
    expect(passwordLengthProblem('e\u0301'.repeat(4))).toMatch(/^Choose a longer password/)
  })

  it('refuses blank passwords and does not count surrounding spaces', () => {
    expect(passwordLengthProblem(' '.repeat(8))).toMatch(/^Choose a longer password/)
    expect(passwordLengthProblem('\t\u3000 \u00a0'.repeat(4))).toMatch(/^Choose a longer password/)
    expect(passwordLengthProblem('   seven   ')).toMatch(/^Choose a longer password/)
    expect(passwordLengthProblem(' inner spaces count ')).toBeNull()
  })

  it('refuses more than 256 characters', () => {
    expect(passwordLengthProblem('xy'.repeat(128))).toBeNull()
    expect(passwordLengthProblem('x'.repeat(257))).toBe('Choose a shorter password: at most 256 characters.')
  })
})
