"""AWS Lambda entry points: a few lines each over the shared services.

Handlers (module.function) and what reaches them:

- `hubbub.aws.http.auth` (HTTP API v2): `/api/auth/*`: signup, confirm, resend-code,
  signin, refresh, signout, ws-ticket, password reset.
- `hubbub.aws.http.conversations` (HTTP API v2): `/api/conversations`,
  `/api/conversations/{id}` and its `members`, `read`, `mute`, `events`;
  `/api/users*` (me, search, blocks, profiles, avatars).
- `hubbub.aws.http.messages` (HTTP API v2, publishes to SNS):
  `/api/conversations/{id}/messages*` (send, history, get, edit, delete, reactions),
  `/api/conversations/{id}/attachments*`, `/api/attachment-files/*`, `/api/sync`,
  `/api/search/messages`.
- `hubbub.aws.realtime.connect` (WebSocket `$connect`), `.disconnect` (`$disconnect`),
  `.default` (`$default`: every client frame; no other action routes are needed, as
  the frame's `action` is dispatched by the shared protocol code).
- `hubbub.aws.realtime.fanout` (SNS subscription on HUBBUB_SNS_TOPIC_ARN).
- `hubbub.aws.cognito_triggers.pre_sign_up` (Cognito PreSignUp trigger; imports only
  `os`).

On API Gateway's routing: HTTP API picks the most specific route, so
`/api/conversations/{id}/messages`, `/api/conversations/{id}/messages/{proxy+}` and
`/api/conversations/{id}/attachments/{proxy+}` (messages) win over
`/api/conversations/{proxy+}` (conversations). A request that reaches the wrong
service is answered 404 `not_found`, as the local server answers an unknown path.

The HTTP API is expected on its `$default` stage (the Serverless Framework's `httpApi`):
paths arrive as `/api/...`, exactly as the local server serves them.

Settings: `hubbub.aws.settings` (AWS-only) and `hubbub.config.Settings`; nothing is
built at import (`hubbub.aws.platform` builds at the first invocation).
"""
