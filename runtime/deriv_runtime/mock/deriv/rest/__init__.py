"""The mock Deriv REST API (:class:`~.api.RestAPI`) and the OAuth 2.0 endpoints, on the core's
HTTP pipeline: the operations of the package's OpenAPI document (:mod:`.openapi`), answered in
the document's error envelopes (:mod:`.base`), with behaviour for accounts and OTPs
(:mod:`.accounts`), payment agents (:mod:`.agents`) and the legacy account (:mod:`.legacy`)."""
