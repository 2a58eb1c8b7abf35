/**
 * The server's sign-up rules as the forms state and pre-check them (src/hubbub/domain/rules.py
 * is the authority: these only spare a round trip and must say the same).
 */

export const MIN_PASSWORD_CHARS = 8
export const MAX_PASSWORD_CHARS = 256

/** USERNAME_RULE on the server, word for word. */
export const USERNAME_RULE = '3 to 32 characters: letters a-z, digits, and _ . or -, starting with a letter or digit.'

export const PASSWORD_HINT = `At least ${MIN_PASSWORD_CHARS} characters. A few unrelated words make a strong password.`

/** Characters as the server counts them: Unicode code points after NFC, not UTF-16 units. */
export function passwordLength(password: string): number {
  return [...password.normalize('NFC').trim()].length
}

/**
 * What is wrong with a password's length, in the server's words, or null. Whitespace at
 * either end does not count, so a password of spaces is refused. The common-password
 * list stays on the server.
 */
export function passwordLengthProblem(password: string): string | null {
  if (passwordLength(password) < MIN_PASSWORD_CHARS) {
    return `Choose a longer password: at least ${MIN_PASSWORD_CHARS} characters (spaces at the start or end do not count). A few unrelated words work well.`
  }
  if ([...password].length > MAX_PASSWORD_CHARS) return `Choose a shorter password: at most ${MAX_PASSWORD_CHARS} characters.`
  return null
}
