"""The ASGI entry point: REST routes, the WebSocket endpoint and the web app."""
