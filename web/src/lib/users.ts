import { api } from './http'
import type { User } from './types'

/** A user's public profile by id (any signed-in user may read one): for the authors of
 * messages and the people named in group notices who are no longer members. Shared by
 * the features that show them, under one cache key (`keys.user`). */
export async function fetchUser(userId: string, signal?: AbortSignal): Promise<User> {
  return (await api<{ user: User }>(`/api/users/${encodeURIComponent(userId)}`, { signal })).user
}
