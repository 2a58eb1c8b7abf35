"""AWS Lambda entry points: a few lines each over the shared services.

Handlers (module.function) and what reaches them:

- `hubbub.aws.http.auth` (HTTP API v2): `/api/auth/*`: signup, confirm, resend-code,
  signin, refresh, signout, ws-ticket, password reset.
- `hubbub.aws.http.conversations` (HTTP API v2): `/api/conversations`,
  `/api/conversations/{id}` and its `members`, `read`, `mute`, `events`;
  `/api/users*` (me, search, blocks, profiles, avatars); `/healthz`, `/readyz`, and
  every other `/api` path (`/api/openapi.json`, `/api/docs`, else a JSON 404).
- `hubbub.aws.http.messages` (HTTP API v2, publishes to SNS):
  `/api/conversations/{id}/messages*` (send, history, get, edit, delete, reactions),
  `/api/conversations/{id}/attachments*`, `/api/attachment-files/*`, `/api/sync`,
  `/api/search/messages`.
- `hubbub.aws.realtime.connect` (WebSocket `$connect`), `.disconnect` (`$disconnect`),
  `.default` (`$default`: every client frame; no other action routes are needed, as
  the frame's `action` is dispatched by the shared protocol code). `$default` answers
  through the route response: the route needs `routeResponseSelectionExpression:
  $default`.
- `hubbub.aws.realtime.fanout` (SNS subscription on HUBBUB_SNS_TOPIC_ARN).
- `hubbub.aws.cognito_triggers.pre_sign_up` (Cognito PreSignUp trigger; imports only
  `os`).

On API Gateway's routing: HTTP API picks the most specific route, so
`/api/conversations/{id}/messages`, `/api/conversations/{id}/messages/{proxy+}` and
`/api/conversations/{id}/attachments/{proxy+}` (messages) win over
`/api/conversations/{proxy+}` (conversations). A request that reaches the wrong
service is answered 404 `not_found`, as the local server answers an unknown path.

Where the realtime functions run, and what each needs (no NAT gateway: a function in
the VPC reaches DynamoDB through a gateway endpoint and SNS through an interface
endpoint, but never the Management API, which no VPC endpoint serves for a public
WebSocket API):

- `connect`: in the VPC. Redis (tickets, connection slots, presence); DynamoDB: the
  store (reads the user's conversations, writes the hello's sync snapshot) and the
  connections table (put; delete if the handshake fails); SNS publish (the hello
  request, presence). No Management API.
- `disconnect`: in the VPC. Redis (presence, slots); DynamoDB: the store (writes last
  seen) and the connections table (delete); SNS publish (presence). No Management API.
- `default`: in the VPC. Redis (ended sessions, frame limits, presence, typing);
  DynamoDB: the store (read/write) and the connections table (consistent get); SNS
  publish (events, close requests). No Management API: replies are route responses.
- `fanout`: outside the VPC. DynamoDB: the connections table only (query on its
  `byUser` index; update and delete by key); the Management API (post to and delete
  connections). No Redis, no store tables, no SNS publish.
- The HTTP functions, `auth` above all: a sign-out (or a password reset) queries the
  connections table's `bySession` index and publishes close requests for the ended
  sessions' sockets (`apigw_connections.SessionSockets`).

Settings: `connect`, `disconnect`, `default` need HUBBUB_REDIS_URL and
HUBBUB_SNS_TOPIC_ARN (never HUBBUB_WS_MANAGEMENT_URL); `fanout` needs only
HUBBUB_DYNAMODB_TABLE_PREFIX and HUBBUB_WS_MANAGEMENT_URL (and builds nothing else:
no services, no Redis, no store). The HTTP functions build the same services as
`connect` (Redis for tickets, limits and ended sessions, so they are in the VPC; the
store; SNS publish for the changes they make) and never call the Management API
either.

The HTTP API is expected on its `$default` stage (the Serverless Framework's `httpApi`):
paths arrive as `/api/...`, exactly as the local server serves them.

Settings: `hubbub.aws.settings` (AWS-only) and `hubbub.config.Settings`; nothing is
built at import (`hubbub.aws.platform` builds at the first invocation).
"""
