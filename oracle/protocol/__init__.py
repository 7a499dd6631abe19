"""Layer 3, protocol: the signed documents participants and the operator exchange, and the inbox.

``submission`` (EIP-712 submissions and the inbox that stores them), ``receipt`` (operator-signed receipts).
Imports at most chain and bundle.
"""
