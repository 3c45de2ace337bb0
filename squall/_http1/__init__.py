"""squall's sans-I/O HTTP/1 core: the wire format, for every role.

Nothing here touches a socket, a transport or an event loop: functions
take and return bytes, strings and header dicts, so the tests feed bytes
and read the results. The server protocol (``http1connection``), the
HTTP client (``_http1_client``) and both WebSocket handshakes use it, and
no other module formats an HTTP head or parses a response head. (Request
heads are parsed by llhttp straight into the server protocol's callbacks,
for speed; what squall checks in them is here, in ``_requests``.)

- ``_abnf``: the grammar (tokens, field values, targets, Host);
- ``_heads``: heads out, validated before a byte exists (CR and LF
  refused; NUL and non-token names too, or by ``HTTPHeaders``' setters for
  the server's hot path), chunk framing, the Date value;
- ``_persistence``: the one keep-alive rule (Connection tokens);
- ``_requests``: what squall checks in a request on top of llhttp;
- ``_response``: responses in (client role);
- ``_inflate``: the one bounded gzip inflater;
- ``_flow``: why reading is paused, and who waits for writes to drain;
- ``_states``: the named states of a server connection;
- ``_limits``: the server's limits and timeouts, and the parameters
  (``HTTP1ConnectionParameters``) that override them.
"""
