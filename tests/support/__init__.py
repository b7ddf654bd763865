"""Test helpers, one package (tests/conftest.py puts tests/ on ``sys.path``: ``from support.x``).

Which helper serves which layer:

- unit, core (use cases against ports): ``support.fakes`` (in-memory repositories, object store,
  executions, waker), ``support.corpus`` (media generators and the expected outcome of each
  case), ``support.triage_images`` (photos for the triage scorer), ``support.fake_gemini`` (a
  scripted Gemini HTTP server, also used against the stack).
- unit, adapters on moto: ``support.tables`` (``moto_app``: the app's tables, bucket, a waiting
  state machine).
- unit, HTTP API (the init_session handler in process): ``support.api`` (``Api``: the handler
  wired to the fakes; ``event``/``spec`` build API Gateway events and file specs).
- unit, CLI: ``support.cli`` (``fake_api``: the HTTP API faked and checked against the OpenAPI
  contract by ``fake_contract``; ``helpers``: running the CLI command against it).
- stack (integration, e2e, browser): ``support.stack`` (``Stack``: the deployed environment;
  ``emulator()``: the one way to start the bundled emulator), ``support.stack_api`` (request
  bodies and result polling against a ``Stack``).
- emulator tests (tests/emulator): ``support.emulator`` (the ``Emulator`` handle: boto3 clients,
  Lambda deployment, polling), started through ``support.stack.emulator()``.
"""
