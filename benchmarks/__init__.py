"""Benchmarks of the build step and the generated client: ``python -m benchmarks`` (nox session ``bench``).

How to read the numbers
-----------------------
This machine is small (2 cores) and shared, so no timing here is a pass/fail verdict. Every
benchmark runs a *baseline* in the same invocation, interleaved with the thing measured (run
``A B B A A B ...`` so that drift in the machine's load hits both alike), and reports:

* the **median** of the repetitions (the spread, min-max, says how noisy the run was),
* the **ratio** ``ours / baseline`` of the medians: this is the number to compare between runs and
  machines. Above 1 means we are slower than the baseline,
* the **goal**, for reference only. Absolute goals (``<= 3 s``) were set for a developer laptop;
  ratio goals (``<= 1.3``) hold on any machine.

Every measured command runs in a fresh interpreter (``sys.executable``), so start-up and import
costs are included the way a user meets them. Each is run once, untimed, before the repetitions
(warm-up): the OS file cache is warm and bytecode is compiled. Child interpreters get a private
bytecode cache (``PYTHONPYCACHEPREFIX`` in a temporary directory, with ``PYTHONDONTWRITEBYTECODE``
removed), so editable sources and the generated tree load from bytecode like installed packages
do, whatever this machine's bytecode settings are; ``--inherit-bytecode`` keeps the environment's
settings instead (with ``PYTHONDONTWRITEBYTECODE=1`` the project's sources then compile at every
start).

The benchmarks
--------------
``generate_full``
    ``python -m deriv_codegen generate deriv-options --force --offline --out TMP`` against the
    pinned Options bundle, versus datamodel-code-generator alone, in a fresh interpreter (import
    included), called once on the same WebSocket request/response schemas put under ``$defs`` of a
    single document with the same options. The ratio is what our pipeline (reading, preparing,
    per-call modules in worker processes, stubs, ruff, atomic write) costs on top of the library.
    A second, informational baseline feeds it every ``*_request/_response.schema.json`` of the zip,
    including the REST-shaped schemas we do not turn into models (not in ``--quick`` runs).
    ``generate --force`` of *every* pinned API (``deriv-options`` and ``deribit``) is timed in the same
    rounds, against the Options-only command; the CLI's own per-API seconds are in the notes.
``generate_unchanged``
    The same commands without ``--force`` on an up-to-date tree (the no-op path: Options alone, and
    every pinned API), versus ``python -c pass``.
``import_client``
    A fresh ``import deriv_options; deriv_options.OptionsClient`` versus ``import pydantic,
    websockets``, both minus the median of ``python -c pass`` (interpreter start-up is not ours).
    ``import pydantic`` alone is lazy (it loads no ``BaseModel``), so a second baseline,
    ``from pydantic import BaseModel; import websockets``, shows what any pydantic client loads.
    ``-X importtime`` totals (sum of the top-level cumulative times) are reported too.
``first_call_import``
    Informational: in a process that already imported the client, the time to import the ``buy``
    models module and build, validate and serialise the first ``BuyRequest`` (what the client's
    lazy loading costs on a first call), versus importing every model module eagerly first, and
    versus importing and building every model.
``websocket_client``
    The Options client against a local server in its own process (``_ws_server.py``): a tick stream
    into the user's iterator, sequential and 100-in-flight ``ping`` calls, versus raw ``websockets``
    with orjson on the same server; and the cost of building a ``buy`` request.
``jsonrpc_client``
    The generated Deribit client (JSON-RPC 2.0) against ``_ws_server.py jsonrpc``: ticker
    notifications validated into ``TickerData`` through ``client.subscribe(ticker(...))`` into the
    user's iterator, and sequential ``client.public.get_time()`` calls, each versus a raw
    ``websockets`` + orjson loop on the same server stream; 100 calls in flight versus a raw reader
    task resolving a dict of futures, and versus sequential calls.
    The notes split the time of one notification and one call into the client's steps (``timeit``
    outside the event loop); what is left is frame parsing, the stream queue, the iterator, asyncio.
``legacy_client``
    The generated v3 client (``V3Client``, legacy API v3, same wire protocol as Options) against
    ``_ws_server.py`` in Deriv mode, connected to a ``v3_url`` (with an ``app_id``, no authorization):
    ``websocket_client``'s tick stream, sequential and 100-in-flight ``ping()`` loops versus the same
    raw loops.
``http_client``
    The runtime's HTTP transports against ``_http_server.py`` (a minimal asyncio HTTP/1.1 keep-alive
    server in its own process): sequential and 100-in-flight ``public.get_time()`` calls of
    ``DeribitClient.over_http(...)``, with the transport's default ``GET`` and with
    ``http_method="POST"`` (the JSON-RPC request object as the body), and ``get_health()`` of the
    Deriv Options REST client (``OptionsRestClient``), each versus a raw ``httpx.AsyncClient``
    made like the runtime's own (same timeout and httpx's default connection limits) sending the
    same request and reading the answer with orjson. Each case has its own fresh pair of clients
    (httpcore checks every idle pooled connection on each request, so a pool that ran 100 calls in
    flight makes later sequential calls slower: both sides get the same history). The note gives
    calls/s and percentages.
``pool_memory``
    10,000 proposal streams over a connection pool (``--quick``: 2,000): resident set size per stream
    at the end of the run versus when the warm-up ended (flat is a ratio close to 1).
``many_subscriptions``
    1,000 tick subscriptions on one connection, 10 msg/s each (``_subs_server.py``): the client
    process's CPU time per message received over a steady window, ``OptionsClient.subscribe_ticks``
    streams with a consumer task each versus hand routing (``websockets`` + orjson, a reader putting
    each frame into the ``asyncio.Queue`` of its ``req_id``, a consumer task each); the note gives
    the delivered msg/s against the expected and the CPU share of one core of both.

Results are also written to ``.benchmarks/results.json`` (gitignored), with every sample.
"""
