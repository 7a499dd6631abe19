"""The operator's HTTP service (``tourney serve``): read rounds and results, deliver signed submissions, get
operator-signed receipts that make censorship provable. See :mod:`oracle.service.app`."""

from oracle.protocol.receipt import Receipt, ReceiptProblem, check_receipts, sign_receipt, verify_receipt

__all__ = ["Receipt", "ReceiptProblem", "check_receipts", "sign_receipt", "verify_receipt"]
