"""WebSocket sessions: handshake checks, framing (wsproto, frames only), limits, dispatch.

| module | job |
| --- | --- |
| ``limits`` | the documented limits and timers (:class:`WSLimits`) |
| ``handshake`` | upgrade-request validation, subprotocols, extension negotiation |
| ``deflate`` | permessage-deflate with a bounded inflate; the message-size guard |
| ``carrier`` | what a session needs from the transport (the HTTP/1.1 and HTTP/2 hook) |
| ``session`` | :class:`CoreSession`, the ``WebSocketSession`` adapters see |
| ``h1`` | the HTTP/1.1 upgrade: takes the transport over from ``H1Protocol`` |
| ``dispatch`` | runs ``Interface.handle_websocket`` with the core's failure rules |

See docs/websockets.md.
"""
