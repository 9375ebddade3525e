"""The mock's core, shared by every API: serving (WebSocket, HTTP), fault injection, recording and
schema-driven synthesis. Nothing here knows Deriv; an API plugs in through the interfaces below.

* :mod:`.ws` - the WebSocket server on 127.0.0.1 (:class:`~.ws.WebSocketMock`): connections, send
  queues, drops, garbage frames, delays, silent mode, refused handshakes, a clock. An API is a
  :class:`~.ws.WsApi` object: the core calls it at each handshake, connection, parsed request,
  unparseable frame, disconnection and clock tick; it answers through :class:`~.ws.WsConnection`.
* :mod:`.http` - a small HTTP/1.1 server (:class:`~.http.HTTPServer`).
* :mod:`.http_api` - the request pipeline (:class:`~.http_api.HttpService`): recording, delays and
  forced faults around an :class:`~.http_api.HttpApi` (route a request to an operation key, answer
  it, answer a forced fault).
* :mod:`.faults` - the fault knobs' types: garbage frames, drop modes, forced HTTP answers.
* :mod:`.record` - request records with secrets redacted, fingerprints of secrets, the journal of
  what a mock received (:class:`~.record.Journal`, JSON Lines).
* :mod:`.control` - the mock as a tool: a fault plan for any API (:class:`~.control.FaultPlan`) and
  the HTTP control endpoint (:class:`~.control.ControlServer`: records, faults, drops).
* :mod:`.synth` - a valid instance of a JSON schema, deterministic per seed.
* :mod:`.loop` - the mock's event loop: running it in a thread, actions from other threads.
"""
