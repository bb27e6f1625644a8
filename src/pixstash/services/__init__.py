"""Use cases. Services depend on ports (Protocols) only, never on a concrete backend."""
