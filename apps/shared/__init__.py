"""Plumbing every app imports (settings base, logging, health, sidecar clients). Not an app itself."""
