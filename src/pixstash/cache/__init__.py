"""State servers must share: single-flight locks (memory://, redis://)."""
