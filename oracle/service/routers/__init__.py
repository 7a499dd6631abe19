"""The HTTP routes, one module per resource: service, rounds, results, models, submissions."""
