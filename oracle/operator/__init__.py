"""Role: the operator. The round state machine (open, close, score, publish, propose, activate), crash-safe because
its state is read from the chain and the store. Imports the layers below, never another role."""
