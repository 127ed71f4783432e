"""WebSocket sessions: handshake checks, framing, limits, dispatch.

| module | job |
| --- | --- |
| ``limits`` | the documented limits and timers (:class:`WSLimits`) |
| ``handshake`` | upgrade-request validation, subprotocols, extension negotiation |
| ``codec`` | the face a frame codec shows the session (:class:`Codec`, states) |
| ``frames`` | RFC 6455 framing without extensions: our :class:`FrameCodec` |
| ``wsproto_codec`` | wsproto's frame layer as a codec, for permessage-deflate sessions |
| ``deflate`` | permessage-deflate with a bounded inflate; the message-size guard |
| ``carrier`` | what a session needs from the transport (the HTTP/1.1 and HTTP/2 hook) |
| ``session`` | :class:`CoreSession`, the ``WebSocketSession`` adapters see |
| ``h1`` | the HTTP/1.1 upgrade: takes the transport over from ``H1Protocol`` |
| ``dispatch`` | runs ``Interface.handle_websocket`` with the core's failure rules |

See docs/websockets.md.
"""
