"""Domain: ids, value objects and variant specs. No I/O; imports nothing of ours
except the error tree."""
