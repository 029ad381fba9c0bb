"""`orderflow conform`: a stateful conformance check of any deployment of the order API against
the spec's rules as the reference server implements them (``reference_api``'s tables are the
expected answers). It sits beside ``loadtest`` (whose identities it reuses) and above
``reference_api``; nothing below imports it.

Modules: ``catalogue`` (every rule, its id and expected outcomes), ``driver`` (HTTP and WebSocket
client with the request and time bounds), ``ledger`` (what each rule's checks observed),
``shapes`` (the documented response shapes), ``context`` (what every check shares: the
identities to act as, the run's orders), ``orders`` (building orders in a status through the
public API), ``observe`` (what must hold after every change), the check groups ``table``,
``otp_checks``, ``read_checks``, ``ws_checks``, the Hypothesis ``machine``, ``runner`` (the phases,
in order) and the output ``report`` and ``junit``.
"""
