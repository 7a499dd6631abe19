"""Role: the auditor (anyone). Recomputes a published bundle and checks it against the chain, round by round or
watching proposals as they come. Imports the layers below, never another role."""
