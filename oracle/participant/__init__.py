"""Role: the participant. Models, stakes (EIP-2612 permit), withdrawals, settlement, signed submissions, and the
HTTP client for the operator's service. Imports the layers below, never another role."""
