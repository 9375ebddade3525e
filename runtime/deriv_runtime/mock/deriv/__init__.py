"""Deriv's behaviour on the mock core: the Options WebSocket API, the REST API, OAuth and OTPs."""
