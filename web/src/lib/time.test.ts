import { describe, expect, it } from 'vitest'
import { lastSeenText } from './time'

// Local times, like the ones a user reads: Tuesday 3 March 2026, 14:30.
const now = new Date(2026, 2, 3, 14, 30, 0)
const at = (year: number, month: number, day: number, hour = 0, minute = 0, second = 0) => new Date(year, month, day, hour, minute, second).toISOString()

describe('lastSeenText', () => {
  it('says "just now" within the first minute, and for a time a skewed clock puts ahead', () => {
    expect(lastSeenText(at(2026, 2, 3, 14, 29, 31), now, 'en-GB')).toBe('last seen just now')
    expect(lastSeenText(at(2026, 2, 3, 14, 31, 0), now, 'en-GB')).toBe('last seen just now')
  })

  it('counts minutes within the hour', () => {
    expect(lastSeenText(at(2026, 2, 3, 14, 29, 0), now, 'en-GB')).toBe('last seen 1 minute ago')
    expect(lastSeenText(at(2026, 2, 3, 14, 25, 0), now, 'en-GB')).toBe('last seen 5 minutes ago')
    expect(lastSeenText(at(2026, 2, 3, 13, 30, 30), now, 'en-GB')).toBe('last seen 59 minutes ago')
  })

  it('gives the time earlier today, and says yesterday for yesterday', () => {
    expect(lastSeenText(at(2026, 2, 3, 9, 5), now, 'en-GB')).toBe('last seen today at 09:05')
    expect(lastSeenText(at(2026, 2, 3, 0, 0), now, 'en-GB')).toBe('last seen today at 00:00')
    expect(lastSeenText(at(2026, 2, 2, 23, 59), now, 'en-GB')).toBe('last seen yesterday')
    expect(lastSeenText(at(2026, 2, 2, 0, 1), now, 'en-GB')).toBe('last seen yesterday')
  })

  it('gives the date before that, with the year only when it is not this one', () => {
    expect(lastSeenText(at(2026, 2, 1, 18, 0), now, 'en-GB')).toBe('last seen on 1 Mar')
    expect(lastSeenText(at(2026, 0, 17, 8, 0), now, 'en-GB')).toBe('last seen on 17 Jan')
    expect(lastSeenText(at(2025, 11, 31, 22, 0), now, 'en-GB')).toBe('last seen on 31 Dec 2025')
  })

  it('knows yesterday across the start of a month and a year', () => {
    const newYear = new Date(2026, 0, 1, 8, 0)
    expect(lastSeenText(at(2025, 11, 31, 20, 0), newYear, 'en-GB')).toBe('last seen yesterday')
    expect(lastSeenText(at(2025, 11, 30, 20, 0), newYear, 'en-GB')).toBe('last seen on 30 Dec 2025')
  })
})
