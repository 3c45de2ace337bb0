"""squall's sans-I/O HTTP/1 core: the wire format, for every role.

Nothing here touches a socket, a transport or an event loop: functions
take and return bytes, strings and header dicts, so the tests feed bytes
and read the results. The server protocol (``http1connection``), the
HTTP client (``_http1_client``) and both WebSocket handshakes use it, and
no other module formats or parses an HTTP head.

- ``_abnf``: the grammar (tokens, field values, targets, Host);
- ``_heads``: heads out (validated: CR, LF, NUL refused), chunk framing,
  the Date value;
- ``_persistence``: the one keep-alive rule (Connection tokens);
- ``_requests``: what squall checks in a request on top of llhttp;
- ``_response``: responses in (client role);
- ``_inflate``: the one bounded gzip inflater;
- ``_flow``: why reading is paused, and who waits for writes to drain;
- ``_states``: the named states of a server connection.
"""
