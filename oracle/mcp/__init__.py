"""Agent-ready: ``tourney mcp`` serves the participant's actions to AI agents over the Model Context Protocol.

Sits at the service/cli level of the layer rule: it imports the participant library (and the auditor, to verify a
round) and nothing imports it but the command line and the demo. ``agent`` is a scripted participant that acts
only as an MCP client of ``tourney mcp``.

    errors    structured tool errors (code, message, next step)     limits   the spending limit
    policy    which chains the server talks to                      journal  idempotent value-moving calls
    outputs   the tools' result models (outputSchema)               tools    the tools over oracle.participant
    server    MCPServer, resources and the guard middleware         agent    the scripted agent (an MCP client)
"""
