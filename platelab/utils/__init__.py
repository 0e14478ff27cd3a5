"""Small helpers shared by every layer (standard library, pydantic and PyYAML only)."""
